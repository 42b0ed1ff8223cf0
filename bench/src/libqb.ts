/**
 * libqb, the C IPC library of pollux's lineage, as two contenders: its shared-memory and its
 * Unix-socket transport. Both ends are one C program, `c/libqb-echo.c`, built at bench time
 * against the installed library (pkg-config `libqb`); libqb has no Node binding, so its client is
 * that program too, timing the workloads with the loops of workloads.ts and printing each result
 * as the Node client process does. It runs the workloads a client process times on a shared
 * server (round trips, pipelining, events, connections), not the warm-up curve (there is no JIT)
 * or those with idle connections held by Node holders.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Program } from './processes.js';
import type { TimedWorkload, Workload } from './workloads.js';

export const LIBQB = ['libqb-shm', 'libqb-socket'] as const;
export type Libqb = (typeof LIBQB)[number];

export function isLibqb(name: string): name is Libqb {
  return (LIBQB as readonly string[]).includes(name);
}

/** Where the program is compiled (git-ignored, rebuilt by every bench run) and its source. */
export const LIBQB_BINARY = fileURLToPath(new URL('../build/libqb-echo', import.meta.url));
export const LIBQB_SOURCE = fileURLToPath(new URL('../c/libqb-echo.c', import.meta.url));

const INSTALL_HINT = 'install it with `apt-get install libqb-dev pkg-config` (Debian, Ubuntu) to measure it';

/** The compiler and linker flags of the installed libqb, or why there are none. */
export function libqbFlags(): { readonly flags: readonly string[] } | { readonly missing: string } {
  const found = spawnSync('pkg-config', ['--cflags', '--libs', 'libqb'], { encoding: 'utf8' });
  if (found.error !== undefined) return { missing: `pkg-config is not installed: ${INSTALL_HINT}` };
  if (found.status !== 0) return { missing: `libqb is not installed (pkg-config finds no libqb): ${INSTALL_HINT}` };
  return { flags: found.stdout.trim().split(/\s+/) };
}

/** The version pkg-config reports, for the report; 'not installed' without it. */
export function libqbVersion(): string {
  const found = spawnSync('pkg-config', ['--modversion', 'libqb'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : 'not installed';
}

/** The workloads libqb's client times: those a client process runs on a shared server. */
export function libqbRuns(workload: Workload): boolean {
  return (
    workload.kind === 'latency' ||
    workload.kind === 'throughput' ||
    workload.kind === 'events' ||
    workload.kind === 'connect'
  );
}

/** libqb names a service, not a path: the bench's socket path without its directory and suffix. */
function serviceName(address: string): string {
  return (address.split('/').pop() ?? address).replace(/\.sock$/, '');
}

export function libqbServer(contender: Libqb, address: string): Program {
  return { binary: LIBQB_BINARY, args: ['server', contender === 'libqb-shm' ? 'shm' : 'socket', serviceName(address)] };
}

/** One workload as the C client's argument: kind,size,warmup,warmupMs,count,maxMs,n. */
function workloadArgument(workload: TimedWorkload): string {
  if (workload.kind === 'warmup') throw new Error('libqb does not run the warm-up curve (no JIT to warm)');
  const n = workload.kind === 'throughput' ? workload.inFlight : workload.kind === 'events' ? workload.clients : 1;
  const { kind, size, warmup, warmupMs, count, maxMs } = workload;
  return [kind, size, warmup, warmupMs, count, maxMs, n].join(',');
}

/** The client process that times `list` against the server at `address`, printing a line per workload. */
export function libqbClient(address: string, list: readonly TimedWorkload[]): Program {
  return { binary: LIBQB_BINARY, args: ['client', serviceName(address), ...list.map(workloadArgument)] };
}
