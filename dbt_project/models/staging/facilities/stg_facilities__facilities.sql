-- One row per social-service facility with its point.
with

source as (

    select * from {{ source('facilities', 'facilities') }}

),

renamed as (

    select
        facility_id,
        facility_name,
        facility_type,
        facility_type_raw,
        address,
        longitude,
        latitude,
        ST_Point(longitude, latitude)                             as geom,
        {{ lineage_columns() }}
    from source

)

select * from renamed
