-- How each indicator unit (say a tract) apportions to the areas of analysis (say
-- neighbourhoods): weight = the share of the unit's area inside the area, measured in
-- var('projected_crs') (area-weighted areal interpolation). A count apportions as
-- weight x count; weights of a unit sum to the share of it inside the jurisdiction.
-- When the indicators come on the areas' own geography (no separate units), every area is its
-- own unit with weight 1, so the indicators pass through unchanged.
{%- set crs = var('projected_crs') %}
with

units as (

    select unit_id, geom from {{ ref('stg_boundaries__indicator_units') }}

),

areas as (

    select area_id, geom from {{ ref('stg_boundaries__areas') }}

),

same_geography as (

    select
        area_id                                 as unit_id,
        area_id,
        1.0                                     as weight,
        'identity'                              as method
    from areas
    where not exists (select 1 from units)

),

projected_units as (

    select
        unit_id,
        ST_Transform(geom, 'EPSG:4326', {{ sql_string(crs) }}, always_xy := true) as geom
    from units

),

projected_areas as (

    select
        area_id,
        ST_Transform(geom, 'EPSG:4326', {{ sql_string(crs) }}, always_xy := true) as geom
    from areas

),

unit_pieces as (

    select
        projected_units.unit_id,
        projected_areas.area_id,
        ST_Area(ST_Intersection(projected_units.geom, projected_areas.geom))
            / nullif(ST_Area(projected_units.geom), 0) as weight
    from projected_units
    inner join projected_areas
        on ST_Intersects(projected_units.geom, projected_areas.geom)

),

area_weighted as (

    select
        unit_id,
        area_id,
        weight,
        'area'                                  as method
    from unit_pieces
    -- Neighbours that only share an edge intersect in a line (area 0), but two boundary files
    -- never trace a shared street exactly: reprojection and digitizing leave slivers along it
    -- (under a square metre for a shared source, far more for independent ones). A piece under
    -- var('sliver_share') of its unit is such an artefact, not territory: it is dropped, so an
    -- area only draws on the units it really overlaps.
    where weight >= {{ var('sliver_share') }}

),

final as (

    select * from same_geography
    union all
    select * from area_weighted

)

select * from final
