-- The area of every staged facility, assigned with the same spatial rules as incidents
-- (macros/assign_points_to_areas.sql). Exactly one row per staged facility.
with

facilities as (

    select facility_id, geom from {{ ref('stg_facilities__facilities') }}

),

areas as (

    select area_id, geom from {{ ref('stg_boundaries__areas') }}

),

assignment as (

    {{ assign_points_to_areas('facilities', 'facility_id', 'areas') }}

),

final as (

    select
        facility_id,
        area_id,
        assignment_method,
        covering_area_count,
        snap_distance_m
    from assignment

)

select * from final
