import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NatsBridge, RemoteClient } from '@pollux/bridge-nats';
import { connect as connectNats } from 'nats';
import { connect, createServer } from 'pollux';

// A NATS server with TLS and two users. In production it runs as a service; the example starts
// one on a free loopback port, with a certificate for localhost from examples/nats-tls (make your
// own). The bridge may serve pollux subjects and answer the services API; the caller may call
// command 0 of "kv", look the service up, and read replies.
const certificates = fileURLToPath(new URL('../nats-tls/', import.meta.url));
const tls = { caFile: join(certificates, 'ca.pem') }; // the CA the clients trust
const configDir = mkdtempSync(join(tmpdir(), 'nats-example-'));
const config = join(configDir, 'nats.conf');
writeFileSync(
  config,
  `tls { cert_file: "${join(certificates, 'server-cert.pem')}", key_file: "${join(certificates, 'server-key.pem')}" }
  authorization { users = [
    { user: bridge, password: bridge-secret,
      permissions: { subscribe: ["pollux.>", "$SRV.>", "_INBOX.>"], publish: ["pollux.>", "$SRV.>", "_INBOX.>"] } }
    { user: caller, password: caller-secret,
      permissions: { publish: ["pollux.kv.0", "$SRV.INFO.pollux-kv"], subscribe: ["_INBOX.>", "pollux.kv.events.*"] } }
  ] }`,
);
const natsServer = spawn('nats-server', ['-c', config, '-a', '127.0.0.1', '-p', '-1'], {
  stdio: ['ignore', 'ignore', 'pipe'],
});
// However the program ends, a failure halfway included, the NATS server ends with it.
process.on('exit', () => {
  natsServer.kill();
  rmSync(configDir, { recursive: true, force: true });
});
let port = '';
for await (const line of createInterface({ input: natsServer.stderr })) {
  port = /client connections on [^\s]+:(\d+)/.exec(line)?.[1] ?? port;
  if (line.includes('Server is ready')) break;
}
const servers = `tls://127.0.0.1:${port}`;

// A pollux service on this host, with a command that NATS must never reach.
const server = createServer();
const store = new Map<string, string>();
server.addService({
  id: 1,
  name: 'kv',
  commands: {
    0: (key) => Buffer.from(store.get(key.toString()) ?? ''),
    1: (entry) => void store.set(...(entry.toString().split('=', 2) as [string, string])),
  },
});
await server.listen('@kv-bridge-example');
const local = await connect('@kv-bridge-example', 'kv');
await local.request(1, Buffer.from('greeting=hello over NATS'));

// The bridge: a pollux client of its own, and a NATS connection as the "bridge" user. Only
// command 0 is served: command 1 stays local.
const bridgeNats = await connectNats({ servers, tls, user: 'bridge', pass: 'bridge-secret' });
const bridgeClient = await connect('@kv-bridge-example', 'kv');
const bridge = await NatsBridge.start({ nats: bridgeNats, services: [{ client: bridgeClient, commands: [0] }] });

// On another host, a caller: the same request API as a local client.
const callerNats = await connectNats({ servers, tls, user: 'caller', pass: 'caller-secret' });
const kv = await RemoteClient.connect(callerNats, { service: 'kv' });
console.log((await kv.request(0, Buffer.from('greeting'))).toString()); // hello over NATS
await kv.request(1, Buffer.from('greeting=hijacked')).catch((error) => console.log(error.code)); // EACCES

await kv.close();
await bridge.close();
await Promise.all([callerNats.close(), bridgeNats.close(), bridgeClient.close(), local.close()]);
await server.close();
natsServer.kill(); // a running child would keep this program alive
