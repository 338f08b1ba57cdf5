{{ config(meta={'dagster': {'ref': {'name': 'int_incidents__area_assigned'}}}) }}
-- Spatial assignment keeps exactly one row per staged offense: no point lost in a gap, none
-- duplicated on a shared edge. Returns a row when the counts differ.
select staged.n as staged_rows, assigned.n as assigned_rows
from (select count(*) as n from {{ ref('stg_police__offenses') }}) as staged
cross join (select count(*) as n from {{ ref('int_incidents__area_assigned') }}) as assigned
where staged.n <> assigned.n
