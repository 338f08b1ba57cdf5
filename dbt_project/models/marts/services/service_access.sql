-- Access to social services per area x facility type (the five canonical types and 'all'):
-- straight-line distance to the nearest facility, facilities in the area per 10,000 residents
-- and the two-step floating catchment (2SFCA) score of Luo & Wang (2003).
-- Distances run from the area's geometric centroid in var('projected_crs'): the warehouse has
-- no sub-area population, so a population-weighted centroid cannot be built. Areas x
-- facilities is hundreds x tens of rows, so the full distance matrix is cheap.
-- A jurisdiction without a facility list (var('absent_sources')) gets no rows: a score of 0
-- would read as "no access" where access is unknown.
{#- the canonical types of crimemap/ingestion/facilities.py FACILITY_TYPES #}
{%- set facility_types = [
    'mental_health', 'substance_use', 'shelter', 'clinic', 'youth_services'
] %}
{%- set crs = var('projected_crs') %}
with

areas as (

    select
        area_id,
        population,
        ST_Centroid(
            ST_Transform(geom, 'EPSG:4326', {{ sql_string(crs) }}, always_xy := true)
        )                                               as origin
    from {{ ref('dim_area') }}

),

facilities as (

    -- every usable facility counts, also one within the boundary tolerance that no area
    -- covers (area_id NULL): it still serves the residents nearby
    select
        facility_id,
        facility_type,
        area_id,
        ST_Transform(geom, 'EPSG:4326', {{ sql_string(crs) }}, always_xy := true) as location
    from {{ ref('dim_facility') }}
    where geom is not null

),

facility_types as (

    select unnest([
        {%- for t in facility_types %}
        {{ sql_string(t) }}{{ ',' if not loop.last }}
        {%- endfor %}
    ])                                                  as facility_type
    union all
    select 'all'

),

-- one row per facility and each type it counts under: its own and 'all'
typed_facilities as (

    select facility_id, facility_type, area_id, location from facilities
    union all
    select facility_id, 'all' as facility_type, area_id, location from facilities

),

distances as (

    select
        areas.area_id,
        typed_facilities.facility_type,
        typed_facilities.facility_id,
        -- residents a facility's catchment counts; unknown population counts as none
        coalesce(areas.population, 0)                   as population,
        ST_Distance(areas.origin, typed_facilities.location) as distance_m
    from areas
    cross join typed_facilities

),

in_catchment as (

    select * from distances
    where distance_m <= {{ var('catchment_m') }}

),

-- 2SFCA step 1: supply-to-demand ratio of each facility (supply 1), over the residents of the
-- areas whose centroid lies within the catchment; no residents there: the facility serves
-- nobody and contributes nothing
facility_ratios as (

    select
        facility_type,
        facility_id,
        case when sum(population) > 0 then 1.0 / sum(population) else 0.0 end as supply_ratio
    from in_catchment
    group by facility_type, facility_id

),

-- 2SFCA step 2: sum the ratios of the facilities within reach of each area
accessibility as (

    select
        in_catchment.area_id,
        in_catchment.facility_type,
        count(*)                                        as facilities_in_catchment,
        sum(facility_ratios.supply_ratio)               as access_ratio
    from in_catchment
    inner join facility_ratios
        on in_catchment.facility_type = facility_ratios.facility_type
        and in_catchment.facility_id = facility_ratios.facility_id
    group by in_catchment.area_id, in_catchment.facility_type

),

nearest as (

    -- facilities equally near (to the millimetre: coordinate transforms leave float noise)
    -- go to the lowest facility_id, so reruns agree
    select
        area_id,
        facility_type,
        min(distance_m)                                 as nearest_facility_m,
        arg_min(facility_id, (round(distance_m, 3), facility_id)) as nearest_facility_id
    from distances
    group by area_id, facility_type

),

in_area as (

    select area_id, facility_type, count(*) as facilities_in_area
    from typed_facilities
    where area_id is not null
    group by area_id, facility_type

),

final as (

    select
        areas.area_id,
        facility_types.facility_type,
        areas.population,
        ST_X(areas.origin)                              as origin_x,
        ST_Y(areas.origin)                              as origin_y,
        nearest.nearest_facility_m,
        nearest.nearest_facility_id,
        coalesce(in_area.facilities_in_area, 0)         as facilities_in_area,
        case
            when areas.population > 0
                then coalesce(in_area.facilities_in_area, 0) / areas.population * 10000
        end                                             as facilities_per_10k,
        cast({{ var('catchment_m') }} as double)        as catchment_m,
        coalesce(accessibility.facilities_in_catchment, 0) as facilities_in_catchment,
        coalesce(accessibility.access_ratio, 0) * 10000 as access_2sfca
    from areas
    cross join facility_types
    left join nearest
        on areas.area_id = nearest.area_id
        and facility_types.facility_type = nearest.facility_type
    left join in_area
        on areas.area_id = in_area.area_id
        and facility_types.facility_type = in_area.facility_type
    left join accessibility
        on areas.area_id = accessibility.area_id
        and facility_types.facility_type = accessibility.facility_type
    {%- if 'facilities' in var('absent_sources') %}
    where false
    {%- endif %}

)

select * from final
