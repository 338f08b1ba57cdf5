-- Indicators by geography unit, long form: one row per unit x indicator (Census ACS tables, or
-- a jurisdiction's own table keyed by its areas or units).
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
        label,
        estimate,
        moe,
        cv_pct,
        unreliable,
        numerator,
        denominator,
        {{ lineage_columns() }}
    from source

)

select * from renamed
