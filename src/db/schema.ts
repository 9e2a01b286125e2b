import type { CheckFailuresTable, CheckResultsTable, TableCountsTable } from './tables/check-results.table.js';
import type { RejectsTable } from './tables/rejects.table.js';
import type { RunFilesTable } from './tables/run-files.table.js';
import type { RunsTable } from './tables/runs.table.js';
import type { SchemaMigrationsTable } from './tables/schema-migrations.table.js';
import type { FileFailuresTable, PipelineLocksTable, SourceFilesTable } from './tables/source-files.table.js';
import type { BackfillsTable, PartitionsTable, ScheduleTicksTable } from './tables/scheduling.table.js';

/**
 * The tables the engine reads and writes through kysely. Pipeline tables (raw.*, core.*)
 * are written by COPY and by SQL transforms, and read by analysts through analytics views.
 */
export interface Database {
  'etl.runs': RunsTable;
  'etl.source_files': SourceFilesTable;
  'etl.run_files': RunFilesTable;
  'etl.file_failures': FileFailuresTable;
  'etl.pipeline_locks': PipelineLocksTable;
  'etl.rejects': RejectsTable;
  'etl.check_results': CheckResultsTable;
  'etl.check_failures': CheckFailuresTable;
  'etl.table_counts': TableCountsTable;
  'etl.schema_migrations': SchemaMigrationsTable;
  'etl.schedule_ticks': ScheduleTicksTable;
  'etl.partitions': PartitionsTable;
  'etl.backfills': BackfillsTable;
}
