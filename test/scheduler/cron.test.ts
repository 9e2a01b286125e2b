import { expect, it } from 'vitest';
import { nextTick, tickTime, ticksBetween } from '../../src/scheduler/cron.js';

it('finds the next tick in the schedule’s time zone', () => {
  // Monday 2026-11-30 13:00 UTC is 08:00 in New York: the 07:00 weekday tick has passed.
  expect(nextTick('0 7 * * 1-5', 'America/New_York', new Date('2026-11-30T13:00:00Z'))).toEqual(new Date('2026-12-01T12:00:00Z'));
  expect(nextTick('15 6 * * *', 'UTC', new Date('2026-11-30T06:14:59Z'))).toEqual(new Date('2026-11-30T06:15:00Z'));
  expect(nextTick('*/5 * * * * *', 'UTC', new Date('2026-11-30T06:15:01.500Z'))).toEqual(new Date('2026-11-30T06:15:05Z'));
});

it('lists the ticks missed in a window, oldest first, keeping the newest when capped', () => {
  const from = new Date('2026-11-25T06:15:00Z'); // the last tick that ran
  const to = new Date('2026-11-30T07:00:00Z');
  const all = ticksBetween('15 6 * * *', 'UTC', from, to, 100);
  expect(all.map((d) => d.toISOString().slice(0, 10))).toEqual(['2026-11-26', '2026-11-27', '2026-11-28', '2026-11-29', '2026-11-30']);
  expect(ticksBetween('15 6 * * *', 'UTC', from, to, 2).map((d) => d.toISOString().slice(0, 10))).toEqual(['2026-11-29', '2026-11-30']);
  expect(ticksBetween('15 6 * * *', 'UTC', to, new Date('2026-11-30T08:00:00Z'), 10)).toEqual([]);
});

it('rounds a late wake-up to its tick', () => {
  expect(tickTime(new Date('2026-11-30T06:15:00.042Z'), '15 6 * * *')).toEqual(new Date('2026-11-30T06:15:00Z'));
  expect(tickTime(new Date('2026-11-30T06:15:07.420Z'), '* * * * * *')).toEqual(new Date('2026-11-30T06:15:07Z'));
});
