-- Impact of the interventions declared in the jurisdiction YAML (var('initiatives'): name,
-- areas, start_month), one row per initiative: a difference-in-differences on area-level
-- monthly offense rates per 1,000 residents (all categories, area_month_rates).
-- Per area: pre = mean monthly rate from var('start_month') to the month before the start,
-- post = from the start month to the last month with data; delta = post - pre.
-- estimate = mean delta of the treated areas - mean delta of the comparison areas (every
-- other area with a reported rate, i.e. population >= var('min_population'), in no
-- initiative). Uncertainty: Welch's unequal-variance t on the two groups of deltas (the areas
-- are the units), Welch-Satterthwaite df, 95% CI with the t(0.975, df) critical value.
-- configuration_error names what is wrong with an initiative (unknown area, start outside the
-- data); such an initiative gets no statistics and fails the dbt test on that column.
{%- set initiatives = var('initiatives') or [] %}
with

initiatives as (

{%- if initiatives | length == 0 %}

    select
        cast(null as varchar)                                   as initiative,
        cast(null as date)                                      as start_month,
        cast(null as varchar[])                                 as listed_areas
    where false

{%- else %}

    select
        cast(initiative as varchar)                             as initiative,
        cast(date_trunc('month', cast(start_month as date)) as date) as start_month,
        cast(listed_areas as varchar[])                         as listed_areas
    from (
        values
        {%- for item in initiatives %}
            (
                {{ sql_string(item["name"]) }},
                {{ sql_string(item["start_month"]) }},
                [
                    {%- for area in item["areas"] -%}
                        {{ sql_string(area) }}{{ ", " if not loop.last }}
                    {%- endfor -%}
                ]
            ){{ "," if not loop.last }}
        {%- endfor %}
    ) as declared(initiative, start_month, listed_areas)

{%- endif %}

),

rates as (

    select area_id, month, rate_per_1000
    from {{ ref('area_month_rates') }}
    where category = 'all'

),

areas as (

    select area_id from {{ ref('dim_area') }}

),

data_months as (

    select
        cast({{ sql_string(var("start_month")) }} as date)                as first_month,
        max(month)                                              as last_month
    from rates

),

listed as (

    select
        initiatives.initiative,
        unnest(initiatives.listed_areas)                        as area_id
    from initiatives

),

declared_areas as (

    -- the areas of every initiative: none of them is a comparison area
    select distinct area_id from listed

),

unknown_areas as (

    select
        listed.initiative,
        string_agg('''' || listed.area_id || '''', ', ' order by listed.area_id)
                                                                as area_list
    from listed
    anti join areas
        on listed.area_id = areas.area_id
    group by listed.initiative

),

checked as (

    select
        initiatives.*,
        data_months.first_month,
        data_months.last_month,
        nullif(concat_ws('; ',
            case
                when unknown_areas.area_list is not null
                    then 'areas not in dim_area: ' || unknown_areas.area_list
            end,
            case
                when data_months.last_month is null
                    then 'no police data to evaluate it on'
                when initiatives.start_month <= data_months.first_month
                    then 'starts ' || strftime(initiatives.start_month, '%Y-%m')
                        || ', not after the first month of police data ('
                        || strftime(data_months.first_month, '%Y-%m')
                        || '): no months before it'
                when initiatives.start_month > data_months.last_month
                    then 'starts ' || strftime(initiatives.start_month, '%Y-%m')
                        || ', after the last month with data ('
                        || strftime(data_months.last_month, '%Y-%m') || ')'
            end
        ), '')                                                  as configuration_error
    from initiatives
    cross join data_months
    left join unknown_areas
        on initiatives.initiative = unknown_areas.initiative

),

area_periods as (

    -- per initiative and area with a reported rate: mean monthly rate before and after
    select
        checked.initiative,
        rates.area_id,
        coalesce(list_contains(checked.listed_areas, rates.area_id), false)
                                                                as is_treated,
        avg(rates.rate_per_1000) filter (where rates.month < checked.start_month)
                                                                as pre_mean,
        avg(rates.rate_per_1000) filter (where rates.month >= checked.start_month)
                                                                as post_mean,
        count(*) filter (where rates.month < checked.start_month)
                                                                as pre_months,
        count(*) filter (where rates.month >= checked.start_month)
                                                                as post_months
    from checked
    cross join rates
    left join declared_areas
        on rates.area_id = declared_areas.area_id
    where checked.configuration_error is null
        and rates.rate_per_1000 is not null
        and (
            list_contains(checked.listed_areas, rates.area_id)
            or declared_areas.area_id is null
        )
    group by checked.initiative, rates.area_id, checked.listed_areas

),

groups as (

    select
        initiative,
        count(*) filter (where is_treated)                      as n_t,
        count(*) filter (where not is_treated)                  as n_c,
        avg(post_mean - pre_mean) filter (where is_treated)     as delta_t,
        avg(post_mean - pre_mean) filter (where not is_treated) as delta_c,
        var_samp(post_mean - pre_mean) filter (where is_treated)
                                                                as var_t,
        var_samp(post_mean - pre_mean) filter (where not is_treated)
                                                                as var_c,
        avg(pre_mean) filter (where is_treated)                 as treated_pre_mean,
        avg(post_mean) filter (where is_treated)                as treated_post_mean,
        avg(pre_mean) filter (where not is_treated)             as comparison_pre_mean,
        avg(post_mean) filter (where not is_treated)            as comparison_post_mean,
        max(pre_months)                                         as pre_months,
        max(post_months)                                        as post_months
    from area_periods
    group by initiative

),

welch as (

    select
        *,
        delta_t - delta_c                                       as estimate,
        sqrt(var_t / n_t + var_c / n_c)                         as std_error,
        -- Welch-Satterthwaite
        case
            when var_t / n_t + var_c / n_c > 0
                then pow(var_t / n_t + var_c / n_c, 2)
                    / (pow(var_t / n_t, 2) / (n_t - 1) + pow(var_c / n_c, 2) / (n_c - 1))
        end                                                     as df
    from groups

),

tested as (

    select
        *,
        case when std_error > 0 then estimate / std_error end  as t_statistic,
        {{ student_t_critical_95('df') }}                      as t_critical -- noqa: PRS
    from welch

),

final as (

    select
        checked.initiative,
        checked.start_month,
        array_to_string(list_sort(checked.listed_areas), ', ')  as listed_areas,
        checked.configuration_error,
        cast(coalesce(tested.n_t, 0) as integer)                as treated_areas,
        cast(coalesce(tested.n_c, 0) as integer)                as comparison_areas,
        cast(tested.pre_months as integer)                      as pre_months,
        cast(tested.post_months as integer)                     as post_months,
        tested.treated_pre_mean,
        tested.treated_post_mean,
        tested.comparison_pre_mean,
        tested.comparison_post_mean,
        tested.estimate,
        tested.std_error,
        tested.df,
        tested.t_statistic,
        tested.estimate - tested.t_critical * tested.std_error  as ci_lower,
        tested.estimate + tested.t_critical * tested.std_error  as ci_upper,
        {{ student_t_two_sided_p('tested.t_statistic', 'tested.df') }} -- noqa: PRS
                                                                as p_value,
        -- the effect against what the treated areas would have had without the initiative:
        -- their pre level moved by the comparison areas' change
        case
            when tested.treated_pre_mean + tested.delta_c > 0
                then tested.estimate / (tested.treated_pre_mean + tested.delta_c)
        end                                                     as relative_effect,
        'difference-in-differences of area mean monthly offense rates per 1,000 (post - pre), '
        || 'treated vs comparison areas; Welch t, Welch-Satterthwaite df, 95% CI'
                                                                as method
    from checked
    left join tested
        on checked.initiative = tested.initiative

)

select * from final
