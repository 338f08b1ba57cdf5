-- The cells of the analysis grid (macros/analysis_grid.sql) that cover the jurisdiction: every
-- lattice cell whose polygon comes within var('snap_tolerance_m') of an area polygon (at least
-- 1 m). The tolerance keeps the cell of a point snapped into an area from a hairline gap, so
-- every offense with an area has its cell here. Geometry in var('projected_crs') metres.
{%- set crs = var('projected_crs') %}
with

areas as (

    select
        area_id,
        ST_Transform(geom, 'EPSG:4326', {{ sql_string(crs) }}, always_xy := true)  as geom_projected
    from {{ ref('stg_boundaries__areas') }}
    where geom is not null

),

extent as (

    select
        min(ST_XMin(geom_projected))                                    as x_min,
        min(ST_YMin(geom_projected))                                    as y_min,
        max(ST_XMax(geom_projected))                                    as x_max,
        max(ST_YMax(geom_projected))                                    as y_max
    from areas

),

lattice_rows as (

    -- two spare rows and columns each side: a cell reaches up to one spacing past its centre
    select unnest(range(
        cast(floor(y_min / {{ grid_row_spacing_m() }}) as bigint) - 2,
        cast(ceil(y_max / {{ grid_row_spacing_m() }}) as bigint) + 3
    ))                                                                  as cell_row
    from extent

),

lattice_cols as (

    select unnest(range(
        cast(floor(x_min / {{ grid_cell_m() }}) as bigint) - 2,
        cast(ceil(x_max / {{ grid_cell_m() }}) as bigint) + 3
    ))                                                                  as cell_col
    from extent

),

candidates as (

    select
        lattice_rows.cell_row,
        lattice_cols.cell_col,
        {{ grid_centre_x('lattice_rows.cell_row', 'lattice_cols.cell_col') }} as centre_x,
        {{ grid_centre_y('lattice_rows.cell_row') }}                    as centre_y
    from lattice_rows
    cross join lattice_cols

),

polygons as (

    select
        *,
        {{ grid_cell_polygon('centre_x', 'centre_y') }}                 as geom_projected
    from candidates

),

covering as (

    -- the part of the cell inside the areas (areas do not overlap; capped at the cell)
    select
        polygons.cell_row,
        polygons.cell_col,
        sum(ST_Area(ST_Intersection(polygons.geom_projected, areas.geom_projected)))
                                                                        as area_in_jurisdiction_m2
    from polygons
    inner join areas
        on ST_DWithin(
            polygons.geom_projected, areas.geom_projected,
            greatest({{ var('snap_tolerance_m') }}, 1)
        )
    group by polygons.cell_row, polygons.cell_col

),

final as (

    select
        {{ grid_cell_id('polygons.cell_row', 'polygons.cell_col') }}    as cell_id,
        polygons.cell_row,
        polygons.cell_col,
        polygons.centre_x,
        polygons.centre_y,
        {{ grid_cell_area_m2() }}                                       as cell_area_m2,
        least(covering.area_in_jurisdiction_m2, {{ grid_cell_area_m2() }})
                                                                        as area_in_jurisdiction_m2,
        polygons.geom_projected
    from polygons
    inner join covering
        on polygons.cell_row = covering.cell_row
        and polygons.cell_col = covering.cell_col

)

select * from final
