-- The area of every survey respondent: the area the respondent named when it is a known area,
-- else the respondent's point assigned spatially like incidents. One row per respondent.
with

respondents as (

    select
        respondent_key,
        any_value(area_key)                     as area_key,
        any_value(geom)                         as geom
    from {{ ref('stg_surveys__answers') }}
    group by respondent_key

),

areas as (

    select area_id, geom from {{ ref('stg_boundaries__areas') }}

),

located as (

    select respondent_key, geom
    from respondents
    where area_key is null

),

spatial as (

    {{ assign_points_to_areas('located', 'respondent_key', 'areas') }}

),

final as (

    select
        respondents.respondent_key,
        coalesce(named.area_id, spatial.area_id)                as area_id,
        case
            when named.area_id is not null then 'named'
            else coalesce(spatial.assignment_method, 'unassigned')
        end                                                     as assignment_method
    from respondents
    left join areas as named
        on respondents.area_key = named.area_id
    left join spatial
        on respondents.respondent_key = spatial.respondent_key

)

select * from final
