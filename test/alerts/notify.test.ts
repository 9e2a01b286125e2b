import { afterEach, expect, it } from 'vitest';
import { webhookNotifier, type Notification } from '../../src/alerts/notify.js';
import { alertsSchema } from '../../src/alerts/rules.js';
import { memoryLogger } from '../helpers/pipelines.js';
import { ENDLESS_BOUND, startReceiver, type Receiver } from './receiver.js';

/** The webhook notifier on its own: bounded reads of what a receiver answers (issue 14, item 12). */

const rule = alertsSchema.parse({
  rules: [{ id: 'buffett_indicator_above_200', indicator: 'buffett_indicator_pct', subject: 'US', op: '>', threshold: 200, recover_below: 180, severity: 'warning' }],
}).rules[0]!;
// The Buffett indicator from the bundled FRED sample: US equities at 218% of GDP.
const notification: Notification = { rule, subject: 'US', state: 'firing', period: '2025-04-01', value: 218.4, message: 'US equities are 218.4% of GDP in 2025-04-01, above 200%', repeat: false };

let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

it.each([
  ['a 200 whose body never ends', 'endless' as const, 200],
  ['a 500 whose error page never ends', 'endless-500' as const, 500],
])('reads %s only up to the cap and closes the connection', async (_what, answer, status) => {
  receiver = await startReceiver([answer]);
  const notifier = webhookNotifier({ url: receiver.url, maxAttempts: 1, timeoutMs: 60_000, logger: memoryLogger().logger, baseDelayMs: 1 });
  await notifier.send(notification);
  expect(receiver.posts.map((p) => p.status)).toEqual([status]);
  const [body] = receiver.endless;
  await body!.done;
  // The server stops at 256 MiB: a notifier that reads the whole body gets all of it.
  expect(body!.closedByClient, 'the notifier closed the connection mid-body').toBe(true);
  expect(body!.bytesWritten).toBeLessThan(32 * 1024 * 1024);
  expect(body!.bytesWritten).toBeLessThan(ENDLESS_BOUND);
});
