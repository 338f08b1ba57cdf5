-- One row per 311 service request with its point.
with

source as (

    select * from {{ source('service_requests', 'service_requests') }}

),

renamed as (

    select
        request_id,
        request_type,
        request_subtype,
        status,
        is_closed,
        created_at,
        closed_at,
        address,
        longitude,
        latitude,
        ST_Point(longitude, latitude)                             as geom,
        {{ lineage_columns() }}
    from source

)

select * from renamed
