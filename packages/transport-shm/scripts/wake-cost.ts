// Measures the two doorbells a shared-memory channel could use: a byte on its socket, or an
// eventfd. Prints the cost of ringing and draining one (no sleep), and of a round trip between two
// processes that sleep in poll(2) between rings (two wake-ups). Run: npx tsx scripts/wake-cost.ts
import { spawn } from 'node:child_process';
import * as sys from '@pollux/sys';

const ROUNDS = 20_000;
const one = Uint8Array.of(1);
const scratch = new Uint8Array(64);

function waitReadable(fd: number): void {
  const revents = new Int32Array(1);
  sys.poll(Int32Array.of(fd), Int32Array.of(sys.POLLIN), revents, 1, -1);
}

const doorbells = {
  socket: {
    ring: (fd: number) => sys.writev(fd, [one], 1),
    drain: (fd: number) => sys.read(fd, scratch, 0, scratch.length),
  },
  eventfd: { ring: (fd: number) => sys.eventfdWrite(fd), drain: (fd: number) => sys.eventfdRead(fd) },
};
type Kind = keyof typeof doorbells;

if (process.argv[2] === 'echo') {
  // The far side: fd 3 is rung by the parent, fd 4 is the parent's doorbell.
  const bell = doorbells[process.argv[3] as Kind];
  for (let i = 0; i < ROUNDS; i++) {
    waitReadable(3);
    bell.drain(3);
    bell.ring(4);
  }
  process.exit(0);
}

function pair(kind: Kind): [number, number, number, number] {
  if (kind === 'socket') {
    const [a, b] = sys.socketpair();
    const [c, d] = sys.socketpair();
    for (const fd of [a, b, c, d]) sys.setNonBlocking(fd, true);
    // we ring a, child waits on b; child rings d, we wait on c
    return [a, b, c, d];
  }
  const toChild = sys.eventfdCreate();
  const toParent = sys.eventfdCreate();
  return [toChild, toChild, toParent, toParent];
}

async function roundTrip(kind: Kind): Promise<number> {
  const bell = doorbells[kind];
  const [ringChild, childWaits, parentWaits, childRings] = pair(kind);
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'echo', kind], {
    stdio: ['ignore', 'inherit', 'inherit', childWaits, childRings],
  });
  const start = process.hrtime.bigint();
  for (let i = 0; i < ROUNDS; i++) {
    bell.ring(ringChild);
    waitReadable(parentWaits);
    bell.drain(parentWaits);
  }
  const perRound = Number(process.hrtime.bigint() - start) / ROUNDS / 1000;
  await new Promise((resolve) => child.once('exit', resolve));
  for (const fd of new Set([ringChild, childWaits, parentWaits, childRings])) sys.close(fd);
  return perRound;
}

function ringAndDrain(kind: Kind): number {
  const bell = doorbells[kind];
  const [ring, waits] = pair(kind);
  const start = process.hrtime.bigint();
  for (let i = 0; i < ROUNDS * 5; i++) {
    bell.ring(ring);
    bell.drain(waits);
  }
  return Number(process.hrtime.bigint() - start) / (ROUNDS * 5) / 1000;
}

for (const kind of ['socket', 'eventfd'] as const) {
  const local = ringAndDrain(kind);
  const trip = await roundTrip(kind);
  console.log(`${kind.padEnd(8)} ring+drain ${local.toFixed(2)} µs, round trip across processes ${trip.toFixed(1)} µs`);
}
