-- Getis-Ord Gi* per grid cell x month (docs/analytics/hotspots.md), exactly as PySAL computes
-- esda.G_Local(y, w, transform='B', star=True): binary distance-band weights with the cell
-- itself (int_grid_cell_neighbours); N = the cells of the month, ybar and s (population
-- standard deviation) over them, card_i = neighbours including self:
--   z_i = (sum_j w_ij y_j - card_i ybar) / (s sqrt(card_i (N - card_i) / (N - 1)))
-- Two-sided normal p, Benjamini-Hochberg q over the cells of the month, and Esri's confidence
-- bins on q. A month with all counts equal (s = 0), or a cell whose neighbourhood is the whole
-- grid, has no z (NULL): p and q NULL, bin 0.
with

cell_months as (

    select cell_id, month, incident_count from {{ ref('int_grid_cell_months') }}

),

neighbours as (

    select cell_id, neighbour_cell_id from {{ ref('int_grid_cell_neighbours') }}

),

month_sums as (

    -- exact integer sums: avg() and stddev_pop() over doubles merge parallel partial results
    -- in no fixed order, so their last bits (and every z) would vary between builds
    select
        month,
        count(*)                                                        as cells_in_month,
        sum(cast(incident_count as hugeint))                            as count_sum,
        sum(cast(incident_count as hugeint) * incident_count)           as count_square_sum
    from cell_months
    group by month

),

month_stats as (

    select
        month,
        cells_in_month,
        cast(count_sum as double) / cells_in_month                      as month_mean_count,
        -- population sd = sqrt(N sum(y^2) - (sum y)^2) / N, the difference exact
        sqrt(cast(cells_in_month * count_square_sum - count_sum * count_sum as double))
            / cells_in_month                                            as month_sd_count
    from month_sums

),

neighbourhoods as (

    select
        neighbours.cell_id,
        cell_months.month,
        count(*)                                                        as neighbour_cells,
        cast(sum(cell_months.incident_count) as bigint)                 as neighbourhood_count
    from neighbours
    inner join cell_months
        on neighbours.neighbour_cell_id = cell_months.cell_id
    group by neighbours.cell_id, cell_months.month

),

scored as (

    select
        cell_months.cell_id,
        cell_months.month,
        cell_months.incident_count,
        neighbourhoods.neighbour_cells,
        neighbourhoods.neighbourhood_count,
        neighbourhoods.neighbour_cells * month_stats.month_mean_count
            as expected_neighbourhood_count,
        month_stats.cells_in_month,
        month_stats.month_mean_count,
        month_stats.month_sd_count,
        case
            when month_stats.month_sd_count > 0
                and month_stats.cells_in_month > neighbourhoods.neighbour_cells
                then (
                    neighbourhoods.neighbourhood_count
                    - neighbourhoods.neighbour_cells * month_stats.month_mean_count
                ) / (
                    month_stats.month_sd_count * sqrt(
                        neighbourhoods.neighbour_cells
                        * (month_stats.cells_in_month - neighbourhoods.neighbour_cells)
                        / (month_stats.cells_in_month - 1)
                    )
                )
        end                                                             as gi_star_z
    from cell_months
    inner join neighbourhoods
        on cell_months.cell_id = neighbourhoods.cell_id
        and cell_months.month = neighbourhoods.month
    inner join month_stats
        on cell_months.month = month_stats.month

),

tested as (

    select
        *,
        {{ normal_two_sided_p('gi_star_z') }}                           as p_value
    from scored

),

adjusted as (

    {{ benjamini_hochberg('tested', 'p_value', partition_by='month') }}

),

final as (

    select
        cell_id,
        month,
        incident_count,
        neighbour_cells,
        neighbourhood_count,
        expected_neighbourhood_count,
        cells_in_month,
        month_mean_count,
        month_sd_count,
        gi_star_z,
        p_value,
        q_value,
        cast(
            sign(coalesce(gi_star_z, 0)) * case
                when q_value <= 0.01 then 3
                when q_value <= 0.05 then 2
                when q_value <= 0.10 then 1
                else 0
            end
        as integer)                                                     as confidence_bin
    from adjusted

)

select * from final
