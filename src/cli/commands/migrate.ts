import { migrate, migrationStatus } from '../../migrate/migrator.js';
import { print, withDatabase, type CliContext } from '../context.js';

export async function migrateCommand(ctx: CliContext, options: { status?: boolean; json?: boolean }): Promise<number> {
  return withDatabase(ctx, 'bubblewatch migrate', async (handle) => {
    if (options.status) {
      const status = await migrationStatus(handle);
      if (options.json) print(ctx, JSON.stringify({ database: handle.kind, location: handle.location, ...status }));
      else {
        print(ctx, `${handle.kind} database at ${handle.location}: ${status.applied} of ${status.available} migrations applied`);
        for (const name of status.pending) print(ctx, `  pending: ${name}`);
      }
      return 0;
    }
    const result = await migrate(handle, ctx.logger);
    if (options.json) {
      print(
        ctx,
        JSON.stringify({
          database: handle.kind,
          location: handle.location,
          version: result.version,
          applied: result.applied.map((m) => m.name),
          rebuilt: result.rebuilt,
          dropped: result.dropped,
        }),
      );
    } else if (result.applied.length === 0 && result.rebuilt.length === 0 && result.dropped.length === 0) {
      print(ctx, `${handle.kind} database at ${handle.location} is up to date (version ${result.version}); nothing to apply`);
    } else {
      print(
        ctx,
        result.applied.length > 0
          ? `${handle.kind} database at ${handle.location} migrated to version ${result.version}:`
          : `${handle.kind} database at ${handle.location} is at version ${result.version}; models changed:`,
      );
      for (const m of result.applied) print(ctx, `  applied ${m.name}`);
      for (const name of result.rebuilt) print(ctx, `  built ${name}`);
      for (const name of result.dropped) print(ctx, `  dropped ${name} (no longer a model)`);
    }
    return 0;
  });
}
