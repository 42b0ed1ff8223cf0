// The pollux demo: one server process with two services, four client processes, one of which
// is killed with SIGKILL mid-flight. Run from the repo root: node_modules/.bin/tsx examples/demo/main.ts
// With `--stay [socket]` the server keeps running after the clients are done (until Ctrl-C), for
// the `pollux` inspector: `pollux status <socket>`.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createServer, INTROSPECTION_SERVICE_ID } from 'pollux';
import { clockService, kvService, startTicking } from './services.js';

const CLIENTS = 4; // the last one is doomed
const { values: flags, positionals } = parseArgs({ options: { stay: { type: 'boolean' } }, allowPositionals: true });
const socketPath =
  positionals[0] ?? join(tmpdir(), `pollux-demo-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
const clientFile = fileURLToPath(new URL('./client.ts', import.meta.url));
const log = (line: string): void => console.log(`[server] ${line}`);
process.on('exit', () => rmSync(socketPath, { force: true })); // also when the demo fails

// A demo that hangs teaches nothing: fail loudly instead.
const watchdog = setTimeout(() => {
  console.error('[server] demo did not finish within 20 s: something is stuck');
  process.exit(1);
}, 20_000);
watchdog.unref();

const children = new Map<number, ChildProcess>();
let doomedPid = -1;
let doomedFreed!: () => void;
const doomedGone = new Promise<void>((resolve) => (doomedFreed = resolve));

// Introspection lets `pollux status|connections|watch` read the counters (same uid or root only).
const server = createServer({ introspection: true });
server.addService(
  kvService({
    log,
    parked: (conn) => {
      if (conn.credentials.pid !== doomedPid) return;
      log(`pid ${doomedPid} has requests in flight: kill -9`);
      process.kill(doomedPid, 'SIGKILL');
    },
    freed: (pid) => {
      if (pid === doomedPid) doomedFreed();
    },
  }),
);
const stopTicking = startTicking(server.addService(clockService), 10);
await server.listen(socketPath);
log(`listening on ${socketPath}: services kv (1) and clock (2)`);

// Each client is a separate Node process; tsx (resolved from the repo root) runs the .ts file.
const exits: Promise<void>[] = [];
for (let n = 1; n <= CLIENTS; n++) {
  const doomed = n === CLIENTS;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', clientFile, socketPath, `client ${n}`, doomed ? 'doomed' : 'normal'],
    {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  if (child.pid === undefined) throw new Error('spawn failed');
  if (doomed) doomedPid = child.pid;
  children.set(child.pid, child);
  exits.push(
    new Promise((resolve, reject) => {
      child.on('exit', (code, signal) => {
        const expected = doomed ? signal === 'SIGKILL' : code === 0;
        if (doomed) log(`client ${n} (pid ${child.pid}) ended by ${signal ?? `exit ${code}`}`);
        if (expected) resolve();
        else reject(new Error(`client ${n} ended with ${signal ?? `exit code ${code}`}`));
      });
    }),
  );
}

try {
  await Promise.all([...exits, doomedGone]);
} finally {
  for (const child of children.values())
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

// Per-service counters: every request answered or failed, every connection closed.
const cols = ['accepted', 'closed', 'requests', 'responses', 'errors', 'events', 'bytesIn', 'bytesOut'] as const;
const stats = server.stats();
log(
  `stats: ${stats.accepted} connections accepted, ${stats.connections} open, ${stats.protocolErrors} protocol errors`,
);
console.log(['  service', ...cols].map((c, i) => (i === 0 ? c.padEnd(10) : c.padStart(10))).join(''));
for (const s of stats.services.filter((service) => service.id !== INTROSPECTION_SERVICE_ID)) {
  console.log([`  ${s.name}`.padEnd(10), ...cols.map((c) => String(s[c]).padStart(10))].join(''));
}

clearTimeout(watchdog);
if (flags.stay === true) {
  log(`staying up on ${socketPath}: try \`pollux status ${socketPath}\`; Ctrl-C ends`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}
stopTicking();
await server.close();
rmSync(socketPath, { force: true });
log('closed, socket removed, bye');
