-- The area of every staged offense, assigned spatially (never from a source column):
-- covered -> the polygon strictly containing it, the lowest area_id only when on a shared edge;
-- in no area (a gap, or just outside a generalized boundary) -> the nearest area
-- within var('snap_tolerance_m') ("snapped"); otherwise unassigned. Exactly one row per staged
-- row, keyed by offense_key (kept narrow: fct_incidents joins it back to staging).
-- See macros/assign_points_to_areas.sql for the method. Incremental by police partition
-- (macros/incremental_incidents.sql): only the incidents of changed partitions are assigned.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='incident_key',
        on_schema_change='fail',
        post_hook="{{ delete_gone_incidents(ref('stg_police__offenses')) }}",
    )
}}

with

incidents as (

    select offense_key, incident_key, _load_id, geom from {{ ref('stg_police__offenses') }}
    {% if is_incremental() %}
    where incident_key in {{ changed_incident_keys(ref('stg_police__offenses')) }}
    {% endif %}

),

areas as (

    select area_id, geom from {{ ref('stg_boundaries__areas') }}

),

assignment as (

    {{ assign_points_to_areas('incidents', 'offense_key', 'areas', ['incident_key', '_load_id']) }}

),

final as (

    select
        offense_key,
        incident_key,
        area_id,
        assignment_method,
        covering_area_count,
        snap_distance_m,
        _load_id
    from assignment

)

select * from final
