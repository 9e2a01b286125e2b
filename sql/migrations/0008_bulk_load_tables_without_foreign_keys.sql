-- Raw fact tables are bulk-loaded with COPY, and a foreign key costs a trigger call per row:
-- on the embedded database it made loading 300,000 rows six times slower. The engine writes
-- file_id and run_id in the same transaction that creates the file and run rows, so the keys
-- add no protection there. (etl.rejects and the core tables keep theirs.)
alter table raw.custom_series drop constraint if exists custom_series_file_id_fkey;
alter table raw.custom_series drop constraint if exists custom_series_run_id_fkey;
alter table raw.company_facts drop constraint if exists company_facts_file_id_fkey;
alter table raw.company_facts drop constraint if exists company_facts_run_id_fkey;
-- The same for the derived table the transform fills from raw joined to etl.source_files.
alter table core.custom_series drop constraint if exists custom_series_file_id_fkey;
alter table core.custom_series drop constraint if exists custom_series_run_id_fkey;
