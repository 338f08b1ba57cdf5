-- Resident survey answers, one row per respondent x answered question.
with

source as (

    select * from {{ source('surveys', 'surveys') }}

),

renamed as (

    select
        survey,
        response_id,
        survey || '/' || response_id                              as respondent_key,
        submitted_on,
        area_key,
        longitude,
        latitude,
        case
            when longitude is not null and latitude is not null
                then ST_Point(longitude, latitude)
        end                                                       as geom,
        weight,
        question,
        answer_value,
        answer_positive,
        {{ lineage_columns() }}
    from source

)

select * from renamed
