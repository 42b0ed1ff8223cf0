/**
 * The server side of the NATS contenders, run as one process: a nats-server on a free loopback
 * port (a child, so it shares this process's CPU pin) and the echo behind it, either a pollux
 * server with a bridge (`pollux-nats`: what a remote call through the bridge costs) or a plain
 * NATS responder (`nats`: the same hop without pollux). NATS speaks TCP, not Unix sockets, so the
 * file at the socket path the bench gives holds the NATS URL for the client to read.
 * Usage: nats-servers.ts <address file> <pollux-nats|nats>. Prints "ready" once serving.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { NatsBridge } from '@pollux/bridge-nats';
import { connect as connectNats } from 'nats';
import { connect, createServer } from 'pollux';
import { NATS_ECHO_SUBJECT } from './nats-client.js';
import { addEchoService, ECHO_COMMAND } from './pollux-service.js';
import { exitWithParent } from './server-lifecycle.js';

const [address, kind] = process.argv.slice(2);
if (address === undefined || (kind !== 'pollux-nats' && kind !== 'nats'))
  throw new Error('usage: nats-servers.ts <address file> <pollux-nats|nats>');

const natsServer = spawn('nats-server', ['-a', '127.0.0.1', '-p', '-1'], { stdio: ['ignore', 'ignore', 'pipe'] });
let port = '';
for await (const line of createInterface({ input: natsServer.stderr })) {
  port = /client connections on [^\s]+:(\d+)/.exec(line)?.[1] ?? port;
  if (line.includes('Server is ready')) break;
}
const nats = await connectNats({ servers: `127.0.0.1:${port}` });
let close: () => Promise<void>;
if (kind === 'nats') {
  nats.subscribe(NATS_ECHO_SUBJECT, { callback: (_error, msg) => msg.respond(msg.data) });
  close = () => nats.close();
} else {
  const server = createServer();
  addEchoService(server);
  await server.listen(`${address}.pollux`);
  const client = await connect(`${address}.pollux`, 'echo');
  const bridge = await NatsBridge.start({ nats, services: [{ client, commands: [ECHO_COMMAND] }] });
  close = async () => {
    await bridge.close();
    await Promise.all([client.close(), nats.close()]);
    await server.close();
  };
}
await nats.flush();
writeFileSync(address, `nats://127.0.0.1:${port}`);
process.stdout.write('ready\n');
exitWithParent(() => close().finally(() => void natsServer.kill()));
