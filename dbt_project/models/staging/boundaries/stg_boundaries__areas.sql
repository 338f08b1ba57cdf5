-- One row per area, the unit of analysis: merged, repaired and in EPSG:4326 already.
with

source as (

    select * from {{ source('boundaries', 'areas') }}

),

renamed as (

    select
        area_id,
        area_name,
        ST_GeomFromWKB(geom_wkb)                                  as geom,
        source_rows,
        geometry_repaired,
        raw_id,
        source_crs,
        _source_file,
        _row_number,
        _ingested_at,
        _load_id
    from source

)

select * from renamed
