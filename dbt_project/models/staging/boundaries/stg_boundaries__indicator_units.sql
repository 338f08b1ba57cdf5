-- One row per unit of the geography the indicators come in (say tracts), when it is not the
-- areas' own; no rows otherwise.
with

source as (

    select * from {{ source('boundaries', 'indicator_units') }}

),

renamed as (

    select
        area_id                                                   as unit_id,
        area_name                                                 as unit_name,
        ST_GeomFromWKB(geom_wkb)                                  as geom,
        source_rows,
        geometry_repaired,
        raw_id,
        source_crs,
        {{ lineage_columns() }}
    from source

)

select * from renamed
