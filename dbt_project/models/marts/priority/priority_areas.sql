-- Composite need index per area, the answer to "where should outreach go"
-- (docs/analytics/services-and-priority.md). Four components, each a z-score over the ranked
-- areas (population standard deviation):
--   person_crime   ln(1 + offenses against persons per 1,000 residents per year)
--   mental_health  ln(1 + mental-health-related offenses per 1,000 residents per year)
--   deprivation    mean of z(poverty_rate), z(unemployment_rate), -z(ln median income)
--   access_gap     mean of -z(2SFCA score) and z(distance to the nearest facility), type 'all'
-- plus any of the jurisdiction's own indicators named beside them (var('priority_indicators'):
-- e.g. a hardship index), each z(value), or -z(value) where a low value means need.
-- need_index = sum(w * clamp(z, -3, 3)) / sum(w) over the available components (a component
-- whose source the jurisdiction lacks is unavailable, listed in unavailable_components), weights
-- from var('priority_weights'): the
-- *_z columns stay uncapped, the contributions carry the capped values. Areas without a sound
-- base (population unknown or below var('min_population'), an indicator missing) are listed
-- with the reason but not ranked.
-- depends_on: {{ ref('int_area_indicators__apportioned') }}
{%- set components = ['person_crime', 'mental_health', 'deprivation', 'access_gap'] %}
{%- set configured = var('priority_weights') %}
{#- Components whose source the jurisdiction does not have (no facility list: access_gap; no
    indicator table: deprivation) are unavailable: weight 0, no z score, listed per row; the
    index is built from the components that exist. #}
{%- set unavailable = var('priority_unavailable_components') %}
{%- set available = components | reject('in', unavailable) | list %}
{%- set weights = {} %}
{%- for c in components %}
    {%- do weights.update({c: 0.0 if c in unavailable else configured.get(c, 0) | float}) %}
{%- endfor %}
{#- The jurisdiction's own indicators as further components, each named extra_<n> inside the
    model (an indicator name is not a safe column suffix) and by its own name in the output. #}
{%- set extra = var('priority_indicators') %}
{%- set labels = {} %}
{%- for c in components %}{%- do labels.update({c: c}) %}{%- endfor %}
{%- set extras = [] %}
{%- for i in extra %}
    {%- set c = 'extra_' ~ loop.index %}
    {%- do extras.append(c) %}
    {%- do labels.update({c: i['name']}) %}
    {%- do weights.update({c: i['weight'] | float}) %}
{%- endfor %}
{%- set scored = available + extras %}
{%- set weight_total = weights.values() | sum %}
{#- Winsorizing bound of a standardized component (OECD/JRC composite-indicator practice): an
    outlier still ranks high, but cannot carry the index on one component alone. #}
{%- set z_cap = 3.0 %}
{%- if weight_total <= 0 %}
    {{ exceptions.raise_compiler_error(
        "priority_weights: at least one available component needs a positive weight"
    ) }}
{%- endif %}
{#- (z-score column, expression, sign): sign -1 where a low value means more need #}
{%- set indicators = [
    ('poverty_rate_z', 'poverty_rate', 1),
    ('unemployment_rate_z', 'unemployment_rate', 1),
    ('low_income_z', 'ln(median_household_income)', -1),
    ('low_access_z', 'access_2sfca', -1),
    ('distance_z', 'nearest_facility_m', 1),
] %}
{%- for i in extra %}
    {%- do indicators.append(
        ('extra_' ~ loop.index ~ '_value_z', 'extra_' ~ loop.index ~ '_value',
         -1 if i['need'] == 'low' else 1)
    ) %}
{%- endfor %}
{#- Crime rates are right-skewed (hotspots): standardized on a log scale. The offset of one
    offense per 1,000 residents per year keeps areas without offenses finite (0) and a
    component without any offense uninformative. #}
{%- set component_columns = {
    'person_crime': 'ln(1 + person_crime_rate)',
    'mental_health': 'ln(1 + mental_health_rate)',
    'deprivation': 'deprivation',
    'access_gap': 'access_gap',
} %}
{%- for c in extras %}{%- do component_columns.update({c: c ~ '_value_z'}) %}{%- endfor %}
with

areas as (

    select
        area_id,
        area_name,
        population,
        poverty_rate,
        unemployment_rate,
        median_household_income,
        poverty_rate_unreliable
            or unemployment_rate_unreliable
            or median_household_income_unreliable       as indicators_unreliable
    from {{ ref('dim_area') }}

),

access as (

    select area_id, access_2sfca, nearest_facility_m
    from {{ ref('service_access') }}
    where facility_type = 'all'

),

{%- if extra %}

-- the jurisdiction's own indicators named in the weights, one column each
extra_indicators as (

    select
        area_id,
        {%- for i in extra %}
        max(estimate) filter (where indicator = {{ sql_string(i["name"]) }}) as extra_{{ loop.index }}_value
        {{- ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('int_area_indicators__apportioned') }}
    group by area_id

),
{%- endif %}

incidents as (

    select area_id, occurred_month, crime_against, mental_health_related
    from {{ ref('fct_incidents') }}
    where area_id is not null and occurred_month is not null

),

period as (

    -- the 12 months ending with the last month with data (all of it when shorter): current
    -- need, one full seasonal cycle
    select
        greatest(
            min(occurred_month), cast(max(occurred_month) - interval 11 month as date)
        )                                               as period_start,
        max(occurred_month)                             as period_end
    from incidents

),

period_months as (

    select
        period_start,
        period_end,
        coalesce(date_diff('month', period_start, period_end) + 1, 0) as period_months
    from period

),

counts as (

    select
        incidents.area_id,
        count(*) filter (where incidents.crime_against = 'person') as person_crime_count,
        count(*) filter (where incidents.mental_health_related)    as mental_health_count
    from incidents
    cross join period_months
    where incidents.occurred_month between period_months.period_start and period_months.period_end
    group by incidents.area_id

),

raw_components as (

    select
        areas.area_id,
        areas.area_name,
        areas.population,
        case
            when areas.population is null or areas.population <= 0 then 'population_unknown'
            when areas.population < {{ var('min_population') }} then 'population_below_minimum'
            {%- if 'deprivation' in available %}
            when areas.poverty_rate is null
                or areas.unemployment_rate is null
                or areas.median_household_income is null
                or areas.median_household_income <= 0 then 'indicator_missing'
            {%- endif %}
            {%- if extras %}
            when {% for c in extras %}extra_indicators.{{ c }}_value is null
                {{- ' or ' if not loop.last }}{% endfor %} then 'indicator_missing'
            {%- endif %}
            {%- if 'access_gap' in available %}
            when access.area_id is null then 'access_missing'
            {%- endif %}
        end                                             as exclusion_reason,
        period_months.period_start,
        period_months.period_end,
        period_months.period_months,
        coalesce(counts.person_crime_count, 0)          as person_crime_count,
        coalesce(counts.mental_health_count, 0)         as mental_health_count,
        -- annualized rates, withheld (like area_month_rates) where the base is too small
        case
            when areas.population >= {{ var('min_population') }}
                and areas.population > 0
                and period_months.period_months > 0
                then coalesce(counts.person_crime_count, 0) / areas.population * 1000
                    * 12 / period_months.period_months
        end                                             as person_crime_rate,
        case
            when areas.population >= {{ var('min_population') }}
                and areas.population > 0
                and period_months.period_months > 0
                then coalesce(counts.mental_health_count, 0) / areas.population * 1000
                    * 12 / period_months.period_months
        end                                             as mental_health_rate,
        areas.poverty_rate,
        areas.unemployment_rate,
        areas.median_household_income,
        areas.indicators_unreliable,
        {%- for c in extras %}
        extra_indicators.{{ c }}_value,
        {%- endfor %}
        access.access_2sfca,
        access.nearest_facility_m
    from areas
    cross join period_months
    left join counts
        on areas.area_id = counts.area_id
    left join access
        on areas.area_id = access.area_id
    {%- if extra %}
    left join extra_indicators
        on areas.area_id = extra_indicators.area_id
    {%- endif %}

),

ranked_areas as (

    select * from raw_components
    where exclusion_reason is null

),

indicator_stats as (

    select
        {%- for name, expression, sign in indicators %}
        avg({{ expression }})                           as {{ name }}_mean,
        stddev_pop({{ expression }})                    as {{ name }}_sd{{ ',' if not loop.last }}
        {%- endfor %}
    from ranked_areas

),

-- z = (x - mean) / sd, or (mean - x) / sd where a low value means need. A spread within float
-- noise of the mean is no spread (equal values, a single area): the variable says nothing and
-- z = 0 everywhere, never x / 0. The same rule holds for the components below.
indicator_scores as (

    select
        ranked_areas.area_id,
        {%- for name, expression, sign in indicators %}
        case
            when indicator_stats.{{ name }}_sd > 1e-9 * abs(indicator_stats.{{ name }}_mean)
                {%- if sign > 0 %}
                then ({{ expression }} - indicator_stats.{{ name }}_mean)
                {%- else %}
                then (indicator_stats.{{ name }}_mean - {{ expression }})
                {%- endif %}
                    / indicator_stats.{{ name }}_sd
            else 0.0
        end                                             as {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from ranked_areas
    cross join indicator_stats

),

composites as (

    select
        ranked_areas.*,
        indicator_scores.* exclude (area_id), -- noqa: RF02
        (indicator_scores.poverty_rate_z + indicator_scores.unemployment_rate_z
            + indicator_scores.low_income_z) / 3        as deprivation,
        (indicator_scores.low_access_z + indicator_scores.distance_z) / 2 as access_gap
    from ranked_areas
    inner join indicator_scores
        on ranked_areas.area_id = indicator_scores.area_id

),

component_stats as (

    select
        {%- for c in scored %}
        avg({{ component_columns[c] }})                 as {{ c }}_mean,
        stddev_pop({{ component_columns[c] }})          as {{ c }}_sd,
        coalesce(
            stddev_pop({{ component_columns[c] }})
                > 1e-9 * abs(avg({{ component_columns[c] }})),
            false
        )                                               as {{ c }}_informative
        {{- ',' if not loop.last }}
        {%- endfor %}
    from composites

),

-- the composites are standardized again so every component has unit spread before weighting
component_scores as (

    select
        composites.area_id,
        {%- for c in components + extras %}
        {%- if c in scored %}
        case
            when component_stats.{{ c }}_informative
                then ({{ component_columns[c] }} - component_stats.{{ c }}_mean)
                    / component_stats.{{ c }}_sd
            else 0.0
        end                                             as {{ c }}_z,
        {%- else %}
        cast(null as double)                            as {{ c }}_z,
        {%- endif %}
        {%- endfor %}
        array_to_string(list_filter([
            {%- for c in scored %}
            case when not component_stats.{{ c }}_informative then {{ sql_string(labels[c]) }} end
            {{- ',' if not loop.last }}
            {%- endfor %}
        ], lambda x: x is not null), ', ')               as uninformative_components -- noqa: RF02
    from composites
    cross join component_stats

),

capped_scores as (

    select
        *,
        {%- for c in components + extras %}
        {%- if c in scored %}
        greatest(-{{ z_cap }}, least({{ z_cap }}, {{ c }}_z)) as {{ c }}_z_capped
        {%- else %}
        cast(null as double)                            as {{ c }}_z_capped
        {%- endif %}
        {{- ',' if not loop.last }}
        {%- endfor %}
    from component_scores

),

contributions as (

    select
        *,
        -- each component's share of the index (+ 0.0: a zero weight gives 0, not IEEE -0)
        {%- for c in components + extras %}
        {{ weights[c] }} * {{ c }}_z_capped / {{ weight_total }} + 0.0 as {{ c }}_contribution,
        {%- endfor %}
        (
            {%- for c in scored %}
            {{ weights[c] }} * {{ c }}_z_capped{{ ' +' if not loop.last }}
            {%- endfor %}
        ) / {{ weight_total }}                          as need_index
    from capped_scores

),

ranked as (

    select
        *,
        rank() over (order by need_index desc)          as need_rank,
        percent_rank() over (order by need_index) * 100 as need_percentile,
        -- what pushes the area up: the components with a positive share, strongest first
        nullif(array_to_string(list_transform(
            list_filter(
                list_sort([
                    {%- for c in scored %}
                    {'contribution': {{ c }}_contribution, 'component': {{ sql_string(labels[c]) }}}
                    {{- ',' if not loop.last }}
                    {%- endfor %}
                ], 'DESC'),
                lambda x: x.contribution > 0
            ),
            lambda x: x.component
        ), ', '), '')                                   as need_drivers
    from contributions

),

final as (

    select
        raw_components.area_id,
        raw_components.area_name,
        raw_components.population,
        raw_components.exclusion_reason is null         as ranked,
        raw_components.exclusion_reason,
        ranked.need_rank,
        ranked.need_percentile,
        ranked.need_index,
        ranked.need_drivers,
        raw_components.period_start,
        raw_components.period_end,
        raw_components.period_months,
        raw_components.person_crime_count,
        raw_components.person_crime_rate,
        raw_components.mental_health_count,
        raw_components.mental_health_rate,
        raw_components.poverty_rate,
        raw_components.unemployment_rate,
        raw_components.median_household_income,
        raw_components.indicators_unreliable,
        composites.poverty_rate_z,
        composites.unemployment_rate_z,
        composites.low_income_z,
        composites.deprivation,
        raw_components.access_2sfca,
        raw_components.nearest_facility_m,
        composites.low_access_z,
        composites.distance_z,
        composites.access_gap,
        {%- for c in components %}
        ranked.{{ c }}_z,
        {%- endfor %}
        {%- for c in components %}
        ranked.{{ c }}_contribution,
        {%- endfor %}
        {%- for c in components %}
        cast({{ weights[c] }} as double)                as {{ c }}_weight,
        {%- endfor %}
        ranked.uninformative_components,
        cast({{ "'" ~ unavailable | join(', ') ~ "'" if unavailable else 'null' }} as varchar)
                                                        as unavailable_components,
        cast({{ "'" ~ extra | map(attribute='name') | join(', ') ~ "'" if extra else 'null' }}
            as varchar)                                 as indicator_components,
        cast({{ extra | sum(attribute='weight') }} as double) as indicator_weight,
        {%- if extras %}
        {%- for c in extras %}
        ranked.{{ c }}_contribution{{ ' +' if not loop.last }}
        {%- endfor %}                                   as indicator_contribution
        {%- else %}
        case when ranked.area_id is not null then cast(0 as double) end as indicator_contribution
        {%- endif %}
    from raw_components
    left join composites
        on raw_components.area_id = composites.area_id
    left join ranked
        on raw_components.area_id = ranked.area_id

)

select * from final
