/**
 * The pollux server, run as its own process: an echo service whose command 0 returns the
 * request payload unchanged. Usage: pollux-server.ts <socket path>. Prints "ready" once
 * listening; exits on SIGTERM or when its parent closes stdin.
 */
import { createServer } from 'pollux';
import { exitWithParent } from './server-lifecycle.js';

const address = process.argv[2];
if (address === undefined) throw new Error('usage: pollux-server.ts <socket path>');

const server = createServer();
server.addService({ id: 1, name: 'echo', commands: { 0: (payload: Buffer) => payload } });
await server.listen(address);
process.stdout.write('ready\n');
exitWithParent(() => server.close());
