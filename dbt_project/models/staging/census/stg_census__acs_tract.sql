-- ACS 5-year estimates by census tract, typed. The Census API marks missing or suppressed
-- estimates with negative sentinels (-666666666, -999999999, -888888888, -222222222, ...):
-- every indicator here is a non-negative quantity, so negative values become NULL.
with

source as (

    select * from {{ source('raw', 'area_indicators') }}

),

renamed as (

    select
        lpad(trim(state), 2, '0')
            || lpad(trim(county), 3, '0')
            || lpad(trim(tract), 6, '0')                          as area_id,
        nullif(trim("NAME"), '')                                  as census_name,
        {{ census_estimate('"B01003_001E"', 'bigint') }}          as population,
        {{ census_estimate('"B17001_001E"', 'bigint') }}          as poverty_universe,
        {{ census_estimate('"B17001_002E"', 'bigint') }}          as poverty_count,
        {{ census_estimate('"B23025_003E"', 'bigint') }}          as labor_force,
        {{ census_estimate('"B23025_005E"', 'bigint') }}          as unemployed,
        {{ census_estimate('"B19013_001E"', 'double') }}          as median_household_income,
        state                                                     as raw_state,
        county                                                    as raw_county,
        tract                                                     as raw_tract,
        _source_file,
        _row_number,
        _ingested_at,
        _load_id
    from source

)

select * from renamed
