-- Emerging hot spot classes per grid cell from its monthly Gi* series (hotspots), after Esri's
-- Emerging Hot Spot Analysis; rules and their order in docs/analytics/hotspots.md.
-- Significant hot / cold month: confidence_bin >= 2 / <= -2 (95 %, FDR-corrected).
-- Trend: Mann-Kendall on the gi_star_z series (months without a z are left out): S, variance
-- with the tie correction, Z with the continuity correction, two-sided normal p; a trend
-- counts when p < 0.05. Fewer than two months: every cell is 'no_pattern'.
with

cells as (

    select cell_id from {{ ref('dim_grid_cell') }}

),

series as (

    select
        cell_id,
        month,
        gi_star_z,
        -- Mann-Kendall counts ties: months whose z is mathematically equal must tie, whatever
        -- the float noise of the parallel sums behind them (it differs from run to run)
        round(gi_star_z, 9)                                             as gi_star_z_tied,
        confidence_bin >= 2                                             as is_hot,
        confidence_bin <= -2                                            as is_cold,
        row_number() over (partition by cell_id order by month)         as period
    from {{ ref('hotspots') }}

),

history as (

    select
        cell_id,
        count(*)                                                        as periods,
        min(month)                                                      as first_month,
        max(month)                                                      as final_month,
        count(*) filter (where is_hot)                                  as hot_periods,
        count(*) filter (where is_cold)                                 as cold_periods,
        -- the runs ending in the final month: periods after the last month that broke them
        count(*) - coalesce(max(period) filter (where not is_hot), 0)   as final_hot_run,
        count(*) - coalesce(max(period) filter (where not is_cold), 0)  as final_cold_run,
        arg_max(is_hot, month)                                          as final_hot,
        arg_max(is_cold, month)                                         as final_cold,
        arg_max(gi_star_z, month)                                       as final_z
    from series
    group by cell_id

),

mk_pairs as (

    -- Mann-Kendall S: the sign of every later-minus-earlier difference
    select
        earlier.cell_id,
        cast(sum(sign(later.gi_star_z_tied - earlier.gi_star_z_tied)) as bigint) as mk_s
    from series as earlier
    inner join series as later
        on earlier.cell_id = later.cell_id
        and earlier.month < later.month
    where earlier.gi_star_z_tied is not null
        and later.gi_star_z_tied is not null
    group by earlier.cell_id

),

mk_ties as (

    select
        cell_id,
        sum(tie_size * (tie_size - 1) * (2 * tie_size + 5))              as tie_term,
        sum(tie_size)                                                   as mk_n
    from (
        select cell_id, gi_star_z_tied, count(*) as tie_size
        from series
        where gi_star_z_tied is not null
        group by cell_id, gi_star_z_tied
    ) as ties
    group by cell_id

),

mann_kendall as (

    select
        mk_ties.cell_id,
        cast(mk_ties.mk_n as bigint)                                    as mk_n,
        coalesce(mk_pairs.mk_s, 0)                                      as mk_s,
        cast(
            (mk_ties.mk_n * (mk_ties.mk_n - 1) * (2 * mk_ties.mk_n + 5) - mk_ties.tie_term) / 18
        as double)                                                      as mk_var
    from mk_ties
    left join mk_pairs
        on mk_ties.cell_id = mk_pairs.cell_id

),

trend as (

    select
        *,
        case
            when mk_var <= 0 then null
            when mk_s > 0 then (mk_s - 1) / sqrt(mk_var)
            when mk_s < 0 then (mk_s + 1) / sqrt(mk_var)
            else 0.0
        end                                                             as mk_z
    from mann_kendall

),

trend_tested as (

    select
        *,
        {{ normal_two_sided_p('mk_z') }}                                as mk_p
    from trend

),

joined as (

    select
        cells.cell_id,
        coalesce(history.periods, 0)                                    as periods,
        history.first_month,
        history.final_month,
        coalesce(history.hot_periods, 0)                                as hot_periods,
        coalesce(history.cold_periods, 0)                               as cold_periods,
        coalesce(history.final_hot_run, 0)                              as final_hot_run,
        coalesce(history.final_cold_run, 0)                             as final_cold_run,
        coalesce(history.final_hot, false)                              as final_hot,
        coalesce(history.final_cold, false)                             as final_cold,
        history.final_z,
        coalesce(trend_tested.mk_n, 0)                                  as mk_n,
        trend_tested.mk_s,
        trend_tested.mk_var,
        trend_tested.mk_z,
        trend_tested.mk_p,
        case
            when trend_tested.mk_p < 0.05 and trend_tested.mk_s > 0 then 'up'
            when trend_tested.mk_p < 0.05 and trend_tested.mk_s < 0 then 'down'
            else 'none'
        end                                                             as trend
    from cells
    left join history
        on cells.cell_id = history.cell_id
    left join trend_tested
        on cells.cell_id = trend_tested.cell_id

),

classified as (

    select
        *,
        -- "at least 90 % of the periods", in whole numbers: 22 of 24 months, 18 of 20
        10 * hot_periods >= 9 * periods                                 as mostly_hot,
        10 * cold_periods >= 9 * periods                                as mostly_cold
    from joined

),

final as (

    select
        cell_id,
        periods,
        first_month,
        final_month,
        hot_periods,
        cold_periods,
        final_hot_run,
        final_cold_run,
        final_z,
        mk_n,
        mk_s,
        mk_var,
        mk_z,
        mk_p,
        trend,
        case
            when periods < 2 then 'no_pattern'
            -- hot in the final month
            when final_hot and hot_periods = 1 then 'new_hot_spot'
            when final_hot and final_hot_run >= 2 and hot_periods = final_hot_run
                and not mostly_hot then 'consecutive_hot_spot'
            when final_hot and mostly_hot and trend = 'up' then 'intensifying_hot_spot'
            when final_hot and mostly_hot and trend = 'none' then 'persistent_hot_spot'
            when final_hot and mostly_hot and trend = 'down' then 'diminishing_hot_spot'
            when final_hot and cold_periods = 0 then 'sporadic_hot_spot'
            when final_hot then 'oscillating_hot_spot'
            -- cold in the final month: the mirror (intensifying = z falling)
            when final_cold and cold_periods = 1 then 'new_cold_spot'
            when final_cold and final_cold_run >= 2 and cold_periods = final_cold_run
                and not mostly_cold then 'consecutive_cold_spot'
            when final_cold and mostly_cold and trend = 'down' then 'intensifying_cold_spot'
            when final_cold and mostly_cold and trend = 'none' then 'persistent_cold_spot'
            when final_cold and mostly_cold and trend = 'up' then 'diminishing_cold_spot'
            when final_cold and hot_periods = 0 then 'sporadic_cold_spot'
            when final_cold then 'oscillating_cold_spot'
            -- neither in the final month
            when mostly_hot then 'historical_hot_spot'
            when mostly_cold then 'historical_cold_spot'
            else 'no_pattern'
        end                                                             as pattern
    from classified

)

select * from final
