-- One row per cell of the analysis grid covering the jurisdiction: the polygon in EPSG:4326
-- like every mart geometry, the centre and sizes in var('projected_crs') metres.
{%- set crs = var('projected_crs') %}
with

cells as (

    select * from {{ ref('int_grid_cells') }}

),

final as (

    select
        cell_id,
        cell_row,
        cell_col,
        {{ sql_string(var("grid_shape")) }}                                       as grid_shape,
        {{ grid_cell_m() }}                                             as cell_size_m,
        centre_x,
        centre_y,
        ST_X(ST_Transform(
            ST_Point(centre_x, centre_y), {{ sql_string(crs) }}, 'EPSG:4326', always_xy := true
        ))                                                              as centre_lon,
        ST_Y(ST_Transform(
            ST_Point(centre_x, centre_y), {{ sql_string(crs) }}, 'EPSG:4326', always_xy := true
        ))                                                              as centre_lat,
        cell_area_m2,
        area_in_jurisdiction_m2,
        ST_Transform(geom_projected, {{ sql_string(crs) }}, 'EPSG:4326', always_xy := true)
                                                                        as geom
    from cells

)

select * from final
