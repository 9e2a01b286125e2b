/**
 * The few pieces of the PostgreSQL frontend/backend protocol (v3) the wire server reads or
 * writes itself; everything else passes through to PGlite untouched.
 */

export const PROTOCOL_V3 = 196_608;

/** A StartupMessage has no type byte: int32 length, int32 protocol version, then name/value pairs. */
export function isStartupMessage(message: Uint8Array): boolean {
  if (message.length < 8) return false;
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  return view.getInt32(4) === PROTOCOL_V3;
}

/** The parameters of a StartupMessage (`user`, `database`, `application_name`, `options`, …). */
export function startupParameters(message: Uint8Array): Map<string, string> {
  const params = new Map<string, string>();
  const text = Buffer.from(message.buffer, message.byteOffset, message.byteLength).subarray(8);
  const parts = text.toString('utf8').split('\0');
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const name = parts[i]!;
    if (name === '') break;
    params.set(name, parts[i + 1]!);
  }
  return params;
}

/** Terminate ('X'): the client is leaving. */
export function isTerminate(message: Uint8Array): boolean {
  return message.length === 5 && message[0] === 0x58;
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

/** An ErrorResponse, as the server sends it: severity, SQLSTATE and message. */
export function errorResponse(severity: 'ERROR' | 'FATAL', code: string, message: string): Uint8Array {
  const fields = Buffer.concat([
    field('S', severity),
    field('V', severity),
    field('C', code),
    field('M', message),
    Buffer.from([0]),
  ]);
  const header = Buffer.alloc(5);
  header.write('E', 0, 'latin1');
  header.writeInt32BE(fields.length + 4, 1);
  return new Uint8Array(Buffer.concat([header, fields]));
}

function field(type: string, value: string): Buffer {
  return Buffer.concat([Buffer.from(type, 'latin1'), Buffer.from(value, 'utf8'), Buffer.from([0])]);
}
