-- One row per offense as published by the Seattle Police Department, renamed and typed.
-- Rows the quality rules quarantined never enter staging: anti-join on the landing lineage key.
with

accepted as not materialized (

    {{ without_quarantined_rows('police_incidents') }}

),

sequenced as (

    -- offense_seq: position of the offense within its report by the publisher's Offense ID, so
    -- keys stay stable when a portal re-sorts its export. Computed on the lineage key only and
    -- joined back, so the window never sorts the wide rows.
    select
        _load_id,
        _row_number,
        row_number() over (
            partition by nullif(trim("Report Number"), '')
            order by try_cast(trim("Offense ID") as bigint), trim("Offense ID"), _row_number
        )                                                       as offense_seq
    from accepted

),

renamed as (

    select
        nullif(trim("Report Number"), '')                       as report_number,
        sequenced.offense_seq,
        nullif(trim("Offense ID"), '')                          as source_offense_id,

        timezone(
            '{{ var("timezone") }}',
            try_strptime(trim("Offense Start DateTime"), '%m/%d/%Y %I:%M:%S %p')
        )                                                       as occurred_at,
        timezone(
            '{{ var("timezone") }}',
            try_strptime(trim("Offense End DateTime"), '%m/%d/%Y %I:%M:%S %p')
        )                                                       as offense_ended_at,
        timezone(
            '{{ var("timezone") }}',
            try_strptime(trim("Report DateTime"), '%m/%d/%Y %I:%M:%S %p')
        )                                                       as reported_at,

        nullif(upper(trim("Offense Code")), '')                 as offense_code,
        nullif(trim("Offense"), '')                             as offense_desc,
        nullif(trim("Offense Parent Group"), '')                as offense_parent_group,
        nullif(upper(trim("Group A B")), '')                    as nibrs_group_published,
        nullif(trim("Crime Against Category"), '')              as crime_against_published,

        nullif(trim("Precinct"), '')                            as precinct,
        nullif(trim("Sector"), '')                              as sector,
        nullif(trim("Beat"), '')                                as beat,
        nullif(trim("MCPP"), '')                                as mcpp,
        nullif(trim("100 Block Address"), '')                   as block_address,

        try_cast(trim("Longitude") as double)                   as longitude,
        try_cast(trim("Latitude") as double)                    as latitude,

        -- the published values, untouched
        "Report Number"                                         as raw_report_number,
        "Offense ID"                                            as raw_offense_id,
        "Offense Start DateTime"                                as raw_offense_start_datetime,
        "Offense End DateTime"                                  as raw_offense_end_datetime,
        "Report DateTime"                                       as raw_report_datetime,
        "Offense Code"                                          as raw_offense_code,
        "Offense"                                               as raw_offense,
        "Longitude"                                             as raw_longitude,
        "Latitude"                                              as raw_latitude,

        accepted._source_file,
        accepted._row_number,
        accepted._ingested_at,
        accepted._load_id

    from accepted
    inner join sequenced
        on accepted._load_id = sequenced._load_id
        and accepted._row_number = sequenced._row_number

),

keyed as (

    select
        'seattle_spd:' || report_number                         as incident_key,
        'seattle_spd'                                           as source,
        'Seattle Police Department'                             as agency,
        *
    from renamed

),

final as (

    select
        incident_key || ':' || offense_seq                      as offense_key,
        incident_key,
        offense_seq,
        source,
        agency,
        report_number,
        source_offense_id,
        occurred_at,
        offense_ended_at,
        reported_at,
        offense_code,
        offense_desc,
        offense_parent_group,
        nibrs_group_published,
        crime_against_published,
        precinct,
        sector,
        beat,
        mcpp,
        block_address,
        longitude,
        latitude,
        case
            when longitude is not null and latitude is not null
                then ST_Point(longitude, latitude)
        end                                                     as geom,
        raw_report_number,
        raw_offense_id,
        raw_offense_start_datetime,
        raw_offense_end_datetime,
        raw_report_datetime,
        raw_offense_code,
        raw_offense,
        raw_longitude,
        raw_latitude,
        _source_file,
        _row_number,
        _ingested_at,
        _load_id
    from keyed

)

select * from final
