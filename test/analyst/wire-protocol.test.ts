import { describe, expect, it } from 'vitest';
import { copyRefusal } from '../../src/serve/copy-refusal.js';
import { DEFAULT_WIRE_LIMITS, ProtocolViolation, checkMessageHeader, checkStartupLength, parseStartupPacket } from '../../src/serve/protocol.js';
import { startupPacket } from '../helpers/wire.js';

/** The wire server's checks as pure functions (the server's behaviour is in wire-server-bad-clients.test.ts). */

function violation(fn: () => unknown): ProtocolViolation {
  try {
    fn();
  } catch (error) {
    if (error instanceof ProtocolViolation) return error;
    throw error;
  }
  throw new Error('expected a ProtocolViolation');
}

describe('startup packets', () => {
  it('accepts 8 to 10004 bytes, as PostgreSQL (MAX_STARTUP_PACKET_LENGTH 10000 plus the length word)', () => {
    expect(() => checkStartupLength(8, DEFAULT_WIRE_LIMITS)).not.toThrow();
    expect(() => checkStartupLength(10_004, DEFAULT_WIRE_LIMITS)).not.toThrow();
    expect(violation(() => checkStartupLength(10_005, DEFAULT_WIRE_LIMITS)).message).toBe('invalid length of startup packet: got 10005 bytes, expected 8 to 10004');
    expect(violation(() => checkStartupLength(-1, DEFAULT_WIRE_LIMITS)).code).toBe('08P01');
  });

  it('reads the user, the other parameters and the _pq_ options, and refuses a bad layout', () => {
    const parsed = parseStartupPacket(startupPacket({ user: 'analyst', database: 'postgres', 'application_name': 'psql', '_pq_.x': '1' }, 0x0003_0002));
    expect(parsed).toEqual({
      kind: 'startup',
      minor: 2,
      user: 'analyst',
      parameters: new Map([
        ['user', 'analyst'],
        ['database', 'postgres'],
        ['application_name', 'psql'],
      ]),
      unknownOptions: ['_pq_.x'],
    });
    const noTerminator = startupPacket({ user: 'a' }).subarray(0, -1);
    noTerminator.writeInt32BE(noTerminator.length, 0);
    expect(violation(() => parseStartupPacket(noTerminator)).message).toBe(
      'invalid startup packet layout: expected name/value pairs and a terminator as the last byte, got no terminator',
    );
    const trailing = Buffer.concat([startupPacket({ user: 'a' }), Buffer.from('xy')]);
    trailing.writeInt32BE(trailing.length, 0);
    expect(violation(() => parseStartupPacket(trailing)).message).toContain('got 2 byte(s) after the terminator');
    expect(violation(() => parseStartupPacket(startupPacket({ user: '' }))).message).toBe(
      'no PostgreSQL user name specified in startup packet: got an empty "user", expected "user"',
    );
    expect(violation(() => parseStartupPacket(startupPacket({}))).message).toContain('got no parameters, expected "user"');
    expect(violation(() => parseStartupPacket(startupPacket({ user: '\u00e9' }).fill(0xff, 13, 15))).message).toContain('is not valid UTF-8');
    expect(parseStartupPacket(startupPacket({ user: 'a', replication: 'off' })).kind).toBe('startup');
    expect(violation(() => parseStartupPacket(startupPacket({ user: 'a', replication: 'true' }))).code).toBe('0A000');
  });
});

describe('typed messages', () => {
  it('takes the known types within their size class and refuses the rest', () => {
    expect(checkMessageHeader(0x51, 13, DEFAULT_WIRE_LIMITS)).toBe(14);
    expect(checkMessageHeader(0x53, 4, DEFAULT_WIRE_LIMITS)).toBe(5);
    expect(checkMessageHeader(0x64, 64 * 1024 * 1024, DEFAULT_WIRE_LIMITS)).toBe(64 * 1024 * 1024 + 1);
    expect(violation(() => checkMessageHeader(0x00, 4, DEFAULT_WIRE_LIMITS)).message).toBe(
      'invalid frontend message type 0x00: expected one of Q, P, B, F, d, E, D, C, f, S, H, c, X',
    );
    expect(violation(() => checkMessageHeader(0x45, 10_001, DEFAULT_WIRE_LIMITS)).message).toContain('Execute (\'E\') message of 10001 bytes, expected at most 10000');
    expect(violation(() => checkMessageHeader(0x51, -256, DEFAULT_WIRE_LIMITS)).message).toBe("invalid length of a Query ('Q') message: got -256, expected at least 4");
  });
});

describe('COPY statements PGlite cannot serve', () => {
  it.each([
    ['copy t from stdin', 'from-stdin'],
    ['COPY "my table" (a, b) FROM STDIN WITH (FORMAT csv);', 'from-stdin'],
    ['select 1; /* a /* nested */ comment */ copy t from stdin', 'from-stdin'],
    ['copy binary t from stdin', 'from-stdin'],
    ["copy t to program 'gzip > x.gz'", 'program'],
    ["COPY t FROM PROGRAM 'curl x'", 'program'],
    ['copy t to stdout', undefined],
    ['copy (select * from stdin) to stdout', undefined],
    ["select 'copy t from stdin'", undefined],
    ["select E'it\\'s; copy t from stdin'", undefined],
    ['select $$copy t from stdin$$, $tag$ ; copy t from stdin $tag$', undefined],
    ['-- copy t from stdin\nselect 1', undefined],
    ["copy t from '/data/file.csv'", undefined],
    ['select "copy" from stdin', undefined],
  ] as const)('%s: %s', (sql, expected) => {
    expect(copyRefusal(sql)).toBe(expected);
  });
});
