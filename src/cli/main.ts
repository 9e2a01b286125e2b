import { Command, CommanderError, Option } from 'commander';
import { BubblewatchError, EXIT_RUN_FAILED, EXIT_USAGE, describeThrown, redactSecrets, rememberSecrets } from '../errors.js';
import { packageVersion } from '../paths.js';
import { migrateCommand } from './commands/migrate.js';
import { pipelinesCommand } from './commands/pipelines.js';
import { runCommand } from './commands/run.js';
import { runsCommand } from './commands/runs.js';
import { startCommand } from './commands/start.js';
import { dashboardCommand } from './commands/dashboard.js';
import { backfillCommand, type BackfillOptions } from './commands/backfill.js';
import { statusCommand } from './commands/status.js';
import { alertsCommand, rulesCheckCommand, rulesTestCommand } from './commands/alerts.js';
import { reportCommand } from './commands/report.js';
import { sqlCommand } from './commands/sql.js';
import { grantAnalystCommand } from './commands/grant-analyst.js';
import { docsCommand } from './commands/docs.js';
import { createContext, type GlobalOptions } from './context.js';
import { escapeForTerminal } from './format.js';

/**
 * The bubblewatch command line. Commands return an exit code; errors travel up to here,
 * where they are printed once:
 *   0  success
 *   1  a run failed (the run ledger says why), or the database refused
 *   2  bad usage or configuration
 */

/**
 * Where a run of the command line reads and writes: the process's own streams and environment,
 * or, for a caller that runs commands in its own process (the tests), streams of its choosing.
 */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  /** Error messages, commander's usage errors and the log lines. */
  readonly stderr: NodeJS.WritableStream;
  /**
   * The environment main and the config loading read. Commander (BUBBLEWATCH_CONFIG) and a few
   * commands read process.env themselves, so a caller in its own process sets those there too.
   */
  readonly env: NodeJS.ProcessEnv;
}

/** Columns of a terminal stream, for commander's help layout; 80 for a pipe or a file, as commander does. */
function terminalColumns(stream: NodeJS.WritableStream): number {
  const tty = stream as NodeJS.WriteStream;
  return (tty.isTTY ? tty.columns : undefined) ?? 80;
}

function buildProgram(setExit: (code: number) => void, io: CliIo): Command {
  const program = new Command('bubblewatch')
    .description('Scheduled ETL and Postgres warehouse for the figures behind the "is AI infrastructure a bubble?" debate')
    .version(packageVersion(), '-V, --version', 'print the version')
    .addOption(new Option('-c, --config <file>', 'config file (YAML or JSON)').env('BUBBLEWATCH_CONFIG'))
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    // Subcommands inherit these streams when they are created below.
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      getOutHelpWidth: () => terminalColumns(io.stdout),
      getErrHelpWidth: () => terminalColumns(io.stderr),
      outputError: (text, write) => write(text),
    })
    .addHelpText(
      'after',
      `
Environment:
  DATABASE_URL              PostgreSQL connection string; without it an embedded database is used
  BUBBLEWATCH_CONFIG        config file (default: config/bubblewatch.yaml in the package)
  BUBBLEWATCH_EMBEDDED_DIR  folder of the embedded database (default from the config file)
  LOG_LEVEL                 trace | debug | info | warn | error
  BUBBLEWATCH_LOG_FORMAT    auto | pretty | json

Exit codes: 0 success, 1 a run failed, 2 bad usage or configuration.`,
    );

  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const context = () => createContext(globals(), io.stdout, { stderr: io.stderr, env: io.env });

  program
    .command('migrate')
    .description('apply pending SQL migrations (idempotent; refuses a database whose history diverged)')
    .option('--status', 'show applied and pending migrations without applying any')
    .option('--json', 'print JSON instead of text')
    .action(async (options: { status?: boolean; json?: boolean }) => {
      setExit(await migrateCommand(context(), options));
    });

  program
    .command('run')
    .description('run pipelines once now: load new source files, transform, check (migrates first)')
    .argument('[pipelines...]', 'pipeline names (see: bubblewatch pipelines)')
    .option('-a, --all', 'run every enabled pipeline')
    .option('--full-refresh', 'recompute transforms over all loaded data, not just what this run touched')
    .option('--retry-failed', 'read again the files that failed before, although their bytes have not changed')
    .option('--retire-missing', 'retire the rows of files no longer among the sources (whatever pipelines.<name>.on_missing says)')
    .option('--no-preview', 'do not print a preview of the loaded data')
    .option('--json', 'print the run summaries as JSON')
    .action(async (names: string[], options: { all?: boolean; fullRefresh?: boolean; json?: boolean; preview?: boolean; retryFailed?: boolean; retireMissing?: boolean }) => {
      setExit(await runCommand(context(), names, options));
    });

  program
    .command('start')
    .description('bring every enabled pipeline current once, print a summary, then run on schedule until Ctrl-C')
    .option('--once', 'stop after the first pass (for use from cron or CI)')
    .option('--no-initial-run', 'do not run anything at start; only wait for ticks')
    .option('--no-preview', 'do not print a preview of the loaded data')
    .option('--serve [port]', 'also serve the embedded database to psql/Grafana on a local port (default 5433)')
    .option('--serve-host <host>', 'interface for --serve', '127.0.0.1')
    .action(async (options: { once?: boolean; initialRun?: boolean; preview?: boolean; serve?: boolean | string; serveHost?: string }) => {
      setExit(await startCommand(context(), options));
    });

  program
    .command('backfill')
    .description('run a pipeline over its partitions (periods) from --from to --to; resumable')
    .argument('<pipeline>', 'a pipeline with partitions (see: bubblewatch pipelines)')
    .requiredOption('--from <period>', 'first partition: 2025-06-30 (day), 2025-06 (month) or 2025Q2 (quarter); a date stands for the period holding it')
    .option('--to <period>', 'last partition, inclusive (default: the period holding today)')
    .option('--only <which>', 'missing (never run successfully), failed (those and failed ones) or all', 'missing')
    .option('--dry-run', 'list the partitions and what would happen to each, and run nothing')
    .option('-c, --concurrency <n>', 'partitions in flight at once', '1')
    .option('--json', 'print JSON instead of text')
    .action(async (name: string, options: BackfillOptions) => {
      setExit(await backfillCommand(context(), name, options));
    });

  program
    .command('dashboard')
    .description('how stretched each indicator is against its own history: latest value, change, percentile, z-score')
    .option('-f, --family <family>', 'only this family (hyperscaler, hyperscaler_group, index_concentration, valuation, macro, custom; see analytics.indicators)')
    .option('-i, --indicator <name>', 'only this indicator')
    .option('-s, --subject <subject>', 'only this subject (a ticker, big5, SP500, US, …)')
    .option('--json', 'print JSON instead of a table')
    .action(async (options: { family?: string; indicator?: string; subject?: string; json?: boolean }) => {
      setExit(await dashboardCommand(context(), options));
    });

  program
    .command('runs')
    .description('list recent runs, or show one run in detail: files, rejected rows, data checks')
    .argument('[run-id]', 'show this run in detail')
    .option('-p, --pipeline <name>', 'only runs of this pipeline')
    .option('--status <status>', 'only runs with this status (running, succeeded, failed, skipped, interrupted)')
    .option('-n, --limit <n>', 'how many runs to list', '20')
    .option('--json', 'print JSON instead of a table')
    .action(async (runId: string | undefined, options: { pipeline?: string; status?: string; limit: string; json?: boolean }) => {
      setExit(await runsCommand(context(), runId, options));
    });

  program
    .command('status')
    .description('each pipeline: last run, failures in a row, next scheduled tick, data freshness')
    .option('--json', 'print JSON instead of a table')
    .action(async (options: { json?: boolean }) => {
      setExit(await statusCommand(context(), options));
    });

  program
    .command('report')
    .description('the whole argument as one self-contained HTML page (inline SVG charts, nothing fetched)')
    .option('-o, --out <file>', 'HTML file to write', 'report.html')
    .option('--json', 'print what was written (path, bytes, charts) as JSON')
    .action(async (options: { out: string; json?: boolean }) => {
      setExit(await reportCommand(context(), options));
    });

  program
    .command('sql')
    .description('serve the embedded database on a local port so psql, DBeaver, Grafana or a notebook can query it (Ctrl-C to stop)')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('-p, --port <port>', 'TCP port (0 picks a free one)', '5433')
    .action(async (options: { host: string; port: string }) => {
      setExit(await sqlCommand(context(), { host: options.host, port: options.port }));
    });

  program
    .command('grant-analyst')
    .description('create or update a read-only role for analysts and BI tools (reads analytics; --include raw/etl for more)')
    .argument('<role>', 'role name')
    .option('--password-env <var>', 'environment variable holding the password (without it the role cannot log in)')
    .option('--include <schema>', 'also grant read on raw or etl (repeatable)', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--json', 'print JSON instead of text')
    .action(async (role: string, options: { passwordEnv?: string; include: string[]; json?: boolean }) => {
      setExit(
        await grantAnalystCommand(context(), role, {
          ...(options.passwordEnv ? { password_env: options.passwordEnv } : {}),
          include: options.include,
          ...(options.json ? { json: true } : {}),
        }),
      );
    });

  program
    .command('docs')
    .description('write the reference of the analytics views (docs/views.md) from the database catalog')
    .option('-o, --out <file>', 'file to write, or - for stdout (default docs/views.md)')
    .option('--check', 'write nothing; exit 1 when the file differs from what the database generates')
    .action(async (options: { out?: string; check?: boolean }) => {
      setExit(await docsCommand(context(), options));
    });

  program
    .command('alerts')
    .description('open alerts; --all for every transition in history')
    .option('--all', 'every transition (fired, resolved, pending, cleared), not only open alerts')
    .option('--since <date>', 'transitions from this period on (implies --all)')
    .option('--json', 'print JSON instead of a table')
    .action(async (options: { all?: boolean; since?: string; json?: boolean }) => {
      setExit(await alertsCommand(context(), options));
    });

  const rules = program.command('rules').description('check and test alert rules');
  rules
    .command('check')
    .description('validate the alert rules in the config (each indicator must be declared) and list them')
    .option('--json', 'print JSON instead of a table')
    .action(async (options: { json?: boolean }) => {
      setExit(await rulesCheckCommand(context(), options));
    });
  rules
    .command('test')
    .description('replay rules over history and show when each would have fired and resolved; writes nothing')
    .option('-r, --rule <id>', 'only this rule (even if disabled)')
    .option('--from <date>', 'show transitions from this period on')
    .option('--to <date>', 'replay history up to this period only')
    .option('--json', 'print JSON instead of text')
    .action(async (options: { rule?: string; from?: string; to?: string; json?: boolean }) => {
      setExit(await rulesTestCommand(context(), options));
    });
  for (const sub of rules.commands) sub.exitOverride().configureOutput({ outputError: (text, write) => write(text) });

  program
    .command('pipelines')
    .description('list the pipelines, their schedules and sources')
    .option('--json', 'print JSON instead of a table')
    .action((options: { json?: boolean }) => {
      setExit(pipelinesCommand(context(), options));
    });

  for (const command of program.commands) {
    command.exitOverride().showHelpAfterError('(run with --help for usage)').configureOutput({ outputError: (text, write) => write(text) });
  }
  return program;
}

export async function main(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const streams: CliIo = { stdout: io.stdout ?? process.stdout, stderr: io.stderr ?? process.stderr, env: io.env ?? process.env };
  const env = streams.env;
  let exitCode = 0;
  // Before anything can fail: the credentials in the environment never reach output.
  rememberSecrets({ DATABASE_URL: env.DATABASE_URL, PGPASSWORD: env.PGPASSWORD, BUBBLEWATCH_ALERT_WEBHOOK: env.BUBBLEWATCH_ALERT_WEBHOOK });
  const program = buildProgram((code) => (exitCode = code), streams);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with exit code 0; usage errors were already printed by commander.
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (error instanceof BubblewatchError) {
      streams.stderr.write(`bubblewatch: ${escapeForTerminal(redactSecrets(error.message))}\n`);
      return error.exitCode;
    }
    const e = error instanceof Error ? error : new Error(describeThrown(error));
    streams.stderr.write(`bubblewatch: ${escapeForTerminal(redactSecrets(e.message))}\n`);
    if (env.LOG_LEVEL === 'debug' || env.LOG_LEVEL === 'trace') {
      streams.stderr.write(escapeForTerminal(redactSecrets(e.stack ?? '')) + '\n');
    }
    return EXIT_RUN_FAILED;
  }
}
