-- 311 service requests per area x month x request type (local month of creation): counts,
-- closures and the median days to close. Every area x month in the data's range x request type
-- has a row (zero counts included), so trends are not biased by missing zeros.
with

requests as (

    select
        requests.request_id,
        requests.request_type,
        requests.is_closed,
        requests.created_at,
        requests.closed_at,
        cast(
            date_trunc(
                'month', timezone({{ sql_string(var("timezone")) }}, requests.created_at)
            ) as date
        )
                                                                as month,
        assignment.area_id
    from {{ ref('stg_service_requests__requests') }} as requests
    inner join {{ ref('int_service_requests__area_assigned') }} as assignment
        on requests.request_id = assignment.request_id
    where assignment.area_id is not null

),

areas as (

    select area_id from {{ ref('dim_area') }}

),

request_types as (

    select distinct request_type from requests

),

months as (

    select
        cast(unnest(generate_series(
            cast(min(month) as timestamp), cast(max(month) as timestamp), interval 1 month
        )) as date)                                             as month
    from requests

),

counts as (

    select
        area_id,
        month,
        request_type,
        count(*)                                                as requests,
        count(*) filter (where is_closed)                       as closed_requests,
        median(
            date_diff('second', created_at, closed_at) / 86400.0
        ) filter (where is_closed and closed_at >= created_at)  as median_days_to_close
    from requests
    group by area_id, month, request_type

),

grid as (

    select areas.area_id, months.month, request_types.request_type
    from areas
    cross join months
    cross join request_types

),

final as (

    select
        grid.area_id,
        grid.month,
        grid.request_type,
        coalesce(counts.requests, 0)                            as requests,
        coalesce(counts.closed_requests, 0)                     as closed_requests,
        counts.median_days_to_close
    from grid
    left join counts
        on grid.area_id = counts.area_id
        and grid.month = counts.month
        and grid.request_type = counts.request_type

)

select * from final
