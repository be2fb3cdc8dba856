{#
  Singular test: the example mart and Kura's own v_daily_sales hold the same rows. Returns each
  row found on one side only (so a failure shows the day, channel, location and both figures).
#}
with mart as (
    select business_date, channel, location_id, currency, revenue, orders, units, tax, refunds, net_revenue
    from {{ ref('kura_daily_sales_by_channel') }}
),

kura_view as (
    select business_date, channel, location_id, currency, revenue, orders, units, tax, refunds, net_revenue
    from {{ source('kura', 'v_daily_sales') }}
),

only_in_mart as (
    select * from mart
    {{ dbt.except() }}
    select * from kura_view
),

only_in_view as (
    select * from kura_view
    {{ dbt.except() }}
    select * from mart
)

select 'only in kura_daily_sales_by_channel' as found, * from only_in_mart
union all
select 'only in v_daily_sales' as found, * from only_in_view
