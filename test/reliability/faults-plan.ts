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
  'webhook-down-when-alert-fires-pglite',
  'webhook-down-when-alert-fires-postgres',
  'webhook-endless-body',
  'analyst-holds-advisory-locks-postgres',
  'pipeline-lock-held-postgres',
  'disk-full-mid-run-pglite',
  'disk-full-mid-run-postgres',
  'stale-lock-reused-pid',
  'stale-lock-new-hostname',
  'wire-startup-length-overflow',
  'wire-startup-huge-claim',
  'wire-startup-without-user',
  'wire-startup-replication',
  'wire-unknown-message-type',
  'wire-message-length-too-short',
  'wire-copy-from-stdin',
  'wire-copy-program',
  'dsn-password-with-at',
  'dsn-password-with-spaces',
  'webhook-token-pathless-url',
  'embedded-folder-symlink',
] as const;

export type FaultId = (typeof FAULTS)[number];
