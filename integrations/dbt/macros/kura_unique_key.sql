{#
  Generic test: no two rows share the combination of `key_columns` (a table's primary key, e.g.
  source, source_account, source_id). Fails with one row per duplicated key and how many rows
  hold it. NULLs group together, so a key column's not_null test is separate. (dbt_utils'
  unique_combination_of_columns does the same; this keeps the package free of dependencies.)
#}
{% test kura_unique_key(model, key_columns) %}
{%- set key = key_columns | join(', ') -%}
select {{ key }}, count(*) as kura_rows
from {{ model }}
group by {{ key }}
having count(*) > 1
{% endtest %}
