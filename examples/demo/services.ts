// The two services the demo server hosts. Each is plain data plus closures: pollux owns the
// sockets and the per-connection bookkeeping, the service only says what a request means.
import { IpcError, type Connection, type HostedService, type ServiceDefinition } from 'pollux';

/** kv command ids, shared with the client. */
export const KV = { set: 0, get: 1, park: 2 } as const;
/** clock event id. */
export const TICK = 1;

/** What one kv connection owns: its own store, so clients never see each other's keys. */
export interface KvSession {
  readonly store: Map<string, string>;
  /** Resolves the parked request (see `park`) once the connection is gone. */
  release?: () => void;
}

export interface DemoHooks {
  log(line: string): void;
  /** A client parked a request: it now certainly has a request in flight. */
  parked(conn: Connection<KvSession>): void;
  /** kv's `closed` hook ran: the session's state has been freed. */
  freed(pid: number): void;
}

const text = (s: string): Buffer => Buffer.from(s);

export function kvService(hooks: DemoHooks): ServiceDefinition<KvSession> {
  return {
    id: 1,
    name: 'kv',
    createContext: () => ({ store: new Map() }),
    commands: {
      // SET "key=value": a synchronous handler; pollux answers in arrival order.
      [KV.set]: (payload, conn) => {
        const s = payload.toString();
        const eq = s.indexOf('=');
        if (eq < 1) throw new IpcError('EINVAL', 'expected key=value');
        conn.context.store.set(s.slice(0, eq), s.slice(eq + 1));
      },
      // GET key: an error thrown with a code reaches the client as that code.
      [KV.get]: (payload, conn) => {
        const value = conn.context.store.get(payload.toString());
        if (value === undefined) throw new IpcError('ENOENT', `no such key "${payload.toString()}"`);
        return text(value);
      },
      // PARK: a request that is answered only when the connection ends. It gives main a
      // deterministic "this client has a request in flight right now" signal.
      [KV.park]: (_payload, conn) =>
        new Promise<void>((resolve) => {
          conn.context.release = resolve;
          hooks.parked(conn);
        }),
    },
    // Runs exactly once per connection, whether the client said goodbye or was SIGKILLed.
    closed: (conn, reason) => {
      const { store, release } = conn.context;
      const code = reason instanceof IpcError ? reason.code : reason.name;
      hooks.log(
        `kv closed conn ${conn.id} (pid ${conn.credentials.pid}): ${code} "${reason.message}", freed ${store.size} keys` +
          (release ? ', 1 parked request dropped' : ''),
      );
      store.clear();
      release?.(); // lets the handler finish so `destroyed` can run; its answer is dropped
      hooks.freed(conn.credentials.pid);
    },
  };
}

/** The clock service: it has no commands, its connections only listen for ticks. */
export const clockService: ServiceDefinition = {
  id: 2,
  name: 'clock',
  commands: {}, // events only: any request answers ENOSYS
};

/** Broadcasts a TICK to every connection of the clock each `periodMs`; returns the stop function. */
export function startTicking(clock: HostedService, periodMs: number): () => void {
  let n = 0;
  const timer = setInterval(() => clock.broadcast(TICK, text(String(++n))), periodMs);
  return () => clearInterval(timer);
}
