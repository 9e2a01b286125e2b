/**
 * Every fault the reliability suite injects, by id. The summary expects an outcome from each:
 * a fault whose test did not run (skipped, filtered out, crashed) is reported as not injected,
 * so the count of faults cannot shrink silently.
 */
export const FAULTS = [
  'server-stopped-mid-load',
  'server-stopped-mid-transform',
  'sigkill-mid-run-pglite',
  'sigkill-mid-run-postgres',
  'concurrent-manual-runs-pglite',
  'concurrent-manual-runs-postgres',
  'wire-startup-length-overflow',
  'wire-startup-huge-claim',
  'wire-startup-without-user',
  'wire-startup-replication',
  'wire-unknown-message-type',
  'wire-message-length-too-short',
  'wire-copy-from-stdin',
  'wire-copy-program',
] as const;

export type FaultId = (typeof FAULTS)[number];
