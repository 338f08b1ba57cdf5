-- One row per social-service facility, typed; quarantined rows are excluded.
with

source as (

    select * from {{ source('raw', 'facilities') }}

),

quarantined as (

    select _load_id, _row_number from {{ source('quarantine', 'facilities') }}

),

accepted as (

    select source.*
    from source
    anti join quarantined
        on source._load_id = quarantined._load_id
        and source._row_number = quarantined._row_number

),

renamed as (

    select
        nullif(trim(facility_id), '')                             as facility_id,
        nullif(trim(name), '')                                    as facility_name,
        nullif(trim(facility_type), '')                           as facility_type,
        nullif(trim(address), '')                                 as address,
        try_cast(trim(longitude) as double)                       as longitude,
        try_cast(trim(latitude) as double)                        as latitude,
        longitude                                                 as raw_longitude,
        latitude                                                  as raw_latitude,
        _source_file,
        _row_number,
        _ingested_at,
        _load_id
    from accepted

),

final as (

    select
        facility_id,
        facility_name,
        facility_type,
        address,
        longitude,
        latitude,
        case
            when longitude is not null and latitude is not null
                then ST_Point(longitude, latitude)
        end                                                       as geom,
        raw_longitude,
        raw_latitude,
        _source_file,
        _row_number,
        _ingested_at,
        _load_id
    from renamed

)

select * from final
