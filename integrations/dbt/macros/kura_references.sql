{#
  Generic test on a column naming another record of the same source and account (an order line's
  `order_id`): every non-null value has its parent row in `to`, matched on source,
  source_account and the parent's `parent_column`. Fails with one row per orphan. Parents are
  matched with their soft-deleted rows, so a deleted order still owns its lines.
#}
{% test kura_references(model, column_name, to, parent_column='source_id') %}
select child.source, child.source_account, child.{{ column_name }}
from {{ model }} as child
left join {{ to }} as parent
    on parent.source = child.source
    and parent.source_account = child.source_account
    and parent.{{ parent_column }} = child.{{ column_name }}
where child.{{ column_name }} is not null
    and parent.{{ parent_column }} is null
{% endtest %}
