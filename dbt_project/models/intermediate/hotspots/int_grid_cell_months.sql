-- Offense counts per grid cell x month: EVERY cell of the jurisdiction x every month from
-- var('start_month') to the last month with a located offense, zeros included (the Gi*
-- statistics and forecasts need the zeros). Offenses dated before start_month (late reports of
-- old events) are outside the series; category 'non_criminal' is not counted, nor are sensitive
-- offences (never placed below area level in anything published).
with

cells as (

    select cell_id from {{ ref('int_grid_cells') }}

),

offenses as (

    select cell_id, month, category, is_sensitive
    from {{ ref('int_incidents__grid_assigned') }}
    where month >= date {{ sql_string(var("start_month")) }}

),

months as (

    -- no offense since start_month: no months, no rows
    select
        cast(unnest(generate_series(
            cast(date {{ sql_string(var("start_month")) }} as timestamp),
            cast(max(month) as timestamp),
            interval 1 month
        )) as date)                                                     as month
    from offenses

),

counts as (

    select
        cell_id,
        month,
        count(*)                                                        as incident_count
    from offenses
    where category <> 'non_criminal' and not is_sensitive
    group by cell_id, month

),

final as (

    select
        cells.cell_id,
        months.month,
        coalesce(counts.incident_count, 0)                              as incident_count
    from cells
    cross join months
    left join counts
        on cells.cell_id = counts.cell_id
        and months.month = counts.month

)

select * from final
