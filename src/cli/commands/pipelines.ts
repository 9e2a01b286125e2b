import { formatTable } from '../format.js';
import { print, type CliContext } from '../context.js';

export function pipelinesCommand(ctx: CliContext, options: { json?: boolean }): number {
  const rows = ctx.registry.map((p) => {
    const c = ctx.config.pipelines.get(p.name)!;
    return {
      name: p.name,
      status: c.enabled ? 'enabled' : c.configured ? 'disabled' : 'not configured',
      schedule: `${c.schedule.cron} (${c.schedule.timezone})`,
      sources: c.sources.map((s) => (s.kind === 'url' ? s.url : `${s.path} [${s.pattern}]`)),
      views: p.views,
      description: p.description,
    };
  });
  if (options.json) {
    print(ctx, JSON.stringify(rows, null, 2));
    return 0;
  }
  print(
    ctx,
    formatTable(rows, [
      { header: 'pipeline', value: (r) => r.name },
      { header: 'status', value: (r) => r.status },
      { header: 'schedule', value: (r) => r.schedule },
      { header: 'sources', value: (r) => r.sources.join(', '), max: 60 },
      { header: 'views', value: (r) => r.views.join(', ') },
    ]),
  );
  print(ctx, `\nconfig: ${ctx.config.file}`);
  return 0;
}
