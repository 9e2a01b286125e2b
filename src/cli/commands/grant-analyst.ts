import { grantAnalyst, INCLUDABLE_SCHEMAS, validateRoleName, type IncludableSchema } from '../../analyst/grant.js';
import { ConfigError } from '../../errors.js';
import { formatTable } from '../format.js';
import { print, withDatabase, type CliContext } from '../context.js';

/**
 * `bubblewatch grant-analyst <role> [--password-env VAR] [--include raw|etl]`: create or
 * update a read-only role for analysts and BI tools (Grafana, DBeaver, notebooks). The password
 * is read from the environment variable named, never from the command line or the config.
 */

export interface GrantAnalystCommandOptions {
  /** Name of the environment variable holding the password; without it the role is NOLOGIN (usable with SET ROLE). */
  readonly password_env?: string;
  /** Also read these schemas (all their tables); by default only analytics. */
  readonly include?: readonly string[];
  readonly json?: boolean;
  /** Where password_env is looked up; process.env by default. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export async function grantAnalystCommand(ctx: CliContext, role: string, options: GrantAnalystCommandOptions = {}): Promise<number> {
  validateRoleName(role);
  const include = parseInclude(options.include ?? []);
  const password = readPassword(options.password_env, options.env ?? process.env);
  return withDatabase(
    ctx,
    `bubblewatch grant-analyst ${role}`,
    async (handle) => {
      const result = await grantAnalyst(handle, role, { include, ...(password === undefined ? {} : { password }) });
      if (options.json) {
        print(ctx, JSON.stringify(result, null, 2));
        return 0;
      }
      const what = result.created ? 'created' : 'updated';
      const login = result.login ? (result.passwordSet ? `LOGIN, password from $${options.password_env}` : 'LOGIN') : 'NOLOGIN (use SET ROLE, or give --password-env to log in)';
      print(ctx, `role ${role} ${what}: ${login}; reads ${result.schemas.join(', ')}; writes nothing.`);
      print(ctx);
      print(
        ctx,
        formatTable(result.access, [
          { header: 'schema', value: (a) => a.schema },
          { header: 'usage', value: (a) => (a.usage ? 'yes' : 'no') },
          { header: 'readable', value: (a) => `${a.readable} of ${a.relations}`, align: 'right' },
          { header: 'writable', value: (a) => (a.writable.length === 0 ? 'none' : a.writable.join(', ')), max: 60 },
        ]),
      );
      print(ctx);
      print(ctx, `Views added to ${result.schemas.join(', ')} later are readable too (default privileges of ${result.defaultPrivilegesFor.join(', ')}).`);
      if (handle.kind === 'pglite') {
        print(ctx, `The embedded database checks no passwords: with \`bubblewatch sql\` running, connect with -U ${role} to work as this role.`);
      } else if (result.login) {
        print(ctx, `Connect as it: psql "postgres://${role}@<host>:<port>/<database>"  (the password from $${options.password_env ?? 'its variable'})`);
      }
      const writable = result.access.filter((a) => a.writable.length > 0);
      if (writable.length > 0) {
        // Should not happen: every bubblewatch schema was revoked and re-granted SELECT only.
        throw new Error(`role ${role} can still write to ${writable.map((a) => `${a.schema}.{${a.writable.join(',')}}`).join(', ')}`);
      }
      return 0;
    },
    { migrateFirst: true },
  );
}

function parseInclude(values: readonly string[]): IncludableSchema[] {
  // Accept repeated flags and comma lists: --include raw --include etl, --include raw,etl
  const names = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  const bad = names.filter((n) => !(INCLUDABLE_SCHEMAS as readonly string[]).includes(n));
  if (bad.length > 0) throw new ConfigError(`--include: got "${bad.join(', ')}", expected ${INCLUDABLE_SCHEMAS.join(' and/or ')}`);
  return names as IncludableSchema[];
}

function readPassword(variable: string | undefined, env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (variable === undefined) return undefined;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable)) {
    throw new ConfigError(`--password-env: got "${variable}", expected the NAME of an environment variable that holds the password (not the password itself)`);
  }
  const value = env[variable];
  if (value === undefined || value === '') {
    throw new ConfigError(`--password-env ${variable}: the environment variable ${variable} is not set or is empty`);
  }
  return value;
}
