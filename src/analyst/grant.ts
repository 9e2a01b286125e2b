import { quoteIdent, type DatabaseHandle, type SqlConnection } from '../db/connect.js';
import { ConfigError } from '../errors.js';
import { scramSha256Verifier } from './scram.js';

/**
 * A read-only role for analysts and BI tools: USAGE on schema analytics and SELECT on its
 * views, now and in future (default privileges), and nothing else unless asked: no writes
 * anywhere, no etl or raw unless included.
 *
 * The analytics views read core, etl and raw tables. A view is run with its owner's rights
 * (PostgreSQL's default, security_invoker off, which no bubblewatch view changes), so the role
 * needs no rights on those tables; the tests prove it on PostgreSQL and PGlite.
 *
 * The result is declarative: running it again with other `include` converges the role to
 * exactly the requested access (schemas left out are revoked).
 */

export const INCLUDABLE_SCHEMAS = ['raw', 'etl'] as const;
export type IncludableSchema = (typeof INCLUDABLE_SCHEMAS)[number];

/** Every bubblewatch schema the role might have been given, and so may need revoking. */
const BUBBLEWATCH_SCHEMAS = ['analytics', 'core', 'raw', 'etl'] as const;

export interface GrantAnalystOptions {
  /** The role may log in with this password (only its SCRAM verifier reaches the database). */
  readonly password?: string;
  readonly include?: readonly IncludableSchema[];
}

export interface SchemaAccess {
  readonly schema: string;
  readonly usage: boolean;
  /** Tables and views in the schema the role can SELECT. */
  readonly readable: number;
  readonly relations: number;
  /** Relations the role could INSERT, UPDATE, DELETE or TRUNCATE; empty for a read-only role. */
  readonly writable: readonly string[];
}

export interface GrantAnalystResult {
  readonly role: string;
  readonly created: boolean;
  readonly login: boolean;
  readonly passwordSet: boolean;
  readonly schemas: readonly string[];
  /** Roles whose future tables and views in those schemas the role will be able to read. */
  readonly defaultPrivilegesFor: readonly string[];
  readonly access: readonly SchemaAccess[];
}

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function validateRoleName(role: string): void {
  if (!ROLE_NAME.test(role)) {
    throw new ConfigError(`role: got "${role}", expected a lower-case name of letters, digits and underscores, like grafana or analyst`);
  }
  if (role.startsWith('pg_') || role === 'public' || role === 'postgres') {
    throw new ConfigError(`role: "${role}" is reserved or the superuser; choose another name, like analyst`);
  }
}

export async function grantAnalyst(handle: DatabaseHandle, role: string, options: GrantAnalystOptions = {}): Promise<GrantAnalystResult> {
  validateRoleName(role);
  const include = [...new Set(options.include ?? [])];
  for (const schema of include) {
    if (!(INCLUDABLE_SCHEMAS as readonly string[]).includes(schema)) {
      throw new ConfigError(`--include: got "${schema}", expected one of ${INCLUDABLE_SCHEMAS.join(', ')}`);
    }
  }
  const readSchemas = ['analytics', ...include];
  const id = quoteIdent(role);

  return handle.withTransaction(async (conn) => {
    const me = (await conn.query<{ me: string }>('select current_user as me')).rows[0]!.me;
    if (me === role) throw new ConfigError(`role: ${role} is the role bubblewatch connects as; choose another name for the read-only role`);
    const existing = await checkExisting(conn, role);

    const password = options.password === undefined ? undefined : literal(scramSha256Verifier(options.password));
    await ddl(conn, role, async () => {
      if (!existing) await conn.script(`create role ${id} ${password ? `login password ${password}` : 'nologin'}`);
      else if (password) await conn.script(`alter role ${id} login password ${password}`);
      // A session as this role is read-only unless it asks otherwise (it has no rights to write anyway).
      await conn.script(`alter role ${id} set default_transaction_read_only = on`);
    });

    // Whose future objects to cover: ours, and the owners of what is in the schemas now.
    const { rows: owners } = await conn.query<{ owner: string }>(
      `select distinct owner from (
         select pg_get_userbyid(c.relowner) as owner from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = any($1::text[])
         union select pg_get_userbyid(n.nspowner) from pg_namespace n where n.nspname = any($1::text[])
         union select current_user::text
       ) o where pg_has_role(current_user, owner, 'MEMBER') order by owner`,
      [BUBBLEWATCH_SCHEMAS],
    );
    const defaultFor = owners.map((o) => o.owner);

    await ddl(conn, role, async () => {
      for (const schema of BUBBLEWATCH_SCHEMAS) {
        const s = quoteIdent(schema);
        const exists = (await conn.query(`select 1 from pg_namespace where nspname = $1`, [schema])).rows.length > 0;
        if (!exists) continue;
        // Start from nothing in every schema, then give read access where asked.
        await conn.script(
          `revoke all on all tables in schema ${s} from ${id};
           revoke all on all sequences in schema ${s} from ${id};
           revoke all on schema ${s} from ${id};`,
        );
        for (const owner of defaultFor) {
          await conn.script(`alter default privileges for role ${quoteIdent(owner)} in schema ${s} revoke all on tables from ${id}`);
        }
        if (!readSchemas.includes(schema)) continue;
        await conn.script(
          `grant usage on schema ${s} to ${id};
           grant select on all tables in schema ${s} to ${id};`,
        );
        for (const owner of defaultFor) {
          await conn.script(`alter default privileges for role ${quoteIdent(owner)} in schema ${s} grant select on tables to ${id}`);
        }
      }
    });

    return {
      role,
      created: !existing,
      login: password !== undefined || existing?.rolcanlogin === true,
      passwordSet: password !== undefined,
      schemas: readSchemas,
      defaultPrivilegesFor: defaultFor,
      access: await schemaAccess(conn, role),
    };
  });
}

interface ExistingRole {
  rolsuper: boolean;
  rolcreaterole: boolean;
  rolcreatedb: boolean;
  rolreplication: boolean;
  rolbypassrls: boolean;
  rolcanlogin: boolean;
}

/** An existing role is reused only if nothing about it lets it write or escalate. */
async function checkExisting(conn: SqlConnection, role: string): Promise<ExistingRole | undefined> {
  const { rows } = await conn.query<ExistingRole>(
    `select rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolcanlogin from pg_roles where rolname = $1`,
    [role],
  );
  const existing = rows[0];
  if (!existing) return undefined;
  const powers = (
    [
      ['SUPERUSER', existing.rolsuper],
      ['CREATEROLE', existing.rolcreaterole],
      ['CREATEDB', existing.rolcreatedb],
      ['REPLICATION', existing.rolreplication],
      ['BYPASSRLS', existing.rolbypassrls],
    ] as const
  )
    .filter(([, on]) => on)
    .map(([name]) => name);
  if (powers.length > 0) {
    throw new ConfigError(`role ${role} already exists with ${powers.join(', ')}; it cannot be made read-only. Choose another name, or remove those attributes first`);
  }
  const { rows: memberOf } = await conn.query<{ rolname: string }>(
    `select r.rolname from pg_auth_members m join pg_roles r on r.oid = m.roleid join pg_roles u on u.oid = m.member where u.rolname = $1 order by 1`,
    [role],
  );
  if (memberOf.length > 0) {
    throw new ConfigError(
      `role ${role} already exists and is a member of ${memberOf.map((r) => r.rolname).join(', ')}, whose rights it inherits; ` +
        `a read-only role should belong to no other role. Choose another name, or REVOKE those memberships first`,
    );
  }
  return existing;
}

/** Role DDL needs CREATEROLE (or ownership); say so rather than print a bare permission error. */
async function ddl(conn: SqlConnection, role: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    if ((error as { code?: string }).code === '42501') {
      throw new ConfigError(
        `cannot set up role ${role}: ${(error as Error).message}. Run grant-analyst as a user with CREATEROLE that owns the bubblewatch schemas (the one that migrated the database)`,
      );
    }
    throw error;
  }
}

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** What the role can do in each bubblewatch schema, from the catalog's own privilege checks. */
export async function schemaAccess(conn: SqlConnection, role: string): Promise<SchemaAccess[]> {
  const { rows } = await conn.query<{ schema: string; usage: boolean; readable: number; relations: number; writable: string[] | null }>(
    `select n.nspname as schema,
            has_schema_privilege($1, n.oid, 'USAGE') as usage,
            count(c.oid) filter (where has_table_privilege($1, c.oid, 'SELECT'))::int as readable,
            count(c.oid)::int as relations,
            array_agg(c.relname::text order by c.relname) filter (where has_table_privilege($1, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')) as writable
     from pg_namespace n
     left join pg_class c on c.relnamespace = n.oid and c.relkind in ('r', 'v', 'm', 'p', 'f')
     where n.nspname = any($2::text[])
     group by n.oid, n.nspname
     order by array_position($2::text[], n.nspname::text)`,
    [role, BUBBLEWATCH_SCHEMAS],
  );
  return rows.map((r) => ({ ...r, writable: r.writable ?? [] }));
}
