-- ACS indicators on the areas of analysis, long form: one row per area x indicator.
-- counts: sum of weight x estimate; margin sqrt(sum (weight x margin)^2) (units treated as
--   independent, the usual approximation);
-- medians: the contributing units' medians averaged with weights weight x unit population (a
--   median cannot be apportioned; this is the standard population-weighted approximation);
-- proportions: recomputed from the apportioned numerator and denominator, margin by the ACS
--   ratio formula. CV and the unreliable flag are recomputed on the result.
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

counts as (

    select
        weights.area_id,
        indicators.indicator,
        indicators.kind,
        -- a unit with a missing estimate makes the apportioned sum unknown, not smaller
        case
            when count(*) = count(indicators.estimate)
                then sum(weights.weight * indicators.estimate)
        end                                                     as estimate,
        sqrt(sum(pow(weights.weight * indicators.moe, 2)))      as moe,
        count(*)                                                as source_units,
        any_value(weights.method)                               as method
    from weights
    inner join indicators
        on weights.unit_id = indicators.unit_id
    where indicators.kind = 'count'
    group by weights.area_id, indicators.indicator, indicators.kind

),

medians as (

    select
        weights.area_id,
        indicators.indicator,
        indicators.kind,
        case
            when count(*) = 1 then any_value(indicators.estimate)
            when count(*) = count(indicators.estimate)
                then sum(weights.weight * unit_population.population * indicators.estimate)
                    / nullif(sum(weights.weight * unit_population.population), 0)
        end                                                     as estimate,
        case
            when count(*) = 1 then any_value(indicators.moe)
            else sum(weights.weight * unit_population.population * indicators.moe)
                / nullif(sum(weights.weight * unit_population.population), 0)
        end                                                     as moe,
        count(*)                                                as source_units,
        any_value(weights.method)                               as method
    from weights
    inner join indicators
        on weights.unit_id = indicators.unit_id
    left join unit_population
        on weights.unit_id = unit_population.unit_id
    where indicators.kind = 'median'
    group by weights.area_id, indicators.indicator, indicators.kind

),

proportion_definitions as (

    select distinct indicator, numerator, denominator
    from indicators
    where kind = 'proportion'

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

final as (

    select
        area_id,
        indicator,
        kind,
        estimate,
        moe,
        {{ acs_cv_pct('estimate', 'moe') }}                     as cv_pct,
        {{ acs_unreliable('estimate', acs_cv_pct('estimate', 'moe')) }} as unreliable,
        source_units,
        method
    from combined

)

select * from final
