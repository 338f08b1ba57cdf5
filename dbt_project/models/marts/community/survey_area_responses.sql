-- Resident survey results per area x survey x question: the area's respondents, those who
-- answered the question, and the weighted share answering positively (feels safe; has the unmet
-- need). Shares resting on fewer answers than var('min_survey_responses') are suppressed (NULL,
-- suppressed = true): a handful of answers neither estimates an area nor keeps its respondents
-- anonymous.
with

answers as (

    select * from {{ ref('stg_surveys__answers') }}

),

assignment as (

    select * from {{ ref('int_survey_respondents__area_assigned') }}

),

areas as (

    select area_id, area_name from {{ ref('stg_boundaries__areas') }}

),

area_respondents as (

    select
        assignment.area_id,
        answers.survey,
        count(distinct answers.respondent_key)                  as area_respondents
    from answers
    inner join assignment
        on answers.respondent_key = assignment.respondent_key
    where assignment.area_id is not null
    group by assignment.area_id, answers.survey

),

aggregated as (

    select
        assignment.area_id,
        answers.survey,
        answers.question,
        count(distinct answers.respondent_key)                  as respondents,
        sum(answers.weight)                                     as weight_total,
        sum(answers.weight * cast(answers.answer_positive as integer))
            / nullif(sum(answers.weight), 0)                    as weighted_share
    from answers
    inner join assignment
        on answers.respondent_key = assignment.respondent_key
    where assignment.area_id is not null
    group by assignment.area_id, answers.survey, answers.question

),

final as (

    select
        aggregated.area_id,
        areas.area_name,
        aggregated.survey,
        aggregated.question,
        area_respondents.area_respondents,
        aggregated.respondents,
        aggregated.respondents < {{ var('min_survey_responses') }}   as suppressed,
        case
            when aggregated.respondents >= {{ var('min_survey_responses') }}
                then aggregated.weight_total
        end                                                     as weight_total,
        case
            when aggregated.respondents >= {{ var('min_survey_responses') }}
                then aggregated.weighted_share
        end                                                     as weighted_share
    from aggregated
    inner join areas
        on aggregated.area_id = areas.area_id
    inner join area_respondents
        on aggregated.area_id = area_respondents.area_id
        and aggregated.survey = area_respondents.survey

)

select * from final
