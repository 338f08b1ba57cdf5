-- The analysis-grid cell of every offense located in the jurisdiction (an area and a point),
-- by arithmetic on its projected coordinates (macros/analysis_grid.sql): no spatial join, so it
-- stays fast at a million points. Reads fct_incidents so that the month (local time) and the
-- category are the ones every other mart counts by. A cell is a function of the offense's row
-- alone (the lattice is anchored at the CRS origin), so the table is incremental by police
-- partition like fct_incidents (macros/incremental_incidents.sql).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='incident_key',
        on_schema_change='fail',
        post_hook="{{ delete_gone_incidents(ref('fct_incidents')) }}",
    )
}}
{%- set crs = var('projected_crs') %}
with

offenses as (

    select offense_key, incident_key, _load_id, occurred_month, category, is_sensitive, geom
    from {{ ref('fct_incidents') }}
    where area_id is not null
        and geom is not null
        and occurred_month is not null
        {% if is_incremental() %}
        and incident_key in {{ changed_incident_keys(ref('fct_incidents')) }}
        {% endif %}

),

projected as (

    select
        offense_key,
        incident_key,
        _load_id,
        occurred_month,
        category,
        is_sensitive,
        ST_Transform(geom, 'EPSG:4326', {{ sql_string(crs) }}, always_xy := true)
                                                                as point_projected
    from offenses

),

coordinates as (

    select
        offense_key,
        incident_key,
        _load_id,
        occurred_month,
        category,
        is_sensitive,
        ST_X(point_projected)                                           as x,
        ST_Y(point_projected)                                           as y
    from projected

),

assigned as (

    select
        *,
        {{ grid_cell_of('x', 'y') }}                                    as cell
    from coordinates

),

final as (

    select
        offense_key,
        {{ grid_cell_id('cell.cell_row', 'cell.cell_col') }}            as cell_id,
        cell.cell_row,
        cell.cell_col,
        occurred_month                                                  as month,
        category,
        is_sensitive,
        x,
        y,
        incident_key,
        _load_id
    from assigned

)

select * from final
