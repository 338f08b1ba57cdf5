-- ACS indicators by geography unit, long form: one row per unit x indicator.
with

source as (

    select * from {{ source('census', 'area_indicators') }}

),

renamed as (

    select
        geoid                                                     as unit_id,
        geography_name,
        indicator,
        kind,
        estimate,
        moe,
        cv_pct,
        unreliable,
        numerator,
        denominator,
        _source_file,
        _row_number,
        _ingested_at,
        _load_id
    from source

)

select * from renamed
