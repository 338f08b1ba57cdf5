-- ACS indicators on the areas of analysis, long form: one row per area x indicator.
-- counts: sum of weight x estimate; margin sqrt(sum (weight x margin)^2) (units treated as
--   independent, the usual approximation);
-- medians: the contributing units' medians averaged with weights weight x unit population (a
--   median cannot be apportioned; this is the standard population-weighted approximation);
-- proportions: recomputed from the apportioned numerator and denominator, margin by the ACS
--   ratio formula. CV and the unreliable flag are recomputed on the result.
-- rates, indices, and proportions a table gives without their counts: averaged like medians.
-- With identity weights (indicators already on the areas) every value passes through unchanged.
with

weights as (

    select * from {{ ref('int_indicator_units__area_weights') }}

),

indicators as (

    select * from {{ ref('stg_census__acs_indicators') }}

),

unit_population as (

    select unit_id, estimate as population
    from indicators
    where indicator = 'population'

),

-- the indicators apportioned here (proportions with their counts are recomputed below)
catalogue as (

    select distinct indicator, kind
    from indicators
    where kind in ('count', 'median', 'rate', 'index')
        or (kind = 'proportion' and numerator is null)

),

-- every (area, unit) pair for every count and median indicator, with the unit's estimate when
-- it has one: a unit without the indicator (its row quarantined, or not in the file) must make
-- the area's value unknown, not silently smaller
contributions as (

    select
        weights.area_id,
        weights.unit_id,
        weights.weight,
        weights.method,
        catalogue.indicator,
        catalogue.kind,
        indicators.estimate,
        indicators.moe,
        unit_population.population
    from weights
    cross join catalogue
    left join indicators
        on weights.unit_id = indicators.unit_id
        and catalogue.indicator = indicators.indicator
    left join unit_population
        on weights.unit_id = unit_population.unit_id

),

counts as (

    select
        area_id,
        indicator,
        kind,
        case when count(*) = count(estimate) then sum(weight * estimate) end as estimate,
        case when count(*) = count(estimate) then sqrt(sum(pow(weight * moe, 2))) end as moe,
        count(*)                                                as source_units,
        any_value(method)                                       as method
    from contributions
    where kind = 'count'
    group by area_id, indicator, kind

),

-- medians, and the other indicators averaged rather than summed
medians as (

    select
        area_id,
        indicator,
        kind,
        case
            when count(*) = 1 then any_value(estimate)
            when count(*) = count(estimate)
                then sum(weight * population * estimate) / nullif(sum(weight * population), 0)
        end                                                     as estimate,
        case
            when count(*) = 1 then any_value(moe)
            when count(*) = count(estimate)
                then sum(weight * population * moe) / nullif(sum(weight * population), 0)
        end                                                     as moe,
        count(*)                                                as source_units,
        any_value(method)                                       as method
    from contributions
    where kind <> 'count'
    group by area_id, indicator, kind

),

proportion_definitions as (

    select distinct indicator, numerator, denominator
    from indicators
    where kind = 'proportion' and numerator is not null

),

proportions as (

    select
        numerators.area_id,
        proportion_definitions.indicator,
        'proportion'                                            as kind,
        numerators.estimate / nullif(denominators.estimate, 0)  as estimate,
        {{ acs_proportion_moe(
            'numerators.estimate / nullif(denominators.estimate, 0)',
            'numerators.moe', 'denominators.estimate', 'denominators.moe'
        ) }}                                                    as moe,
        greatest(numerators.source_units, denominators.source_units) as source_units,
        numerators.method
    from proportion_definitions
    inner join counts as numerators
        on proportion_definitions.numerator = numerators.indicator
    inner join counts as denominators
        on proportion_definitions.denominator = denominators.indicator
        and numerators.area_id = denominators.area_id

),

combined as (

    select * from counts
    union all
    select * from medians
    union all
    select * from proportions

),

labels as (

    select indicator, any_value(label) as label
    from indicators
    group by indicator

),

final as (

    select
        combined.area_id,
        combined.indicator,
        combined.kind,
        labels.label,
        combined.estimate,
        combined.moe,
        {{ acs_cv_pct('combined.estimate', 'combined.moe') }}   as cv_pct,
        {{ acs_unreliable('combined.estimate', acs_cv_pct('combined.estimate', 'combined.moe')) }}
                                                                as unreliable,
        combined.source_units,
        combined.method
    from combined
    left join labels
        on combined.indicator = labels.indicator

)

select * from final
