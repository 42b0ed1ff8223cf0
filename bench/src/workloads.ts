/**
 * The workloads and the loops that time them. The loops only see {@link EchoClient}s, so every
 * stack is timed by identical code.
 */
import { createHistogram } from 'node:perf_hooks';
import type { Connect, EchoClient } from './echo-client.js';

/**
 * `warmup` operations run untimed first, and the warm-up goes on until `warmupMs` have passed as
 * well. The time floor matters: measured on a fresh server process, the first ~200,000 pipelined
 * requests ran 2-3x slower than the rest (both stacks; the V8 JIT is still tiering up the
 * server's hot paths), so a warm-up by count alone made runs bimodal. `maxMs` caps the timed part:
 * a slow stack does fewer operations rather than stretching the whole bench (rates are computed
 * from what was done).
 */
interface Timed {
  readonly size: number;
  readonly warmup: number;
  readonly warmupMs: number;
  readonly count: number;
  readonly maxMs: number;
}

export type Workload =
  | (Timed & { readonly kind: 'latency' })
  /**
   * Requests of `size` bytes, `inFlight` at a time; with `into`, each reply is received into a
   * buffer its lane reuses (`requestInto`), as libqb's client receives, instead of a new one.
   */
  | (Timed & { readonly kind: 'throughput'; readonly inFlight: number; readonly into?: boolean })
  /**
   * Events of `size` bytes to each of `clients` connections, pushed in rounds of `warmup` per
   * connection until `count` per connection or `maxMs`.
   */
  | (Timed & { readonly kind: 'events'; readonly clients: number })
  /** Connect, one round trip of `size` bytes, close; `count` times. */
  | (Timed & { readonly kind: 'connect' })
  /**
   * Pipelined requests of `size` bytes, `inFlight` at a time, from the first request of a fresh
   * server and client process for `durationMs`: requests/s per `windowMs`, the JIT tiering up.
   */
  | {
      readonly kind: 'warmup';
      readonly size: number;
      readonly inFlight: number;
      readonly windowMs: number;
      readonly durationMs: number;
    }
  /** Server RSS growth over `connections` idle clients (orchestrated by idle-connections.ts). */
  | { readonly kind: 'idle'; readonly connections: number; readonly size: number }
  /**
   * The `latency` workload on one busy connection while the server holds each of `idle` idle
   * connections in turn (orchestrated by idle-connections.ts): how a poller's cost grows with its fds.
   */
  | {
      readonly kind: 'fdcount';
      readonly size: number;
      readonly idle: readonly number[];
      readonly latency: Extract<Workload, { kind: 'latency' }>;
    };

/** The workloads a client process times (the others hold idle connections: idle-connections.ts). */
export type TimedWorkload = Exclude<Workload, { kind: 'idle' | 'fdcount' }>;
export type IdleWorkload = Extract<Workload, { kind: 'idle' }>;
export type FdCountWorkload = Extract<Workload, { kind: 'fdcount' }>;

/**
 * Whether a contender's client process runs `workload` after its other timed workloads, on the
 * same server: only the round trips do, which come first. Every other workload gets fresh
 * processes, whatever the stack and the transport, so no figure carries another workload's
 * history (a process that pushed millions of events connects at half the rate of a fresh one,
 * and node:net ran pipelined 64 B at 322 k/s after its round trips, 500 k/s and more fresh), a
 * warm-up curve starts cold, idle memory holds no timed run's garbage, and each shared-memory
 * run gets rings sized for it ({@link shmRingBytes}).
 */
export function sharesServer(workload: Workload): boolean {
  return workload.kind === 'latency';
}

/**
 * The ring size for pollux's shm server and clients running `workloads` (`ShmTransport`'s
 * `ringBytes`), by libqb's rule for its own rings (libqb-echo.c's buffer_size): room for every
 * request a workload keeps in flight, at least 64 KiB, 1 MiB for events. No larger: a ring bigger
 * than the traffic needs streams small messages through more cache, and a smaller one (the default
 * 256 KiB holds fewer than 64 requests of 4 KiB) measures a full ring's back-and-forth instead.
 */
export function shmRingBytes(workloads: readonly Workload[]): number {
  let needed = 64 * 1024;
  for (const workload of workloads) {
    const inFlight = workload.kind === 'throughput' || workload.kind === 'warmup' ? workload.inFlight : 1;
    needed = Math.max(needed, workload.kind === 'events' ? 1024 * 1024 : inFlight * (workload.size + 64));
  }
  return Math.min(2 ** Math.ceil(Math.log2(needed)), 16 * 1024 * 1024);
}

/** What a holder process of the idle workload does: open `connections`, keep them until stdin ends. */
export interface HoldSpec {
  readonly kind: 'hold';
  readonly connections: number;
}

export interface LatencyResult {
  readonly kind: 'latency';
  /** Round-trip percentiles and extremes, in microseconds (from an HDR histogram: 3 significant digits). */
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
  readonly count: number;
}

export interface ThroughputResult {
  readonly kind: 'throughput';
  readonly count: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  /** Payload bytes echoed per second, counted once (request direction), in 10^6 bytes. */
  readonly megabytesPerSecond: number;
}

export interface EventsResult {
  readonly kind: 'events';
  /** Events received per second, summed over all clients. */
  readonly eventsPerSecond: number;
  readonly count: number;
  readonly seconds: number;
}

export interface ConnectResult {
  readonly kind: 'connect';
  readonly connectionsPerSecond: number;
  readonly count: number;
  readonly seconds: number;
}

export interface IdleResult {
  readonly kind: 'idle';
  readonly connections: number;
  /** Server RSS before the idle clients connected, with `connections` of them and with twice as many, in KiB. */
  readonly rssBeforeKiB: number;
  readonly rssFirstKiB: number;
  readonly rssAfterKiB: number;
  /** Growth from `connections` to twice as many, per connection: what one more idle connection costs. */
  readonly kibPerConnection: number;
  /** Growth over the first `connections`, per connection, one-time costs included. */
  readonly kibFirstBatch: number;
}

export interface WarmupResult {
  readonly kind: 'warmup';
  readonly windowMs: number;
  /** Replies per second in each window, the first starting with the first request. */
  readonly requestsPerSecond: readonly number[];
}

export interface FdCountResult {
  readonly kind: 'fdcount';
  /** Round-trip percentiles of the busy connection, in microseconds, per number of idle connections. */
  readonly points: readonly { readonly idle: number; readonly p50: number; readonly p99: number }[];
}

export type WorkloadResult =
  | LatencyResult
  | ThroughputResult
  | EventsResult
  | ConnectResult
  | WarmupResult
  | IdleResult
  | FdCountResult;

export const KiB = 1024;

/** The workload list; `--quick` cuts every count so the whole bench is a smoke test. */
export function workloads(quick: boolean): Workload[] {
  const scale = quick ? 0.1 : 1;
  const warmupMs = quick ? 200 : 1000;
  const maxMs = quick ? 500 : 2500;
  const timed = (size: number, count: number, warmup = count / 10): Timed => ({
    size,
    count: Math.round(count * scale),
    warmup: Math.round(warmup * scale),
    warmupMs,
    maxMs,
  });
  const roundTrip64: Extract<Workload, { kind: 'latency' }> = { kind: 'latency', ...timed(64, 10_000, 2_000) };
  return [
    roundTrip64,
    { kind: 'latency', ...timed(4 * KiB, 10_000, 2_000) },
    { kind: 'throughput', inFlight: 64, ...timed(64, 300_000) },
    { kind: 'throughput', inFlight: 64, ...timed(4 * KiB, 100_000) },
    { kind: 'throughput', inFlight: 64, ...timed(64 * KiB, 20_000) },
    { kind: 'throughput', inFlight: 64, into: true, ...timed(64 * KiB, 20_000) },
    { kind: 'events', clients: 1, ...timed(64, 2_000_000, 50_000) },
    { kind: 'events', clients: 8, ...timed(64, 250_000, 6_250) },
    { kind: 'connect', ...timed(64, 10_000, 200) },
    { kind: 'warmup', size: 64, inFlight: 64, windowMs: 50, durationMs: quick ? 1000 : 2000 },
    { kind: 'idle', connections: quick ? 200 : 1000, size: 64 },
    {
      kind: 'fdcount',
      size: 64,
      // --quick keeps the two ends: a fresh client process per point is most of the time it takes.
      idle: quick ? [0, FD_COUNT_MOST_IDLE] : [0, 64, 512, FD_COUNT_MOST_IDLE],
      latency: roundTrip64,
    },
  ];
}

/** The most idle connections the fd-count workload holds beside its busy one. */
export const FD_COUNT_MOST_IDLE = 4096;

/**
 * The x axis of a workload measured as a curve (one row per point), undefined for the others:
 * `linear` for evenly spaced points, `point` for chosen ones shown evenly spaced.
 */
export function curveAxis(
  workload: Workload,
): { readonly title: string; readonly scale: 'linear' | 'point' } | undefined {
  switch (workload.kind) {
    case 'warmup':
      return { title: `ms since the first request (start of each ${workload.windowMs} ms window)`, scale: 'linear' };
    case 'fdcount':
      return { title: 'idle connections beside the busy one', scale: 'point' };
    default:
      return undefined;
  }
}

function sizeName(size: number): string {
  return size >= KiB ? `${size / KiB} KiB` : `${size} B`;
}

export function describe(workload: Workload): string {
  const size = sizeName(workload.size);
  switch (workload.kind) {
    case 'latency':
      return `round trip ${size}`;
    case 'throughput':
      return `pipelined ${size} x${workload.inFlight}${workload.into === true ? ' into a reused buffer' : ''}`;
    case 'events':
      return workload.clients === 1 ? `events ${size}, 1 client` : `events ${size}, fan-out to ${workload.clients}`;
    case 'connect':
      return 'connect + round trip + close';
    case 'warmup':
      return `warm-up, pipelined ${size} x${workload.inFlight}`;
    case 'idle':
      return `idle connections x${workload.connections}`;
    case 'fdcount':
      return `round trip ${size} p50 beside idle connections`;
  }
}

/** A file-name-safe id of a workload, for chart files. */
export function slug(workload: Workload): string {
  return describe(workload)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

/** A recognisable, non-zero payload, so a stack that returned the wrong bytes would show up. */
function payloadOf(size: number): Buffer {
  const payload = Buffer.alloc(size);
  for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;
  return payload;
}

export async function run(connect: Connect, address: string, workload: TimedWorkload): Promise<WorkloadResult> {
  const payload = payloadOf(workload.size);
  if (workload.kind === 'connect') return connections(connect, address, payload, workload);
  const clients = await Promise.all(
    Array.from({ length: workload.kind === 'events' ? workload.clients : 1 }, () => connect(address)),
  );
  const first = clients[0]!;
  // The first round trip doubles as the handshake of stacks that connect lazily (zeromq, grpc).
  if (!(await first.request(payload)).equals(payload)) throw new Error('echo returned different bytes than were sent');
  try {
    switch (workload.kind) {
      case 'latency':
        return await latency(first, payload, workload);
      case 'throughput':
        return await throughput(first, payload, workload);
      case 'events':
        return await events(clients, workload);
      case 'warmup':
        return await warmupCurve(first, payload, workload);
    }
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}

/** Opens `spec.connections` clients, each proven by one round trip, for the idle workload. */
export async function hold(connect: Connect, address: string, spec: HoldSpec): Promise<EchoClient[]> {
  const payload = payloadOf(64);
  const clients: EchoClient[] = [];
  for (let i = 0; i < spec.connections; i++) {
    const client = await connect(address);
    check(await client.request(payload), payload);
    clients.push(client);
  }
  return clients;
}

/** Milliseconds since `start` (from process.hrtime.bigint()). */
function elapsedMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/**
 * Whether a warm-up that began at `start` and did `done` operations goes on: until both the
 * count and the time floor are reached, but never past twice the floor (nor `maxMs`), so a slow
 * stack's warm-up cannot stretch the bench.
 */
function warmingUp(start: bigint, done: number, count: number, floorMs: number, maxMs: number): boolean {
  const elapsed = elapsedMs(start);
  return elapsed < Math.min(maxMs, 2 * floorMs) && (done < count || elapsed < floorMs);
}

async function latency(
  client: EchoClient,
  payload: Buffer,
  workload: Extract<Workload, { kind: 'latency' }>,
): Promise<LatencyResult> {
  const { warmup, warmupMs, maxMs } = workload;
  const warmStart = process.hrtime.bigint();
  for (let i = 0; warmingUp(warmStart, i, warmup, warmupMs, maxMs); i++) check(await client.request(payload), payload);
  // In nanoseconds, the clock's own unit: the histogram records integers (a round trip is never 0 ns).
  const histogram = createHistogram();
  const timedStart = process.hrtime.bigint();
  while (histogram.count < workload.count && elapsedMs(timedStart) < maxMs) {
    const start = process.hrtime.bigint();
    const reply = await client.request(payload);
    histogram.record(process.hrtime.bigint() - start);
    // Checked after the clock stops: the check is ours, not the stack's cost.
    check(reply, payload);
  }
  const micros = (nanos: number): number => nanos / 1000;
  return {
    kind: 'latency',
    p50: micros(histogram.percentile(50)),
    p99: micros(histogram.percentile(99)),
    mean: micros(histogram.mean),
    min: micros(histogram.min),
    max: micros(histogram.max),
    count: histogram.count,
  };
}

async function throughput(
  client: EchoClient,
  payload: Buffer,
  workload: Extract<Workload, { kind: 'throughput' }>,
): Promise<ThroughputResult> {
  // One buffer per lane for the whole run, as a caller of requestInto keeps its buffers.
  const into =
    workload.into === true ? Array.from({ length: workload.inFlight }, () => Buffer.alloc(payload.length)) : undefined;
  const warmStart = process.hrtime.bigint();
  // Warm up in slices, so the time floor is checked without timing every request.
  const slice = Math.max(1, Math.min(workload.warmup, 10_000));
  for (let sent = 0; warmingUp(warmStart, sent, workload.warmup, workload.warmupMs, workload.maxMs); sent += slice) {
    await pipeline(client, payload, slice, workload.inFlight, workload.maxMs - elapsedMs(warmStart), undefined, into);
  }
  const start = process.hrtime.bigint();
  const count = await pipeline(client, payload, workload.count, workload.inFlight, workload.maxMs, undefined, into);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const requestsPerSecond = count / seconds;
  return {
    kind: 'throughput',
    count,
    seconds,
    requestsPerSecond,
    megabytesPerSecond: (requestsPerSecond * payload.length) / 1e6,
  };
}

/**
 * Sends up to `count` requests keeping `inFlight` outstanding: each of `inFlight` lanes issues its
 * next request as soon as its previous reply arrives, so the window never drains until the end.
 * Stops issuing after `maxMs`; returns how many requests completed. `onClock`, if given, hears
 * the elapsed milliseconds each time the clock is read, after every {@link CLOCK_EVERY} replies.
 * With `into` (a buffer per lane), each lane receives its replies into its own.
 */
async function pipeline(
  client: EchoClient,
  payload: Buffer,
  count: number,
  inFlight: number,
  maxMs: number,
  onClock?: (ms: number) => void,
  into?: readonly Buffer[],
): Promise<number> {
  const requestInto = client.requestInto?.bind(client);
  if (into !== undefined && requestInto === undefined)
    throw new Error('this client has no way to receive into a buffer of its own');
  const start = process.hrtime.bigint();
  let issued = 0;
  let replies = 0;
  let stop = false;
  const lane = async (buffer: Buffer | undefined): Promise<void> => {
    while (issued < count && !stop) {
      issued++;
      if (buffer === undefined) check(await client.request(payload), payload);
      else checkLength(await requestInto!(payload, buffer), payload);
      if (++replies % CLOCK_EVERY === 0) {
        const ms = elapsedMs(start);
        if (ms >= maxMs) stop = true;
        onClock?.(ms);
      }
    }
  };
  const lanes: Promise<void>[] = [];
  for (let i = 0; i < Math.min(inFlight, count); i++) lanes.push(lane(into?.[i]));
  await Promise.all(lanes);
  return replies;
}

/** Replies between two readings of the clock in {@link pipeline}: often enough for its cap and windows, too rarely to cost. */
const CLOCK_EVERY = 16;

/**
 * Pipelines from the first request of a fresh pair of processes and counts the replies per
 * window (each reading of the clock credits the replies since the last one to its window), so
 * the curve shows the rate while the JIT tiers up the hot paths of server and client.
 */
async function warmupCurve(
  client: EchoClient,
  payload: Buffer,
  workload: Extract<Workload, { kind: 'warmup' }>,
): Promise<WarmupResult> {
  const { windowMs, durationMs, inFlight } = workload;
  const replies = new Array<number>(Math.ceil(durationMs / windowMs)).fill(0);
  await pipeline(client, payload, Number.POSITIVE_INFINITY, inFlight, durationMs, (ms) => {
    const window = Math.floor(ms / windowMs);
    // The replies still in flight when the time is up land past the last window: not counted.
    if (window < replies.length) replies[window] = (replies[window] ?? 0) + CLOCK_EVERY;
  });
  return { kind: 'warmup', windowMs, requestsPerSecond: replies.map((count) => (count * 1000) / windowMs) };
}

/**
 * Subscribes every client, then asks (through the first) for rounds of `warmup` events to each,
 * timing each round until the last client has counted all of its events; warm-up rounds go
 * first. Rounds, rather than one push of `count`, let the time cap stop a slow stack while a fast
 * one is timed over many rounds, not a few milliseconds.
 */
async function events(
  clients: readonly EchoClient[],
  workload: Extract<Workload, { kind: 'events' }>,
): Promise<EventsResult> {
  const received = new Array<number>(clients.length).fill(0);
  let target = 0;
  let allReceived: () => void = () => undefined;
  let waiting = clients.length;
  await Promise.all(
    clients.map((client, index) =>
      client.subscribe((payload) => {
        if (payload.length !== workload.size)
          throw new Error(`event of ${workload.size} bytes came as ${payload.length}`);
        const count = (received[index] ?? 0) + 1;
        received[index] = count;
        if (count === target && --waiting === 0) allReceived();
      }),
    ),
  );
  const push = async (count: number): Promise<number> => {
    received.fill(0);
    target = count;
    waiting = clients.length;
    const done = new Promise<void>((resolve) => (allReceived = resolve));
    const start = process.hrtime.bigint();
    clients[0]!.pushEvents(count, workload.size);
    await done;
    return Number(process.hrtime.bigint() - start) / 1e9;
  };
  const round = Math.max(1, workload.warmup);
  const warmStart = process.hrtime.bigint();
  for (let rounds = 0; rounds === 0 || warmingUp(warmStart, rounds, 1, workload.warmupMs, workload.maxMs); rounds++)
    await push(round);
  let seconds = 0;
  let perClient = 0;
  while (perClient < workload.count && seconds * 1000 < workload.maxMs) {
    seconds += await push(round);
    perClient += round;
  }
  const count = perClient * clients.length;
  return { kind: 'events', eventsPerSecond: count / seconds, count, seconds };
}

/** Connect, one round trip, close, in sequence: what a short-lived client of each stack pays. */
async function connections(
  connect: Connect,
  address: string,
  payload: Buffer,
  workload: Extract<Workload, { kind: 'connect' }>,
): Promise<ConnectResult> {
  const once = async (): Promise<void> => {
    const client = await connect(address);
    check(await client.request(payload), payload);
    await client.close();
  };
  const warmStart = process.hrtime.bigint();
  for (let i = 0; warmingUp(warmStart, i, workload.warmup, workload.warmupMs, workload.maxMs); i++) await once();
  const start = process.hrtime.bigint();
  let count = 0;
  while (count < workload.count && elapsedMs(start) < workload.maxMs) {
    await once();
    count++;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { kind: 'connect', connectionsPerSecond: count / seconds, count, seconds };
}

/** A length check on every reply: cheap, and catches a stack that drops or truncates. */
function check(reply: Buffer, payload: Buffer): void {
  checkLength(reply.length, payload);
}

function checkLength(length: number, payload: Buffer): void {
  if (length !== payload.length) throw new Error(`echo of ${payload.length} bytes came back as ${length}`);
}
