{#
  Example mart: revenue, orders, units, tax and refunds per business day, channel, location and
  currency, built from the staging models (live rows only). It is Kura's v_daily_sales rebuilt
  in dbt, and tests/kura_daily_sales_ties_to_v_daily_sales.sql proves they agree row for row:
  start your own reporting from here. Refunds count on their own business day. A cancelled order
  counts on its own day when it was refunded (the refund reverses it on the refund's day, as
  Shopify's reports book a cancellation) and is left out when nothing was refunded (never paid).
  Money stays DECIMAL/NUMERIC and is never summed across currencies.
#}
{{ config(materialized='table') }}

with live_orders as (
    select * from {{ ref('stg_kura__orders') }} as o
    where o.cancelled_at is null
        or exists (
            select 1 from {{ ref('stg_kura__refunds') }} as cr
            where cr.source = o.source and cr.source_account = o.source_account and cr.order_id = o.source_id
        )
),

facts as (
    select
        o.business_date, o.channel, o.location_id, o.currency,
        coalesce(o.total, 0) as revenue, 1 as orders, 0 as units, coalesce(o.tax, 0) as tax, 0 as refunds
    from live_orders as o

    union all

    select
        o.business_date, o.channel, o.location_id, o.currency,
        0 as revenue, 0 as orders, l.quantity as units, 0 as tax, 0 as refunds
    from {{ ref('stg_kura__order_lines') }} as l
    join live_orders as o
        on l.source = o.source and l.source_account = o.source_account and l.order_id = o.source_id

    union all

    select
        r.business_date, r.channel, r.location_id, r.currency,
        0 as revenue, 0 as orders, 0 as units, 0 as tax, coalesce(r.amount, 0) as refunds
    from {{ ref('stg_kura__refunds') }} as r
)

select
    business_date,
    channel,
    location_id,
    currency,
    sum(revenue) as revenue,
    sum(orders) as orders,
    sum(units) as units,
    sum(tax) as tax,
    sum(refunds) as refunds,
    sum(revenue) - sum(refunds) as net_revenue
from facts
group by business_date, channel, location_id, currency
