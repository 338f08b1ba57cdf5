-- Data quality per source x month, from what the quality splits measured on each load and what
-- the police marts hold. One row per source and month; month is NULL for undated sources
-- (boundaries, ACS, facilities) and for rows whose date was rejected. Rates are NULL for a load
-- with no rows (an absent source, an empty month).
--   completeness      share of rows whose key, location and offense code are present
--   geocoding_rate    share of rows with a usable point (NULL: the source has no points)
--   out_of_jurisdiction_rate  share of located rows further than the tolerance from every area
--   duplicate_rate    share of rows quarantined as copies of an earlier row
--   crosswalk_coverage  police: offenses whose code the crosswalk classifies; facilities: rows
--                     whose type label maps; NULL where nothing is mapped
--   occurred_imputed_offenses  police: offenses dated by their reported time (blank occurred)
--   snapped_offenses  police: offenses in no area, assigned to the nearest within the snap
--                     tolerance
--   reporting_lag_*   police: days from occurrence to report, per incident, percentiles
{%- set reason_codes = reason_codes() %}
with

profiles as (

    select * from {{ ref('stg_quality__load_profiles') }}

),

offenses as (

    select * from {{ ref('fct_incidents') }}

),

source_months as (

    select
        source,
        family,
        month,
        cast(sum(raw_rows) as bigint) as raw_rows,
        cast(sum(accepted_rows) as bigint) as accepted_rows,
        cast(sum(quarantined_rows) as bigint) as quarantined_rows,
        cast(sum(complete_rows) as bigint) as complete_rows,
        cast(sum(located_rows) as bigint) as located_rows,
        {%- for code in reason_codes %}
        cast(sum({{ code }}_rows) as bigint) as {{ code }}_rows{{ ',' if not loop.last }}
        {%- endfor %}
    from profiles
    group by source, family, month

),

crosswalk as (

    select
        source,
        occurred_month                          as month,
        count(*)                                as offenses,
        count(*) filter (where category <> 'unmapped') as mapped_offenses,
        count(*) filter (where occurred_imputed) as occurred_imputed_offenses,
        count(*) filter (where assignment_method = 'snapped') as snapped_offenses
    from offenses
    group by source, occurred_month

),

incident_lags as (

    -- one lag per incident (report), from its first offense
    select
        source,
        occurred_month                          as month,
        epoch(reported_at - occurred_at) / 86400.0 as lag_days
    from offenses
    where offense_seq = 1 and reported_at is not null and occurred_at is not null

),

lags as (

    select
        source,
        month,
        count(*)                                as lag_incidents,
        quantile_cont(lag_days, 0.5)            as reporting_lag_p50_days,
        quantile_cont(lag_days, 0.9)            as reporting_lag_p90_days,
        quantile_cont(lag_days, 0.99)           as reporting_lag_p99_days
    from incident_lags
    group by source, month

),

final as (

    select
        source_months.source,
        source_months.family,
        source_months.month,
        source_months.raw_rows,
        source_months.accepted_rows,
        source_months.quarantined_rows,
        round(source_months.complete_rows / nullif(source_months.raw_rows, 0), 6) as completeness,
        round(source_months.located_rows / nullif(source_months.raw_rows, 0), 6) as geocoding_rate,
        round(
            source_months.out_of_jurisdiction_rows / nullif(source_months.located_rows, 0), 6
        )                                       as out_of_jurisdiction_rate,
        round(
            source_months.duplicate_record_rows / nullif(source_months.raw_rows, 0), 6
        )                                       as duplicate_rate,
        round(case source_months.family
            when 'police' then crosswalk.mapped_offenses / nullif(crosswalk.offenses, 0)
            when 'facilities'
                then 1 - source_months.type_unmapped_rows / nullif(source_months.raw_rows, 0)
        end, 6)                                 as crosswalk_coverage,
        crosswalk.offenses,
        crosswalk.mapped_offenses,
        crosswalk.occurred_imputed_offenses,
        crosswalk.snapped_offenses,
        round(lags.reporting_lag_p50_days, 3)   as reporting_lag_p50_days,
        round(lags.reporting_lag_p90_days, 3)   as reporting_lag_p90_days,
        round(lags.reporting_lag_p99_days, 3)   as reporting_lag_p99_days,
        {%- for code in reason_codes %}
        source_months.{{ code }}_rows{{ ',' if not loop.last }}
        {%- endfor %}
    from source_months
    left join crosswalk
        on source_months.family = 'police'
        and source_months.source = crosswalk.source
        and source_months.month = crosswalk.month
    left join lags
        on source_months.family = 'police'
        and source_months.source = lags.source
        and source_months.month = lags.month

)

select * from final
