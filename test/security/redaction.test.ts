import { describe, expect, it } from 'vitest';
import { redactSecrets, rememberSecrets } from '../../src/errors.js';

/**
 * Item 13 of issue 14: passwords and tokens never reach an error, a log line or `sql` output —
 * also a DATABASE_URL password holding `@` or spaces (parsed the way node-postgres parses it),
 * a key=value DSN, PGPASSWORD, and a token in the query of a URL with no path.
 */

describe('redactSecrets, on text alone', () => {
  it.each([
    ['a password holding @', 'postgres://bw:hunter2@SECRETTAIL@db.example:5432/warehouse', 'postgres://bw:***@db.example:5432/warehouse'],
    ['a password holding spaces', 'postgres://bw:my secret pw@db.example:5432/warehouse', 'postgres://bw:***@db.example:5432/warehouse'],
    ['spaces and @ in a sentence', 'cannot connect to PostgreSQL at postgres://bw:p@ss w0rd@127.0.0.1:1/warehouse: connect ECONNREFUSED', 'cannot connect to PostgreSQL at postgres://bw:***@127.0.0.1:1/warehouse: connect ECONNREFUSED'],
    ['a URL with no path', 'postgresql://bw:hunter2@SECRETTAIL@db.example:5432 refused', 'postgresql://bw:***@db.example:5432 refused'],
    ['a percent-encoded password', 'postgres://bw:p%40ss%20w0rd@db.example/warehouse', 'postgres://bw:***@db.example/warehouse'],
    ['a password in the query', 'postgres://db.example/warehouse?user=bw&password=s3cr3t-q&sslmode=require', 'postgres://db.example/warehouse?user=bw&password=***&sslmode=require'],
    ['a webhook token in a URL with no path', 'alert webhook at http://127.0.0.1:9999?token=SECRETTOKEN failed', 'alert webhook at http://127.0.0.1:9999?token=*** failed'],
    ['tokens among other parameters', 'https://hooks.example/notify?channel=ops&access_token=abc123&api_key=k-99#top', 'https://hooks.example/notify?channel=ops&access_token=***&api_key=***#top'],
    ['a key=value DSN', 'host=db.example user=bw password=s3cr3t dbname=warehouse', 'host=db.example user=bw password=*** dbname=warehouse'],
    ['a quoted key=value password with an escaped quote and spaces', "host=db password='it\\'s a secret' dbname=warehouse", 'host=db password=*** dbname=warehouse'],
    ['PGPASSWORD', 'PGPASSWORD=hunter2 psql -h db', 'PGPASSWORD=*** psql -h db'],
  ])('%s', (_, text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });

  it('leaves text without credentials alone', () => {
    for (const text of ['https://data.sec.gov/api/xbrl/companyfacts/CIK0000789019.json', 'postgres://bw@db.example:5432/warehouse', 'connect ECONNREFUSED 127.0.0.1:5432', 'http://127.0.0.1:8080/x?page=2&sslmode=require']) {
      expect(redactSecrets(text)).toBe(text);
    }
  });
});

describe('redactSecrets, with the secrets of the environment', () => {
  it('removes the DATABASE_URL password wherever it appears literally, as written, decoded or encoded', () => {
    rememberSecrets({ DATABASE_URL: 'postgres://bw:p%40ss%20w0rd-7731@db.example:5432/warehouse' });
    expect(redactSecrets('password authentication failed: p@ss w0rd-7731')).toBe('password authentication failed: ***');
    expect(redactSecrets('got p%40ss%20w0rd-7731 back')).toBe('got *** back');
    expect(redactSecrets('got p%40ss%20w0rd-7731 back')).not.toContain('7731');
  });

  it('removes PGPASSWORD and the webhook URL’s token wherever they appear', () => {
    rememberSecrets({ PGPASSWORD: 'pg-env-secret-42', BUBBLEWATCH_ALERT_WEBHOOK: 'https://hooks.slack.example/services/T000/B000/XyZsecretPath?token=tok-555' });
    expect(redactSecrets('libpq said pg-env-secret-42')).toBe('libpq said ***');
    expect(redactSecrets('Failed to parse URL from https://hooks.slack.example/services/T000/B000/XyZsecretPath?token=tok-555')).not.toMatch(/XyZsecretPath|tok-555/);
  });
});

// As a user meets them — `run --all` and `sql` with a DATABASE_URL whose password holds @ or
// spaces, and a failing webhook whose path-less URL carries a token — these are faults of the
// reliability suite: test/reliability/faults-hostile-config.test.ts.
