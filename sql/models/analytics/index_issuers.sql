select
  i.index_code,
  i.as_of,
  i.cap_rank,
  i.issuer_id,
  i.issuer_source,
  i.issuer_name,
  i.primary_ticker,
  i.tickers,
  i.share_classes,
  i.classes_with_cap,
  i.cap_rule,
  i.gics_sector,
  i.market_cap,
  i.weight,
  sum(i.weight) over (partition by i.index_code, i.as_of order by i.cap_rank rows between unbounded preceding and current row) as cumulative_weight,
  i.revenue_ttm,
  i.price_to_sales
from core.index_issuers i
