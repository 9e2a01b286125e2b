select t.index_code, t.as_of, t.n, t.issuers_counted, t.top_n_market_cap, t.share
from core.index_top_n_shares t
