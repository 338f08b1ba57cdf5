-- The Gi* neighbourhood of every grid cell: the cells whose centres lie within
-- var('hotspot_band_m') of its centre, the cell itself included (the "star" of Gi*), as binary
-- weights. With the default band of 1.5 cell spacings that is the ring of adjacent cells
-- (6 hexagons, 8 squares) plus the cell. Found by lattice offsets and an equality join rather
-- than a distance join over all pairs. A 1 micrometre slack keeps a neighbour at exactly the
-- band distance when floating-point rounding puts it a hair beyond.
with

cells as (

    select cell_id, cell_row, cell_col, centre_x, centre_y
    from {{ ref('int_grid_cells') }}

),

row_offsets as (

    select unnest(range(
        -(cast(ceil({{ var('hotspot_band_m') }} / {{ grid_row_spacing_m() }}) as bigint) + 1),
        cast(ceil({{ var('hotspot_band_m') }} / {{ grid_row_spacing_m() }}) as bigint) + 2
    ))                                                                  as row_offset

),

col_offsets as (

    select unnest(range(
        -(cast(ceil({{ var('hotspot_band_m') }} / {{ grid_cell_m() }}) as bigint) + 1),
        cast(ceil({{ var('hotspot_band_m') }} / {{ grid_cell_m() }}) as bigint) + 2
    ))                                                                  as col_offset

),

candidates as (

    select
        cells.*,
        cells.cell_row + row_offsets.row_offset                         as other_row,
        cells.cell_col + col_offsets.col_offset                         as other_col
    from cells
    cross join row_offsets
    cross join col_offsets

),

pairs as (

    select
        candidates.cell_id,
        others.cell_id                                                  as neighbour_cell_id,
        sqrt(
            pow(others.centre_x - candidates.centre_x, 2)
            + pow(others.centre_y - candidates.centre_y, 2)
        )                                                               as distance_m
    from candidates
    inner join cells as others
        on candidates.other_row = others.cell_row
        and candidates.other_col = others.cell_col

),

final as (

    select cell_id, neighbour_cell_id, distance_m
    from pairs
    where distance_m <= {{ var('hotspot_band_m') }} + 1e-6

)

select * from final
