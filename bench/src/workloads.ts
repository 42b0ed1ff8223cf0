/**
 * The workloads and the timing loops that run them. The loops only see an {@link EchoClient},
 * so both stacks are timed by identical code.
 */
import type { EchoClient } from './echo-client.js';
import { percentileSorted, sortedCopy } from './stats.js';

/**
 * `warmup` requests are sent untimed first, and the warm-up goes on until `warmupMs` have passed
 * as well. The time floor matters: measured on a fresh server process, the first ~200,000
 * pipelined requests ran 2-3x slower than the rest (both stacks; the V8 JIT is still tiering up
 * the server's hot paths), so a warm-up by count alone made runs bimodal.
 */
export type Workload =
  | { readonly kind: 'latency'; readonly size: number; readonly warmup: number; readonly warmupMs: number; readonly count: number }
  | {
      readonly kind: 'throughput';
      readonly size: number;
      readonly warmup: number;
      readonly warmupMs: number;
      readonly count: number;
      readonly inFlight: number;
    };

export interface LatencyResult {
  readonly kind: 'latency';
  /** Round-trip percentiles and extremes, in microseconds. */
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

export type WorkloadResult = LatencyResult | ThroughputResult;

export const KiB = 1024;

/** The workload list; `--quick` cuts every count to a tenth-ish so a run takes seconds. */
export function workloads(quick: boolean): Workload[] {
  const latencyCount = quick ? 3_000 : 20_000;
  const latencyWarmup = quick ? 500 : 2_000;
  const scale = quick ? 0.1 : 1;
  const warmupMs = quick ? 500 : 1500;
  const list: Workload[] = [];
  for (const size of [64, 4 * KiB]) {
    list.push({ kind: 'latency', size, warmup: latencyWarmup, warmupMs, count: latencyCount });
  }
  for (const [size, count] of [
    [64, 300_000],
    [4 * KiB, 100_000],
  ] as const) {
    list.push({
      kind: 'throughput',
      size,
      warmup: Math.round(count * scale * 0.1),
      warmupMs,
      count: Math.round(count * scale),
      inFlight: 64,
    });
  }
  return list;
}

export function describe(workload: Workload): string {
  const size = workload.size >= KiB ? `${workload.size / KiB} KiB` : `${workload.size} B`;
  return workload.kind === 'latency' ? `round trip ${size}` : `pipelined ${size} x${workload.inFlight}`;
}

export async function run(client: EchoClient, workload: Workload): Promise<WorkloadResult> {
  // A recognisable, non-zero payload, so a stack that returned the wrong bytes would show up.
  const payload = Buffer.alloc(workload.size);
  for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;
  const first = await client.request(payload);
  if (!first.equals(payload)) throw new Error('echo returned different bytes than were sent');
  return workload.kind === 'latency' ? latency(client, payload, workload) : throughput(client, payload, workload);
}

/** Whether `warmupMs` have passed since `start` (from process.hrtime.bigint()). */
function warmedFor(start: bigint, warmupMs: number): boolean {
  return Number(process.hrtime.bigint() - start) / 1e6 >= warmupMs;
}

async function latency(client: EchoClient, payload: Buffer, workload: Extract<Workload, { kind: 'latency' }>): Promise<LatencyResult> {
  const { warmup, warmupMs, count } = workload;
  const warmStart = process.hrtime.bigint();
  for (let i = 0; i < warmup || !warmedFor(warmStart, warmupMs); i++) check(await client.request(payload), payload);
  const samples = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    const reply = await client.request(payload);
    samples[i] = Number(process.hrtime.bigint() - start) / 1000;
    // Checked after the clock stops: the check is ours, not the stack's cost.
    check(reply, payload);
  }
  const sorted = sortedCopy(samples);
  let sum = 0;
  for (const sample of sorted) sum += sample;
  return {
    kind: 'latency',
    p50: percentileSorted(sorted, 50),
    p99: percentileSorted(sorted, 99),
    mean: sum / count,
    min: sorted[0] ?? Number.NaN,
    max: sorted[count - 1] ?? Number.NaN,
    count,
  };
}

async function throughput(
  client: EchoClient,
  payload: Buffer,
  workload: Extract<Workload, { kind: 'throughput' }>,
): Promise<ThroughputResult> {
  const warmStart = process.hrtime.bigint();
  // Warm up in slices, so the time floor is checked without timing every request.
  const slice = Math.max(1, Math.min(workload.warmup, 10_000));
  for (let sent = 0; sent < workload.warmup || !warmedFor(warmStart, workload.warmupMs); sent += slice) {
    await pipeline(client, payload, slice, workload.inFlight);
  }
  const start = process.hrtime.bigint();
  await pipeline(client, payload, workload.count, workload.inFlight);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const requestsPerSecond = workload.count / seconds;
  return {
    kind: 'throughput',
    count: workload.count,
    seconds,
    requestsPerSecond,
    megabytesPerSecond: (requestsPerSecond * payload.length) / 1e6,
  };
}

/**
 * Sends `count` requests keeping `inFlight` outstanding: each of `inFlight` lanes issues its
 * next request as soon as its previous reply arrives, so the window never drains until the end.
 */
async function pipeline(client: EchoClient, payload: Buffer, count: number, inFlight: number): Promise<void> {
  let issued = 0;
  const lane = async (): Promise<void> => {
    while (issued < count) {
      issued++;
      check(await client.request(payload), payload);
    }
  };
  const lanes: Promise<void>[] = [];
  for (let i = 0; i < Math.min(inFlight, count); i++) lanes.push(lane());
  await Promise.all(lanes);
}

/** A length check on every reply: cheap, and catches a stack that drops or truncates. */
function check(reply: Buffer, payload: Buffer): void {
  if (reply.length !== payload.length) throw new Error(`echo of ${payload.length} bytes came back as ${reply.length}`);
}
