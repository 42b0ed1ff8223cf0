/**
 * The pollux server, run as its own process: the bench's echo service (pollux-service.ts) on the
 * poller backend named by the second argument (default: node, i.e. what `createServer()` uses).
 * Usage: pollux-server.ts <socket path> [node|epoll|pump|pump-poll] [spin µs over shm] [ring bytes over shm]. Prints "ready" once listening; exits
 * on SIGTERM or when its parent closes stdin.
 */
import { createServer } from 'pollux';
import { isBackend, startPoller } from './backends.js';
import { addEchoService } from './pollux-service.js';
import { exitWithParent } from './server-lifecycle.js';
import { FD_COUNT_MOST_IDLE, shmRingBytes } from './workloads.js';

const [address, backend = 'node', spinMicros = '0', ringBytes = String(shmRingBytes([]))] = process.argv.slice(2);
if (address === undefined || !isBackend(backend))
  throw new Error(
    'usage: pollux-server.ts <socket path> [node|epoll|pump|pump-poll] [spin µs over shm] [ring bytes over shm]',
  );

const running = await startPoller(backend);
// Room for the fd-count workload's idle connections and its busy one: the default cap (4,096)
// would refuse the busy connection beside 4,096 idle ones.
const server = createServer({
  poller: running.poller,
  maxConnections: FD_COUNT_MOST_IDLE + 1,
  // The echo answers with the request's own bytes: lent in place, they are copied once, from the
  // client's ring into the server's (libqb's shm server reads requests in place too).
  shm: { spinMicros: Number(spinMicros), lendViews: true, ringBytes: Number(ringBytes) },
});
addEchoService(server);
await server.listen(address);
process.stdout.write('ready\n');
// The poller stops after the server closed its fds, so a pump driver does not keep the process up.
exitWithParent(() => server.close().finally(() => running.stop()));
