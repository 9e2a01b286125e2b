-- raw.index_constituents is append-only provenance, bulk-loaded with COPY: every index on it
-- is paid for on every row of every load. A benchmark of 4.4M rows (bench/) found COPY into
-- the table 3× slower than into the same columns without indexes. Keep only what the
-- transforms look up, in the cheapest form that serves them:
--   - the primary key (file_id, line_no) enforced what the loader guarantees by construction
--     (one row per line of a file version) and served no query: dropped;
--   - rows of the files a run loaded or superseded (constituents_10_scope.sql): file ids grow
--     with load order, so a BRIN index on file_id finds them at almost no cost per row;
--   - cap rows of the dates a run recomputes (constituents_20_rows.sql): files arrive roughly in
--     date order (a file per day, or per year), so a BRIN index on as_of replaces the B-tree;
--   - issuer-map rows (few, read by every run): a partial index that cap rows never enter.
alter table raw.index_constituents drop constraint index_constituents_pkey;
drop index raw.index_constituents_date_idx;
create index index_constituents_file_brin on raw.index_constituents using brin (file_id);
create index index_constituents_as_of_brin on raw.index_constituents using brin (as_of);
create index index_constituents_issuer_rows_idx on raw.index_constituents (file_id, line_no) where record_kind = 'issuer';
