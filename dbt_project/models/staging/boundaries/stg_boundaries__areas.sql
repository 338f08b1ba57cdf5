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
        {{ lineage_columns() }}
    from source

)

select * from renamed
