{#-
  The select of a thin view or an import CTE: the listed columns of `relation`, one a line, as the relation types
  them, optionally filtered by a `where` condition. The *_selected views are a doc comment and one call of it:
  marts read intermediate, never staging, so a rewrite of staging has to keep the columns a thin view lists and
  nothing else.
-#}
{% macro selected_columns(relation, columns, where=none) -%}
select
    {%- for column in columns %}
    {{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
from {{ relation }}
{%- if where is not none %}
where {{ where }}
{%- endif %}
{%- endmacro %}
