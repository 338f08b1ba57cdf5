{#-
    The hotspot forecast (models/marts/forecast, docs/analytics/forecast.md): its fixed
    hyper-parameters and the two rules every ranking and selection shares.
-#}

{% macro forecast_window_months() -%}
    {#- Months of history the forecast averages over: one whole seasonal cycle. -#}
    12
{%- endmacro %}


{% macro forecast_half_life_months() -%}
    {#- Weight of a month halves every this many months back (the month before the predicted
        one has weight 1). Chosen on months before the holdout: docs/analytics/forecast.md. -#}
    12
{%- endmacro %}


{% macro forecast_neighbour_weight() -%}
    {#- Share of the prediction taken from the mean of the adjacent cells (spatial smoothing). -#}
    0.1
{%- endmacro %}


{% macro forecast_method() -%}
    {#- The forecast in words, published with it. -#}
    'exponentially weighted mean of the previous {{ forecast_window_months() }} months (half-life {{ forecast_half_life_months() }} months), {{ forecast_neighbour_weight() }} weight on the adjacent cells'' mean'
{%- endmacro %}


{% macro forecast_area_shares() -%}
    {#- The configured area shares (var forecast_area_shares) as rows of one column,
        area_share. -#}
    {%- for share in var('forecast_area_shares') %}
    select cast({{ share }} as double) as area_share
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
{%- endmacro %}


{% macro forecast_tie_break(cell_id) -%}
    {#- Order among cells with equal values: md5 of the cell id, a fixed pseudo-random order
        that favours no part of the map (sorting the ids would favour some rows), then the id
        (never needed, keeps the order total). -#}
    md5({{ cell_id }}), {{ cell_id }}
{%- endmacro %}


{% macro forecast_cells_selected(area_share, cells) -%}
    {#- Cells in the top `area_share` of `cells`: ceil(share x cells), with a 1e-9 slack so
        that 0.1 x 870 (87.00000000000001 in floating point) selects 87, not 88. -#}
    cast(ceil({{ area_share }} * {{ cells }} - 1e-9) as integer)
{%- endmacro %}
