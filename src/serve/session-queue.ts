import type { PGlite } from '@electric-sql/pglite';
import type { Logger } from '../log/logger.js';
import { SYNC_MESSAGE, canonicalStartup, errorResponse, isTerminate, keepTail, readyForQueryStatus } from './protocol.js';

/**
 * Takes turns on PGlite's single session between wire clients and the engine.
 *
 * PGlite is one PostgreSQL backend: one session, one transaction at a time. The engine
 * already serialises its own use through the DatabaseHandle's mutex, and holds that mutex
 * for a whole transaction (BEGIN … COMMIT are separate calls). PGlite's per-call lock alone
 * (what pglite-socket's own queue takes) would let a wire query land between the engine's
 * BEGIN and COMMIT: it would see half a load, and its COMMIT, ROLLBACK or error would end the
 * engine's transaction. This queue takes the messages each WireConnection has already
 * framed and checked (connection.ts) and runs them in *turns*:
 *
 *  - A turn takes the engine's mutex (`acquire`). While a turn lasts, the engine waits; while
 *    the engine holds the mutex (a pipeline run's transaction), wire clients wait.
 *  - A turn belongs to one client and lasts until PGlite answers that client with
 *    ReadyForQuery "idle": after a simple query, after Sync for the extended protocol, and
 *    across a whole BEGIN … COMMIT. Other clients' messages wait, so no two clients'
 *    extended-protocol messages or transactions interleave either.
 *  - Each client keeps its own session settings (SET search_path, SET ROLE, TimeZone …):
 *    they are saved at the end of its turn and put back at the start of its next one, and
 *    between turns the session is returned to the engine's settings (it relies on
 *    TimeZone UTC, for one). Prepared statements and temporary tables stay shared.
 *  - A client idle inside a transaction holds everyone up; after `idleInTransactionMs` it
 *    is disconnected and its transaction rolled back, as PostgreSQL's
 *    idle_in_transaction_session_timeout does.
 */

/** Take exclusive use of the session; resolves to the function that gives it back. */
export type AcquireExclusive = () => Promise<() => Promise<void>>;

interface SessionState {
  /** Parameters set in the session (pg_settings.source = 'session'), as name → value. */
  readonly settings: ReadonlyMap<string, string>;
  /** SET ROLE target, or 'none'. */
  readonly role: string;
}

interface ClientSession {
  state: SessionState;
}

type Job =
  | {
      readonly kind: 'message';
      readonly handlerId: number;
      readonly message: Uint8Array;
      readonly onData: (data: Uint8Array) => void;
      readonly resolve: (bytes: number) => void;
      readonly reject: (error: Error) => void;
    }
  | {
      readonly kind: 'startup';
      readonly handlerId: number;
      /** The user the client asked for, already checked to be there (connection.ts). */
      readonly user: string;
      readonly onData: (data: Uint8Array) => void;
      readonly resolve: (refusal: Uint8Array | undefined) => void;
      readonly reject: (error: Error) => void;
    }
  | { readonly kind: 'end'; readonly handlerId: number; readonly resolve: () => void; readonly reject: (error: Error) => void };

export interface SessionQueueOptions {
  readonly logger: Logger;
  /** Disconnect a client that holds a transaction open and silent for this long; 0 = never. */
  readonly idleInTransactionMs: number;
  /** Called with the handler id of such a client; the server sends FATAL and disconnects it. */
  readonly onIdleInTransaction: (handlerId: number) => void;
}

export class SessionQueue {
  private readonly jobs: Job[] = [];
  private readonly sessions = new Map<number, ClientSession>();
  private pumping = false;
  /** The client whose turn it is, and how to give the mutex back. */
  private owner: number | undefined;
  private release: (() => Promise<void>) | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private baseline: SessionState | undefined;
  private superuser = 'postgres';
  private database = 'postgres';

  constructor(
    private readonly pglite: PGlite,
    private readonly acquire: AcquireExclusive,
    private readonly options: SessionQueueOptions,
  ) {}

  /** Read the engine's session settings once, to restore between wire turns. */
  async init(): Promise<void> {
    const release = await this.acquire();
    try {
      this.baseline = await this.capture();
      const { rows } = await this.pglite.query<{ user: string; database: string }>('select session_user as "user", current_database() as database');
      this.superuser = rows[0]?.user ?? 'postgres';
      this.database = rows[0]?.database ?? 'postgres';
    } finally {
      await release();
    }
  }

  // ------------------------------------------------ the interface WireConnection calls

  /**
   * A client's session starts: as `user` (refused, as a server refuses it, when that role does
   * not exist or may not log in), with PGlite's answer to a StartupMessage streamed to `onData`.
   * Resolves to the refusal to send, or undefined.
   */
  startup(handlerId: number, user: string, onData: (data: Uint8Array) => void): Promise<Uint8Array | undefined> {
    return new Promise<Uint8Array | undefined>((resolve, reject) => {
      this.jobs.push({ kind: 'startup', handlerId, user, onData, resolve, reject });
      this.clearIdleTimer();
      void this.pump();
    });
  }

  /** One checked, complete frontend message; PGlite's answer is streamed to `onData`. */
  enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.jobs.push({ kind: 'message', handlerId, message, onData, resolve, reject });
      this.clearIdleTimer();
      void this.pump();
    });
  }

  getQueueLength(): number {
    return this.jobs.length;
  }

  /** The client disconnected: drop what it had queued. */
  clearQueueForHandler(handlerId: number): void {
    for (let i = this.jobs.length - 1; i >= 0; i--) {
      const job = this.jobs[i]!;
      if (job.handlerId === handlerId && job.kind !== 'end') {
        this.jobs.splice(i, 1);
        job.reject(new Error('Handler disconnected'));
      }
    }
  }

  /** The client disconnected: roll back whatever it left open and end its turn. */
  clearTransactionIfNeeded(handlerId: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.jobs.push({ kind: 'end', handlerId, resolve, reject });
      this.clearIdleTimer();
      void this.pump();
    });
  }

  // ------------------------------------------------ turns

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        // During a client's turn only that client's messages may run.
        const index = this.owner === undefined ? (this.jobs.length > 0 ? 0 : -1) : this.jobs.findIndex((j) => j.handlerId === this.owner);
        if (index < 0) break;
        const [job] = this.jobs.splice(index, 1);
        if (job!.kind === 'message') await this.runMessage(job!);
        else if (job!.kind === 'startup') await this.runStartup(job!);
        else await this.endClient(job!);
      }
    } finally {
      this.pumping = false;
    }
    if (this.owner !== undefined) this.armIdleTimer(this.owner);
  }

  private async runMessage(job: Extract<Job, { kind: 'message' }>): Promise<void> {
    // PGlite's backend must never see Terminate: it is shared, and the engine lives on.
    if (isTerminate(job.message)) {
      job.resolve(0);
      return;
    }
    const session = this.sessionFor(job.handlerId);
    try {
      job.resolve(await this.run(job.handlerId, session, job.message, job.onData));
    } catch (error) {
      job.reject(await this.failed(job.handlerId, error));
    }
  }

  /**
   * A client's StartupMessage. PGlite ignores the user name (every client is its superuser),
   * so a client that names another role gets that role with SET ROLE for its session, the
   * way `psql -U analyst` would on a server. A role that does not exist or may not log in is
   * refused as PostgreSQL refuses it. (Not a security boundary: any client can RESET ROLE.
   * The server binds to loopback by default for that reason.)
   *
   * PGlite itself is given the same StartupMessage for every client, naming its own superuser
   * and database: nothing a client put in its packet reaches it. (A first StartupMessage
   * without a user ends PGlite's backend, and `replication` turns the shared session into a
   * walsender.)
   */
  private async runStartup(job: Extract<Job, { kind: 'startup' }>): Promise<void> {
    const session = this.sessionFor(job.handlerId);
    try {
      if (job.user !== this.superuser) {
        const release = await this.acquire();
        try {
          const { rows } = await this.pglite.query<{ rolcanlogin: boolean }>('select rolcanlogin from pg_roles where rolname = $1', [job.user]);
          const role = rows[0];
          if (!role) return job.resolve(errorResponse('FATAL', '28000', `role "${job.user}" does not exist`));
          if (!role.rolcanlogin) return job.resolve(errorResponse('FATAL', '28000', `role "${job.user}" is not permitted to log in`));
        } finally {
          await release();
        }
        session.state = { settings: session.state.settings, role: job.user };
      }
      await this.run(job.handlerId, session, canonicalStartup(this.superuser, this.database), job.onData);
      job.resolve(undefined);
    } catch (error) {
      job.reject(await this.failed(job.handlerId, error));
    }
  }

  /** Run one message in `handlerId`'s turn; the turn ends when PGlite is idle again. Returns the bytes answered. */
  private async run(handlerId: number, session: ClientSession, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    await this.beginTurn(handlerId, session);
    let tail: Uint8Array = new Uint8Array(0);
    let bytes = 0;
    await this.pglite.runExclusive(() =>
      this.pglite.execProtocolRawStream(message, {
        onRawData: (data) => {
          bytes += data.length;
          tail = keepTail(tail, data);
          onData(data);
        },
      }),
    );
    if (readyForQueryStatus(tail) === 'I') await this.endTurn(session);
    return bytes;
  }

  /** Log what PGlite threw (not always an Error), and never leave the engine locked out or inside a client's transaction. */
  private async failed(handlerId: number, error: unknown): Promise<Error> {
    const e = error instanceof Error ? error : new Error(thrownMessage(error));
    this.options.logger.warn({ err: e, client: handlerId }, `wire client #${handlerId}: ${e.message}`);
    await this.abortTurn().catch(() => {});
    return e;
  }

  private async beginTurn(handlerId: number, session: ClientSession): Promise<void> {
    if (this.owner === handlerId) return;
    this.release = await this.acquire();
    this.owner = handlerId;
    await this.apply(session.state);
  }

  private async endTurn(session: ClientSession): Promise<void> {
    session.state = await this.capture();
    await this.apply(this.baseline!);
    await this.giveBack();
  }

  /** Roll back what the current turn left open, restore the engine's settings, give the mutex back. */
  private async abortTurn(): Promise<void> {
    if (this.owner === undefined) return;
    try {
      // A Sync first: after an error in an extended-query sequence the backend ignores
      // everything until Sync, including the ROLLBACK.
      await this.pglite.runExclusive(() => this.pglite.execProtocolRaw(SYNC_MESSAGE));
      if (this.pglite.isInTransaction()) await this.pglite.exec('rollback');
      await this.apply(this.baseline!);
    } finally {
      await this.giveBack();
    }
  }

  private async giveBack(): Promise<void> {
    const release = this.release;
    this.owner = undefined;
    this.release = undefined;
    this.clearIdleTimer();
    await release?.();
  }

  private async endClient(job: Extract<Job, { kind: 'end' }>): Promise<void> {
    try {
      if (this.owner === job.handlerId) {
        if (this.pglite.isInTransaction()) {
          this.options.logger.info({ client: job.handlerId }, `wire client #${job.handlerId} left inside a transaction; rolled back`);
        }
        await this.abortTurn();
      }
      this.sessions.delete(job.handlerId);
      job.resolve();
    } catch (error) {
      job.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private sessionFor(handlerId: number): ClientSession {
    let session = this.sessions.get(handlerId);
    if (!session) {
      session = { state: this.baseline! };
      this.sessions.set(handlerId, session);
    }
    return session;
  }

  // ------------------------------------------------ session settings

  private async capture(): Promise<SessionState> {
    const { rows } = await this.pglite.query<{ name: string; setting: string }>(
      `select name, setting from pg_settings where source = 'session' and name <> 'role'
       union all select 'role', current_setting('role')`,
    );
    const settings = new Map<string, string>();
    let role = 'none';
    for (const row of rows) {
      if (row.name === 'role') role = row.setting;
      else settings.set(row.name, row.setting);
    }
    return { settings, role };
  }

  /** Back to the superuser with defaults, then the state's settings, then its role (last, so superuser-only settings apply first). */
  private async apply(state: SessionState): Promise<void> {
    const names = [...state.settings.keys(), 'role'];
    const values = [...state.settings.values(), state.role];
    await this.pglite.exec('reset role; reset all');
    await this.pglite.query(
      `select set_config(s.name, s.value, false) from unnest($1::text[], $2::text[]) with ordinality as s(name, value, n) order by n`,
      [names, values],
    );
  }

  // ------------------------------------------------ idle in transaction

  private armIdleTimer(handlerId: number): void {
    this.clearIdleTimer();
    if (this.options.idleInTransactionMs <= 0) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.owner === handlerId && !this.pumping) this.options.onIdleInTransaction(handlerId);
    }, this.options.idleInTransactionMs);
    this.idleTimer.unref();
  }

  private clearIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}

/** PGlite throws objects that are not Errors (an ExitStatus when its backend exits): their message, not "[object Object]". */
function thrownMessage(error: unknown): string {
  const message = typeof error === 'object' && error !== null ? (error as { message?: unknown }).message : undefined;
  return typeof message === 'string' ? message : String(error);
}
