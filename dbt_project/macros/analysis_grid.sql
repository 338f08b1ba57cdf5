{#-
    The regular analysis grid of the hotspot statistics, in var('projected_crs') metres.

    var('grid_shape'): 'hexagon' or 'square'; var('grid_cell_m') = d, the distance between the
    centres of two neighbouring cells. The lattice is anchored at the CRS origin, so a cell keeps
    its indices (and its id) when the boundaries or the data change.

    - square: cell (row, col) = [col d, (col+1) d) x [row d, (row+1) d); centre at
      ((col + 1/2) d, (row + 1/2) d). A point on an edge goes to the cell above / to the right.
    - hexagon, "pointy-top": centres in horizontal rows h = d sqrt(3)/2 apart, at
      (col d, row h) in even rows and ((col + 1/2) d, row h) in odd rows; each hexagon (side
      d / sqrt(3)) is the set of points nearer its centre than any other, so a point belongs to
      the nearest centre. The centres are the union of two rectangular lattices (even rows,
      odd rows) of spacing d x 2h: the nearest centre of each is found by rounding and the
      nearer of the two wins (the even row on an exact tie: deterministic). Pure arithmetic,
      no spatial join, so it costs nothing at a million points.
-#}

{% macro grid_cell_m() -%}
    {%- if var('grid_shape') not in ('hexagon', 'square') -%}
        {{ exceptions.raise_compiler_error(
            "var('grid_shape') must be 'hexagon' or 'square', got '" ~ var('grid_shape') ~ "'"
        ) }}
    {%- endif -%}
    cast({{ var('grid_cell_m') }} as double)
{%- endmacro %}


{% macro grid_row_spacing_m() -%}
    {#- Distance between two rows of cell centres. -#}
    {%- if var('grid_shape') == 'hexagon' -%}
        ({{ grid_cell_m() }} * sqrt(3) / 2)
    {%- else -%}
        {{ grid_cell_m() }}
    {%- endif -%}
{%- endmacro %}


{% macro grid_cell_area_m2() -%}
    {#- A hexagon of centre spacing d covers d^2 sqrt(3)/2; a square d^2. -#}
    {%- if var('grid_shape') == 'hexagon' -%}
        (pow({{ grid_cell_m() }}, 2) * sqrt(3) / 2)
    {%- else -%}
        pow({{ grid_cell_m() }}, 2)
    {%- endif -%}
{%- endmacro %}


{% macro grid_cell_of(x, y) -%}
    {#- The cell holding the projected point (x, y), as a struct {cell_row, cell_col} of
        BIGINTs. x and y should be plain columns (they are repeated in the expression). -#}
    {%- set d = grid_cell_m() -%}
    {%- set h = grid_row_spacing_m() -%}
    {%- if var('grid_shape') == 'hexagon' -%}
        {%- set even_row = '(2 * floor(' ~ y ~ ' / (2 * ' ~ h ~ ') + 0.5))' -%}
        {%- set even_col = 'floor(' ~ x ~ ' / ' ~ d ~ ' + 0.5)' -%}
        {%- set odd_row = '(2 * floor((' ~ y ~ ' - ' ~ h ~ ') / (2 * ' ~ h ~ ') + 0.5) + 1)' -%}
        {%- set odd_col = 'floor(' ~ x ~ ' / ' ~ d ~ ')' -%}
        case
            when pow({{ x }} - {{ even_col }} * {{ d }}, 2)
                    + pow({{ y }} - {{ even_row }} * {{ h }}, 2)
                <= pow({{ x }} - ({{ odd_col }} + 0.5) * {{ d }}, 2)
                    + pow({{ y }} - {{ odd_row }} * {{ h }}, 2)
                then {'cell_row': cast({{ even_row }} as bigint),
                      'cell_col': cast({{ even_col }} as bigint)}
            else {'cell_row': cast({{ odd_row }} as bigint),
                  'cell_col': cast({{ odd_col }} as bigint)}
        end
    {%- else -%}
        {'cell_row': cast(floor({{ y }} / {{ d }}) as bigint),
         'cell_col': cast(floor({{ x }} / {{ d }}) as bigint)}
    {%- endif -%}
{%- endmacro %}


{% macro grid_cell_id(cell_row, cell_col) -%}
    {#- Readable, stable id: 'r<row>c<col>' (e.g. r12164c1096; indices may be negative). -#}
    ('r' || cast({{ cell_row }} as varchar) || 'c' || cast({{ cell_col }} as varchar))
{%- endmacro %}


{% macro grid_centre_x(cell_row, cell_col) -%}
    {%- if var('grid_shape') == 'hexagon' -%}
        (({{ cell_col }} + 0.5 * abs({{ cell_row }} % 2)) * {{ grid_cell_m() }})
    {%- else -%}
        (({{ cell_col }} + 0.5) * {{ grid_cell_m() }})
    {%- endif -%}
{%- endmacro %}


{% macro grid_centre_y(cell_row) -%}
    {%- if var('grid_shape') == 'hexagon' -%}
        ({{ cell_row }} * {{ grid_row_spacing_m() }})
    {%- else -%}
        (({{ cell_row }} + 0.5) * {{ grid_cell_m() }})
    {%- endif -%}
{%- endmacro %}


{% macro grid_cell_polygon(centre_x, centre_y) -%}
    {#- The cell around a centre, a POLYGON in projected metres (counter-clockwise). -#}
    {%- set d = grid_cell_m() -%}
    {%- if var('grid_shape') == 'hexagon' -%}
        {#- s = d / sqrt(3): the side, also the distance from the centre to a corner -#}
        {%- set s = '(' ~ d ~ ' / sqrt(3))' -%}
        {%- set corners = [
            ('+ ' ~ d ~ ' / 2', '+ ' ~ s ~ ' / 2'),
            ('', '+ ' ~ s),
            ('- ' ~ d ~ ' / 2', '+ ' ~ s ~ ' / 2'),
            ('- ' ~ d ~ ' / 2', '- ' ~ s ~ ' / 2'),
            ('', '- ' ~ s),
            ('+ ' ~ d ~ ' / 2', '- ' ~ s ~ ' / 2'),
            ('+ ' ~ d ~ ' / 2', '+ ' ~ s ~ ' / 2'),
        ] -%}
    {%- else -%}
        {%- set corners = [
            ('- ' ~ d ~ ' / 2', '- ' ~ d ~ ' / 2'),
            ('+ ' ~ d ~ ' / 2', '- ' ~ d ~ ' / 2'),
            ('+ ' ~ d ~ ' / 2', '+ ' ~ d ~ ' / 2'),
            ('- ' ~ d ~ ' / 2', '+ ' ~ d ~ ' / 2'),
            ('- ' ~ d ~ ' / 2', '- ' ~ d ~ ' / 2'),
        ] -%}
    {%- endif -%}
    ST_MakePolygon(ST_MakeLine([
        {%- for dx, dy in corners %}
        ST_Point({{ centre_x }} {{ dx }}, {{ centre_y }} {{ dy }}){{ ',' if not loop.last }}
        {%- endfor %}
    ]))
{%- endmacro %}
