import type { Generated, Selectable } from 'kysely';

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  checksum: string;
  applied_at: Generated<Date>;
}

export type SchemaMigration = Selectable<SchemaMigrationsTable>;
