-- One row per area (census tract): polygon, size and the ACS indicators.
with

areas as (

    select * from {{ ref('stg_boundaries__areas') }}

),

acs as (

    select * from {{ ref('stg_census__acs_tract') }}

),

final as (

    select
        areas.area_id,
        coalesce(areas.area_name, acs.census_name)                      as area_name,
        areas.geom,
        ST_Area(
            ST_Transform(areas.geom, 'EPSG:4326', '{{ var("projected_crs") }}', always_xy := true)
        ) / 1e6                                                         as area_km2,
        acs.population,
        acs.poverty_universe,
        acs.poverty_count,
        acs.labor_force,
        acs.unemployed,
        cast(acs.poverty_count as double) / nullif(acs.poverty_universe, 0) as poverty_rate,
        cast(acs.unemployed as double) / nullif(acs.labor_force, 0)    as unemployment_rate,
        acs.median_household_income,
        areas._source_file,
        areas._row_number,
        areas._ingested_at,
        areas._load_id
    from areas
    left join acs
        on areas.area_id = acs.area_id

)

select * from final
