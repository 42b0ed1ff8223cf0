// A compositor-style frame loop (Monado's pattern) that serves IPC from its own mainloop: each
// 60 Hz frame renders, presents, then serves clients with whatever is left of its budget through
// PumpPoller.pump(), never blocking past the frame deadline. pollux's own timers (handshake and
// request timeouts, close deadlines) are the pump's too: they run inside pump(), which never
// sleeps past the earliest one.
// Run from the repo root: node_modules/.bin/tsx examples/custom-mainloop/main.ts
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PumpPoller } from '@pollux/poll-pump';
import { createServer, type Connection } from 'pollux';
import { PRESENTED, SERVICE, SUBMIT, SUBMITS } from './shared.js';

const FRAME_MS = 1000 / 60;
const RENDER_MS = 4; // the frame's own work, before any client is served
const MARGIN_MS = 1; // stop serving this long before the deadline
const CLIENTS = 3;
const socketPath = join(tmpdir(), `pollux-mainloop-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
process.on('exit', () => rmSync(socketPath, { force: true }));
setTimeout(() => {
  console.error('[compositor] did not finish within 20 s: something is stuck');
  process.exit(1);
}, 20_000).unref();

// The server's fds are served only when the frame loop pumps: no libuv watcher is involved.
const poller = new PumpPoller();
const server = createServer({ poller });
const clients = new Set<Connection<unknown>>();
let frame = 0;
let served = 0;
server.addService({
  id: 1,
  name: SERVICE,
  commands: {
    // Accepting a layer is cheap bookkeeping; it will be shown by the next frame.
    [SUBMIT]: () => {
      served++;
      return u32(frame + 1);
    },
  },
  created: (conn) => void clients.add(conn),
  closed: (conn) => void clients.delete(conn),
});
await server.listen(socketPath);

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

/** Stands in for rendering: the thread is busy and serves nobody. */
function render(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

const times: number[] = [];
let withinBudget = 0;
let maxRender = 0;
let maxServeOverrun = 0;
let measuring = false;
let next = 0; // end of the current slot: deadlines sit on a 60 Hz grid, so timer lateness never drifts
let timer: NodeJS.Timeout | undefined;

function runFrame(): void {
  const begin = performance.now();
  // A frame that starts too late for its slot takes a fresh one: missed slots are dropped.
  next = next + FRAME_MS - begin >= RENDER_MS + MARGIN_MS ? next + FRAME_MS : begin + FRAME_MS;
  const deadline = next;
  frame++;
  render(RENDER_MS);
  const rendered = performance.now() - begin; // > RENDER_MS: the CPU was busy elsewhere
  for (const conn of clients) conn.sendEvent(PRESENTED, u32(frame)); // queued: the next pump writes it
  // Serve clients until the deadline. A pump that had work returns at once, hence the loop. The
  // margin absorbs poll(2)'s wake-up latency and the work of the last dispatch.
  const serveStart = performance.now();
  let left: number;
  while ((left = deadline - MARGIN_MS - performance.now()) >= 1) poller.pump(left);
  const end = performance.now();
  // Frames count once every client is up: before that, three Node processes starting on a small
  // machine take the CPU from the loop, which says nothing about the loop itself.
  if ((measuring ||= clients.size === CLIENTS)) {
    // What serving itself cost past the deadline, when it began before it: pump's share of a miss.
    if (serveStart < deadline) maxServeOverrun = Math.max(maxServeOverrun, end - deadline);
    times.push(end - begin);
    maxRender = Math.max(maxRender, rendered);
    if (end <= deadline) withinBudget++;
  }
  // A timer, not a while loop: Node's own loop must turn too (child exits, stdout, promises).
  timer = setTimeout(runFrame, 0);
}

const clientFile = fileURLToPath(new URL('./client.ts', import.meta.url));
const exits = Array.from({ length: CLIENTS }, (_, i) => {
  const child = spawn(process.execPath, ['--import', 'tsx', clientFile, socketPath, `client ${i + 1}`], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return new Promise<number | null>((resolve) => child.on('exit', resolve));
});
console.log(
  `[compositor] ${FRAME_MS.toFixed(1)} ms frames, ${RENDER_MS} ms of rendering each, serving ${CLIENTS} clients on ${socketPath}`,
);
runFrame();

const codes = await Promise.all(exits);
await server.close(); // graceful, and finished by the frames that keep pumping meanwhile
clearTimeout(timer);

console.log(
  `[compositor] ${times.length} frames since every client connected, ${withinBudget} within the ${FRAME_MS.toFixed(1)} ms budget, ` +
    `max frame time ${Math.max(...times).toFixed(1)} ms (max ${RENDER_MS} ms render: ${maxRender.toFixed(1)} ms)`,
);
console.log(`[compositor] serving overran a deadline by at most ${maxServeOverrun.toFixed(2)} ms`);
console.log(`[compositor] ${served} requests served, ${poller.size} fds left in the poller`);
// Budget misses depend on the machine (a loaded CPU stretches even the render); correctness does not.
process.exitCode = codes.every((code) => code === 0) && served === CLIENTS * SUBMITS && poller.size === 0 ? 0 : 1;
