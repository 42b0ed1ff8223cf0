// A service that systemd starts on demand and that exits once nobody has used it for a while:
// the socket stays with systemd (or with activate.sh, which plays its part), so a client that
// comes after the exit finds it listening and systemd starts the greeter again.
//
//   systemd-socket-activate --listen=/tmp/greeter.sock --fdname=greeter node_modules/.bin/tsx examples/activation/greeter.ts
//   examples/activation/activate.sh /tmp/greeter.sock node_modules/.bin/tsx examples/activation/greeter.ts 2000
import { createServer } from 'pollux';

// How long to stay up without clients, in ms: the first argument, default 10 s.
const idleTimeout = Number(process.argv[2] ?? 10_000);

const server = createServer({ idleTimeout, idleAction: 'close' });
server.addService({
  id: 1,
  name: 'greeter',
  commands: { 0: (name) => Buffer.from(`hello ${name.toString()}, from pid ${process.pid}`) },
});
server.on('closing', () => console.error(`greeter ${process.pid}: no clients for ${idleTimeout} ms, exiting`));
// The socket systemd passed under the name "greeter" (FileDescriptorName= in greeter.socket).
// Once closed, nothing is left to keep the process alive: it exits, and systemd keeps the socket.
await server.listen('systemd:greeter');
