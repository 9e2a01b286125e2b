/**
 * The PostgreSQL frontend/backend protocol (v3) as far as the wire server checks it before
 * anything reaches PGlite. PGlite is a single PostgreSQL backend shared by every client and by
 * the engine, and it trusts its input: a truncated message makes it wait for bytes that never
 * come, and a message type it does not know, or a startup packet without a user, ends in a
 * FATAL that leaves the WebAssembly backend spinning with the event loop blocked. So every
 * packet is framed, measured and checked here first, the way PostgreSQL's own
 * ProcessStartupPacket and SocketBackend check theirs, and a client that breaks the protocol
 * gets a FATAL ErrorResponse and is closed without PGlite ever seeing its bytes.
 */

export const PROTOCOL_V3 = 0x0003_0000;
const SSL_REQUEST_CODE = 80_877_103;
const GSSENC_REQUEST_CODE = 80_877_104;
const CANCEL_REQUEST_CODE = 80_877_102;

/**
 * How much one client may send at once. A message's length is checked from its header, before
 * any of its body is buffered, so a client can make the server hold at most one message of
 * these sizes (plus one socket read) at a time.
 */
export interface WireLimits {
  /**
   * Largest startup packet (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest), counting
   * its length word: PostgreSQL's MAX_STARTUP_PACKET_LENGTH (10,000) plus the word.
   */
  readonly maxStartupPacketBytes: number;
  /**
   * Largest Query, Parse, Bind, FunctionCall or CopyData message. PostgreSQL accepts up to
   * 1 GB; 64 MiB is far beyond any analyst's query and keeps one client from holding a
   * gigabyte of the process's memory.
   */
  readonly maxMessageBytes: number;
  /** Largest Close, Describe, Execute or CopyFail message: PostgreSQL's PQ_SMALL_MESSAGE_LIMIT. */
  readonly maxSmallMessageBytes: number;
}

export const DEFAULT_WIRE_LIMITS: WireLimits = {
  maxStartupPacketBytes: 10_004,
  maxMessageBytes: 64 * 1024 * 1024,
  maxSmallMessageBytes: 10_000,
};

/** The smallest startup packet: a length word and a protocol code. */
export const MIN_STARTUP_PACKET_BYTES = 8;

/** A client broke the protocol: answered with FATAL `code` and `message`, then disconnected. */
export class ProtocolViolation extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolViolation';
  }
}

const PROTOCOL_VIOLATION = '08P01';
const FEATURE_NOT_SUPPORTED = '0A000';

// ------------------------------------------------------------------ typed messages

type SizeClass = 'large' | 'small' | 'empty';

/** Every message a frontend may send after startup, and the size class PostgreSQL's SocketBackend gives it. */
const FRONTEND_MESSAGES: ReadonlyMap<string, { readonly name: string; readonly size: SizeClass }> = new Map([
  ['Q', { name: 'Query', size: 'large' }],
  ['P', { name: 'Parse', size: 'large' }],
  ['B', { name: 'Bind', size: 'large' }],
  ['F', { name: 'FunctionCall', size: 'large' }],
  ['d', { name: 'CopyData', size: 'large' }],
  ['E', { name: 'Execute', size: 'small' }],
  ['D', { name: 'Describe', size: 'small' }],
  ['C', { name: 'Close', size: 'small' }],
  ['f', { name: 'CopyFail', size: 'small' }],
  ['S', { name: 'Sync', size: 'empty' }],
  ['H', { name: 'Flush', size: 'empty' }],
  ['c', { name: 'CopyDone', size: 'empty' }],
  ['X', { name: 'Terminate', size: 'empty' }],
] as const);

const KNOWN_TYPES = [...FRONTEND_MESSAGES.keys()].join(', ');

/** "Query ('Q')", for messages. */
export function messageName(type: string): string {
  return `${FRONTEND_MESSAGES.get(type)?.name ?? 'unknown'} ('${type}')`;
}

/**
 * Check a typed message's header (type byte and length word, the length counting itself but
 * not the type byte) before its body is read. Returns the whole message's size in bytes.
 */
export function checkMessageHeader(typeByte: number, length: number, limits: WireLimits): number {
  const type = String.fromCharCode(typeByte);
  const known = FRONTEND_MESSAGES.get(type);
  if (!known) {
    const shown = typeByte >= 0x20 && typeByte < 0x7f ? ` ('${type}')` : '';
    throw new ProtocolViolation(
      PROTOCOL_VIOLATION,
      `invalid frontend message type 0x${typeByte.toString(16).padStart(2, '0')}${shown}: expected one of ${KNOWN_TYPES}`,
    );
  }
  if (known.size === 'empty' && length !== 4) {
    throw new ProtocolViolation(PROTOCOL_VIOLATION, `invalid length of a ${messageName(type)} message: got ${length}, expected 4`);
  }
  if (length < 4) {
    throw new ProtocolViolation(PROTOCOL_VIOLATION, `invalid length of a ${messageName(type)} message: got ${length}, expected at least 4`);
  }
  const max = known.size === 'large' ? limits.maxMessageBytes : limits.maxSmallMessageBytes;
  if (length > max) {
    throw new ProtocolViolation(
      PROTOCOL_VIOLATION,
      `${messageName(type)} message of ${length} bytes, expected at most ${max}: the embedded database's wire server refuses larger messages`,
    );
  }
  return 1 + length;
}

// ------------------------------------------------------------------ startup packets

export type StartupPacket =
  | { readonly kind: 'ssl' }
  | { readonly kind: 'gssenc' }
  | { readonly kind: 'cancel' }
  | {
      readonly kind: 'startup';
      /** The minor version asked for (3.x); anything above 0 is negotiated down. */
      readonly minor: number;
      readonly user: string;
      readonly parameters: ReadonlyMap<string, string>;
      /** `_pq_.*` protocol options, none of which this server knows: named in NegotiateProtocolVersion. */
      readonly unknownOptions: readonly string[];
    };

/** Check a startup packet's length word before the rest of it is read. */
export function checkStartupLength(length: number, limits: WireLimits): void {
  if (length < MIN_STARTUP_PACKET_BYTES || length > limits.maxStartupPacketBytes) {
    throw new ProtocolViolation(
      PROTOCOL_VIOLATION,
      `invalid length of startup packet: got ${length} bytes, expected ${MIN_STARTUP_PACKET_BYTES} to ${limits.maxStartupPacketBytes}`,
    );
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parse a whole startup packet (its length already checked), as PostgreSQL's ProcessStartupPacket does. */
export function parseStartupPacket(packet: Buffer): StartupPacket {
  const code = packet.readUInt32BE(4);
  const fixed = (name: string, expected: number) => {
    if (packet.length !== expected) {
      throw new ProtocolViolation(PROTOCOL_VIOLATION, `invalid length of startup packet: a ${name} of ${packet.length} bytes, expected ${expected}`);
    }
  };
  if (code === SSL_REQUEST_CODE) {
    fixed('SSLRequest', 8);
    return { kind: 'ssl' };
  }
  if (code === GSSENC_REQUEST_CODE) {
    fixed('GSSENCRequest', 8);
    return { kind: 'gssenc' };
  }
  if (code === CANCEL_REQUEST_CODE) {
    // Protocol 3.0's 4-byte key, the only one this server hands out (it negotiates 3.2 down).
    fixed('CancelRequest', 16);
    return { kind: 'cancel' };
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  if (major !== 3) {
    throw new ProtocolViolation(FEATURE_NOT_SUPPORTED, `unsupported frontend protocol ${major}.${minor}: server supports 3.0 to 3.0`);
  }

  // Name/value pairs of NUL-terminated strings, then one more NUL, which must be the last byte.
  const parameters = new Map<string, string>();
  const unknownOptions: string[] = [];
  const layout = (got: string) =>
    new ProtocolViolation(PROTOCOL_VIOLATION, `invalid startup packet layout: expected name/value pairs and a terminator as the last byte, got ${got}`);
  let at = 8;
  while (packet[at] !== 0) {
    if (at >= packet.length) throw layout('no terminator');
    const nameEnd = packet.indexOf(0, at);
    const valueEnd = nameEnd < 0 ? -1 : packet.indexOf(0, nameEnd + 1);
    if (valueEnd < 0) throw layout(`a parameter without a value at byte ${at}`);
    const name = decode(packet.subarray(at, nameEnd), 'a startup parameter name');
    const value = decode(packet.subarray(nameEnd + 1, valueEnd), `the startup parameter "${name}"`);
    if (name.startsWith('_pq_.')) unknownOptions.push(name);
    else parameters.set(name, value);
    at = valueEnd + 1;
  }
  if (at !== packet.length - 1) throw layout(`${packet.length - 1 - at} byte(s) after the terminator at byte ${at}`);

  const user = parameters.get('user');
  if (!user) {
    const names = [...parameters.keys()];
    const got = names.length === 0 ? 'no parameters' : `the parameter${names.length > 1 ? 's' : ''} ${names.map((n) => `"${n}"`).join(', ')}`;
    throw new ProtocolViolation(
      PROTOCOL_VIOLATION,
      `no PostgreSQL user name specified in startup packet: got ${user === '' ? 'an empty "user"' : got}, expected "user"`,
    );
  }
  const replication = parameters.get('replication');
  if (replication !== undefined && !/^(false|off|no|0)$/i.test(replication)) {
    throw new ProtocolViolation(
      FEATURE_NOT_SUPPORTED,
      `replication connections are not supported by the embedded database: got replication=${replication}, expected false or no replication parameter`,
    );
  }
  return { kind: 'startup', minor, user, parameters, unknownOptions };
}

function decode(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new ProtocolViolation(PROTOCOL_VIOLATION, `invalid startup packet: ${what} is not valid UTF-8`);
  }
}

/** The StartupMessage PGlite is given for every client: its own superuser, nothing else a client chose. */
export function canonicalStartup(user: string, database: string): Uint8Array {
  const body = Buffer.concat([cstring('user'), cstring(user), cstring('database'), cstring(database), Buffer.from([0])]);
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(PROTOCOL_V3, 4);
  return new Uint8Array(Buffer.concat([head, body]));
}

/** NegotiateProtocolVersion ('v'): this server speaks 3.0 and none of the `_pq_` options asked for. */
export function negotiateProtocolVersion(unknownOptions: readonly string[]): Uint8Array {
  const body = Buffer.concat([int32(0), int32(unknownOptions.length), ...unknownOptions.map(cstring)]);
  return new Uint8Array(Buffer.concat([Buffer.from('v', 'latin1'), int32(4 + body.length), body]));
}

/** The answer to SSLRequest and GSSENCRequest: no encryption, carry on in the clear. */
export const NO_ENCRYPTION = new Uint8Array([0x4e]);

// ------------------------------------------------------------------ responses

/** Terminate ('X'): the client is leaving. */
export function isTerminate(message: Uint8Array): boolean {
  return message[0] === 0x58;
}

/** Sync ('S'), which ends an extended-query sequence and asks for ReadyForQuery. */
export const SYNC_MESSAGE = new Uint8Array([0x53, 0, 0, 0, 4]);

/**
 * The status byte of a ReadyForQuery ('Z', length 5, status) that ends `tail`, or undefined
 * when the response did not end with one (more of an extended-query sequence is to come, or
 * a COPY is in progress). 'I' idle, 'T' in a transaction block, 'E' in a failed one.
 * Nothing else can end with these six bytes: CommandComplete ends in a NUL, and DataRow
 * and the rest are followed by CommandComplete, PortalSuspended or ReadyForQuery.
 */
export function readyForQueryStatus(tail: Uint8Array): 'I' | 'T' | 'E' | undefined {
  if (tail.length < 6) return undefined;
  const z = tail.subarray(tail.length - 6);
  if (z[0] !== 0x5a || z[1] !== 0 || z[2] !== 0 || z[3] !== 0 || z[4] !== 5) return undefined;
  const status = String.fromCharCode(z[5]!);
  return status === 'I' || status === 'T' || status === 'E' ? status : undefined;
}

/** The last `n` bytes of `previous` followed by `next`. */
export function keepTail(previous: Uint8Array, next: Uint8Array, n = 6): Uint8Array {
  if (next.length >= n) return next.slice(next.length - n);
  const joined = new Uint8Array(Math.min(n, previous.length + next.length));
  const fromPrevious = joined.length - next.length;
  joined.set(previous.subarray(previous.length - fromPrevious), 0);
  joined.set(next, fromPrevious);
  return joined;
}

/** An ErrorResponse, as the server sends it: severity, SQLSTATE, message and an optional hint. */
export function errorResponse(severity: 'ERROR' | 'FATAL', code: string, message: string, hint?: string): Uint8Array {
  const fields = Buffer.concat([
    field('S', severity),
    field('V', severity),
    field('C', code),
    field('M', message),
    ...(hint ? [field('H', hint)] : []),
    Buffer.from([0]),
  ]);
  return new Uint8Array(Buffer.concat([Buffer.from('E', 'latin1'), int32(fields.length + 4), fields]));
}

function field(type: string, value: string): Buffer {
  return Buffer.concat([Buffer.from(type, 'latin1'), cstring(value)]);
}

function cstring(text: string): Buffer {
  return Buffer.concat([Buffer.from(text, 'utf8'), Buffer.from([0])]);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n, 0);
  return b;
}
