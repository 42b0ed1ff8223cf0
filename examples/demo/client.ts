// One client process: argv = socketPath, name, role ("normal" or "doomed").
// It talks to both services, checks every answer, and prints one summary line.
import { connect, IpcError } from 'pollux';
import { KV, TICK } from './services.js';

const [socketPath, name = 'client', role = 'normal'] = process.argv.slice(2);
if (socketPath === undefined) throw new Error('usage: client.ts <socket> <name> [normal|doomed]');
const say = (line: string): void => console.log(`[${name}] ${line}`);

const KEYS = 1000;
const BATCH = 500; // SET+GET pairs per batch: 1,000 requests in flight at once
const TICKS = 5;

const kv = await connect(socketPath, 'kv');
const clock = await connect(socketPath, 'clock');

// Events arrive on their own channel, interleaved with responses; count a few.
const ticked = new Promise<void>((resolve) => {
  let seen = 0;
  clock.on('event', (id) => {
    if (id === TICK && ++seen === TICKS) resolve();
  });
});

const set = (i: number): Promise<Buffer> => kv.request(KV.set, Buffer.from(`k${i}=${name}:${i}`));
const get = (i: number): Promise<Buffer> => kv.request(KV.get, Buffer.from(`k${i}`));

if (role === 'doomed') {
  // Store some state the server must free, then leave 1,001 requests in flight, the last one
  // parked on the server. main kills us with SIGKILL as soon as the server sees the park.
  await Promise.all(Array.from({ length: BATCH }, (_, i) => set(i)));
  const inFlight = Array.from({ length: KEYS }, (_, i) => get(i % BATCH));
  // Print before sending the park: once it is sent, we may die at any instant.
  say(`pid ${process.pid}: ${BATCH} keys stored, ${KEYS + 1} requests in flight, waiting for kill -9`);
  inFlight.push(kv.request(KV.park));
  await Promise.allSettled(inFlight); // never returns: the process dies first
}

const started = performance.now();
let checked = 0;
for (let base = 0; base < KEYS; base += BATCH) {
  // Pipelining: fire the whole batch, then await it. SET k is answered before GET k because a
  // connection's synchronous handlers run in arrival order.
  const batch: Promise<void>[] = [];
  for (let i = base; i < base + BATCH; i++) {
    batch.push(set(i).then(() => undefined));
    batch.push(
      get(i).then((value) => {
        if (value.toString() !== `${name}:${i}`) throw new Error(`k${i}: got "${value.toString()}"`);
        checked++;
      }),
    );
  }
  await Promise.all(batch);
}
const ms = Math.round(performance.now() - started);

// A missing key comes back as the code the handler threw.
const missing = await get(KEYS).then(
  () => 'found?!',
  (e: unknown) => (e instanceof IpcError ? e.code : String(e)),
);
await ticked;

say(
  `pid ${process.pid}: ${2 * KEYS} pipelined requests in ${ms} ms, ${checked}/${KEYS} values checked, ` +
    `missing key -> ${missing}, ${TICKS} clock ticks`,
);
await Promise.all([kv.close(), clock.close()]);
