-- One row per area boundary (census tract), typed; quarantined features are excluded.
with

accepted as (

    {{ without_quarantined_rows('areas') }}

),

renamed as (

    select
        -- normalized key: digits only, the trailing 11 (drops a "1400000US" prefix),
        -- left-padded when a leading zero was lost
        {{ normalize_geoid('"GEOID"') }}                          as area_id,
        nullif(trim("NAME"), '')                                  as area_name,
        ST_MakeValid(ST_GeomFromGeoJSON(geometry))                as geom,
        "GEOID"                                                   as raw_geoid,
        _source_file,
        _row_number,
        _ingested_at,
        _load_id
    from accepted

)

select * from renamed
