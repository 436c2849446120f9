{% test leadcal_between(model, column_name, min_value=none, max_value=none) %}
{#- leadcal: rows whose column is NULL or outside [min_value, max_value] (a None side is open) -#}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is null
{%- if min_value is not none %} or {{ column_name }} < {{ min_value }}{% endif %}
{%- if max_value is not none %} or {{ column_name }} > {{ max_value }}{% endif %}
{% endtest %}
