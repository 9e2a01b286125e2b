select s.index_code, s.as_of, s.gics_sector, s.issuers, s.market_cap, s.share, s.is_tech
from core.index_sector_shares s
