-- The area of every staged 311 request, assigned with the same spatial rules as incidents
-- (macros/assign_points_to_areas.sql). Exactly one row per staged request.
with

requests as (

    select request_id, geom from {{ ref('stg_service_requests__requests') }}

),

areas as (

    select area_id, geom from {{ ref('stg_boundaries__areas') }}

),

assignment as (

    {{ assign_points_to_areas('requests', 'request_id', 'areas') }}

),

final as (

    select
        request_id,
        area_id,
        assignment_method
    from assignment

)

select * from final
