import { createTask, type ScheduledTask } from 'node-cron';

/**
 * Cron arithmetic the scheduler needs beyond "call me at the next tick": which ticks fell in
 * a window (the ones missed while no scheduler was running) and when the next one is.
 * node-cron's own matcher decides what matches, so both agree with the live schedule.
 */

const matchers = new Map<string, ScheduledTask>();

function matcher(expression: string, timezone: string): ScheduledTask {
  const key = `${expression}\u0000${timezone}`;
  let task = matchers.get(key);
  if (!task) {
    task = createTask(expression, () => {}, { timezone, name: `matcher:${key}` });
    matchers.set(key, task);
  }
  return task;
}

function hasSeconds(expression: string): boolean {
  return expression.trim().split(/\s+/).length === 6;
}

/** node-cron's own walker (not in its typings): jumps to the next match instead of testing every minute. */
function walker(task: ScheduledTask): ((after: Date) => Date) | undefined {
  const tm = (task as unknown as { timeMatcher?: { getNextMatch?: (d: Date) => Date } }).timeMatcher;
  return typeof tm?.getNextMatch === 'function' ? (d) => tm.getNextMatch!(d) : undefined;
}

/** The first tick after `after` (null if none within a year or two, e.g. 30 February). */
export function nextTick(expression: string, timezone: string, after: Date = new Date()): Date | null {
  const task = matcher(expression, timezone);
  const walk = walker(task);
  if (walk) {
    try {
      const next = walk(after);
      return next.getTime() > after.getTime() ? next : null;
    } catch {
      return null;
    }
  }
  const step = hasSeconds(expression) ? 1000 : 60_000;
  let t = Math.floor(after.getTime() / step) * step + step;
  for (let i = 0; i < (step === 1000 ? 2 * 86_400 : 366 * 1440); i++, t += step) if (task.match(new Date(t))) return new Date(t);
  return null;
}

/**
 * Ticks strictly after `from` and at or before `to`, oldest first; when there are more than
 * `limit`, the newest `limit` (a catch-up policy wants the latest).
 */
export function ticksBetween(expression: string, timezone: string, from: Date, to: Date, limit: number): Date[] {
  const found: Date[] = [];
  let cursor = from;
  for (;;) {
    const next = nextTick(expression, timezone, cursor);
    if (!next || next.getTime() > to.getTime()) break;
    found.push(next);
    if (found.length > limit) found.shift();
    cursor = next;
  }
  return found;
}

/** Round a tick's wake-up time to the tick itself (node-cron may call a few ms late). */
export function tickTime(date: Date, expression: string): Date {
  const step = hasSeconds(expression) ? 1000 : 60_000;
  return new Date(Math.floor(date.getTime() / step) * step);
}
