import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { CHANNEL_FD_ENV, connectInherited, createServer, spawnWithChannel } from 'pollux';

if (process.env[CHANNEL_FD_ENV] !== undefined) {
  // The child: one call, no address; the parent's server is at the other end.
  const client = await connectInherited('greeter');
  console.log((await client.request(1, Buffer.from('child'))).toString()); // hello child, pid …
  await client.close();
} else {
  const server = createServer();
  server.addService({
    id: 1,
    name: 'greeter',
    // The kernel says who the child is: its own pid, uid and gid.
    commands: { 1: (name, connection) => Buffer.from(`hello ${name}, pid ${connection.credentials.pid}`) },
    closed: (connection) => console.log(`child ${connection.credentials.pid} left`),
  });
  // This same file runs as the child (with the loader this one runs under, e.g. tsx).
  const child = spawnWithChannel(server, process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    stdio: 'inherit',
  });
  await once(child, 'exit');
  await server.close();
}
