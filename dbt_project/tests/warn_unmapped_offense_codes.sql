{{ config(severity='warn') }}
-- Published offense codes missing from the crosswalk seed, with how many offenses carry them.
-- They stay in fct_incidents as category 'unmapped'; this lists them so the crosswalk gets
-- extended (mapping coverage is a published quality figure).
select offense_code_raw, count(*) as offenses
from {{ ref('fct_incidents') }}
where nibrs_code is null
group by offense_code_raw
