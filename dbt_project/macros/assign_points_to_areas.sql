{% macro assign_points_to_areas(points, key_column, areas, carry=[]) -%}
{#-
    Spatially assign every point of `points` (a relation or CTE with `key_column` and a
    lon/lat `geom`) to exactly one area of `areas` (a relation with `area_id` and a lon/lat
    polygon `geom`). Returns one row per point: key, area_id, assignment_method,
    covering_area_count, snap_distance_m, then the `carry` columns of the point unchanged. Source columns naming an area are never trusted.

    1. covered: the areas whose polygon covers the point (ST_Covers semantics: boundary
       included). The test runs in the source coordinates (EPSG:4326), where GeoJSON edges are
       straight and neighbouring polygons share identical vertices, so a point exactly on a
       shared edge is covered by both neighbours; reprojecting first would bend the edges by a
       fraction of a millimetre and silently push such a point to one side. A slack of
       var('edge_tolerance_deg') (1e-9 degrees, ~0.1 mm) absorbs floating-point noise of points
       computed to lie on an edge; with 0 the join is exactly ST_Covers (for a point and a
       polygon, ST_DWithin(.., 0) = ST_Intersects = ST_Covers).
       A point strictly inside a polygon goes to that polygon, even when the slack also reaches
       a neighbour's edge; a point exactly on a polygon's boundary comes next, and only among
       equals (a point on a shared edge or vertex) the LOWEST area_id wins. Deterministic,
       independent of row order and thread scheduling.
    2. snapped: a point covered by no area (a hairline gap between polygons) goes to the
       nearest area within var('snap_tolerance_m') metres, measured in var('projected_crs');
       equal distances again go to the lowest area_id.
    3. unassigned: no area within the tolerance (or no coordinates): area_id NULL.

    Both joins are executed by DuckDB spatial's SPATIAL_JOIN operator (an R-tree over the
    ~100 polygons probed by the points); the areas are transformed to the projected CRS once,
    and only the few uncovered points are transformed at all.
-#}
{%- set crs = var('projected_crs') -%}
with

_points as (

    select
        {{ key_column }} as point_key,
        geom{% for column in carry %},
        {{ column }}{% endfor %}
    from {{ points }}

),

_areas as (

    select
        area_id,
        geom,
        ST_Transform(geom, 'EPSG:4326', {{ sql_string(crs) }}, always_xy := true) as geom_projected
    from {{ areas }}
    where area_id is not null and geom is not null

),

_covering as (

    select
        p.point_key,
        -- 0 strictly inside, 1 on the boundary, 2 within the slack only; then the lowest id
        arg_min(
            a.area_id,
            {
                'position': case
                    when ST_Contains(a.geom, p.geom) then 0
                    when ST_Covers(a.geom, p.geom) then 1
                    else 2
                end,
                'area_id': a.area_id
            }
        )                       as area_id,
        count(*)                as covering_area_count
    from _points as p
    inner join _areas as a
        on ST_DWithin(a.geom, p.geom, {{ var('edge_tolerance_deg') }})
    group by p.point_key

),

_uncovered as (

    select
        p.point_key,
        ST_Transform(p.geom, 'EPSG:4326', {{ sql_string(crs) }}, always_xy := true) as geom_projected
    from _points as p
    anti join _covering as c
        on p.point_key = c.point_key
    where p.geom is not null

),

_snapped as (

    select
        u.point_key,
        a.area_id,
        ST_Distance(a.geom_projected, u.geom_projected) as snap_distance_m
    from _uncovered as u
    inner join _areas as a
        on ST_DWithin(a.geom_projected, u.geom_projected, {{ var('snap_tolerance_m') }})
    qualify row_number() over (
        partition by u.point_key
        order by ST_Distance(a.geom_projected, u.geom_projected), a.area_id
    ) = 1

)

select
    p.point_key                                             as {{ key_column }},
    coalesce(c.area_id, s.area_id)                          as area_id,
    case
        when c.area_id is not null then 'covered'
        when s.area_id is not null then 'snapped'
        else 'unassigned'
    end                                                     as assignment_method,
    coalesce(c.covering_area_count, 0)                      as covering_area_count,
    s.snap_distance_m{% for column in carry %},
    p.{{ column }}{% endfor %}
from _points as p
left join _covering as c on p.point_key = c.point_key
left join _snapped as s on p.point_key = s.point_key
{%- endmacro %}
