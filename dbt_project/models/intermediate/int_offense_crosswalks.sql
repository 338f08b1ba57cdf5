-- Every offense crosswalk in one table keyed by (crosswalk, offense_code): the publisher seeds
-- plus the crosswalks jurisdictions supply for layouts without a seed.
{%- set publisher_crosswalks = ['seattle_spd', 'lapd', 'chicago', 'sfpd', 'baltimore'] %}
{%- set columns = [
    'offense_code', 'nibrs_code', 'offense_name', 'nibrs_group', 'crime_against', 'category',
    'is_sensitive', 'mental_health_related', 'domestic_violence', 'juvenile_involved',
    'substance_related',
] %}
with

{% for name in publisher_crosswalks %}
seed_{{ name }} as (

    select '{{ name }}' as crosswalk, {{ columns | join(', ') }}
    from {{ ref('crosswalk_' ~ name) }}

),

{% endfor %}
custom as (

    select crosswalk, {{ columns | join(', ') }}
    from {{ source('police', 'custom_crosswalks') }}

),

final as (

    {% for name in publisher_crosswalks %}
    select * from seed_{{ name }}
    union all
    {% endfor %}
    select * from custom

)

select * from final
