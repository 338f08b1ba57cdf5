-- One row per social-service facility, typed; quarantined rows are excluded.
with

accepted as (

    {{ without_quarantined_rows('facilities') }}

),

renamed as (

    select
        nullif(trim(facility_id), '')                             as facility_id,
        nullif(trim(name), '')                                    as facility_name,
        nullif(trim(facility_type), '')                           as facility_type,
        nullif(trim(address), '')                                 as address,
        try_cast(trim(longitude) as double)                       as longitude,
        try_cast(trim(latitude) as double)                        as latitude,
        longitude                                                 as raw_longitude,
        latitude                                                  as raw_latitude,
        _source_file,
        _row_number,
        _ingested_at,
        _load_id
    from accepted

),

final as (

    select
        facility_id,
        facility_name,
        facility_type,
        address,
        longitude,
        latitude,
        case
            when longitude is not null and latitude is not null
                then ST_Point(longitude, latitude)
        end                                                       as geom,
        raw_longitude,
        raw_latitude,
        _source_file,
        _row_number,
        _ingested_at,
        _load_id
    from renamed

)

select * from final
