-- One row per social-service facility with the area it lies in (assigned spatially).
with

facilities as (

    select * from {{ ref('stg_facilities__facilities') }}

),

assignment as (

    select * from {{ ref('int_facilities__area_assigned') }}

),

final as (

    select
        facilities.facility_id,
        facilities.facility_name                as name,
        facilities.facility_type,
        facilities.facility_type_raw,
        facilities.address,
        facilities.geom,
        assignment.area_id,
        assignment.assignment_method,
        facilities._source_file,
        facilities._row_number,
        facilities._ingested_at,
        facilities._load_id
    from facilities
    left join assignment
        on facilities.facility_id = assignment.facility_id

)

select * from final
