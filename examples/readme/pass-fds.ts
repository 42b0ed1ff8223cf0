import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer } from 'pollux';

const dir = mkdtempSync(join(tmpdir(), 'pollux-fds-'));
writeFileSync(join(dir, 'motd'), 'served through an fd\n');
const motd = openSync(join(dir, 'motd'), 'r');

const server = createServer({ maxFdsPerMessage: 1 }); // a request may carry one fd
server.addService({
  id: 1,
  name: 'files',
  commands: {
    // The client hands over a file it opened: the handler keeps the fd by taking it.
    0: (line, _connection, _command, fds) => {
      const log = fds.take(0);
      writeSync(log, `${line}\n`);
      closeSync(log);
    },
    // The answer carries a copy of the server's fd: the client reads a file it never opened.
    1: (_payload, connection) => connection.withFds(Buffer.from('motd'), [motd]),
  },
});
await server.listen('@pollux-fds-example');

const client = await connect('@pollux-fds-example', 'files');
const log = openSync(join(dir, 'log'), 'a');
await client.request(0, Buffer.from('written by the server'), { fds: [log] });
closeSync(log); // pollux sent a copy: this one is still ours to close

const { fds } = await client.requestWithFds(1);
const text = Buffer.alloc(64);
const length = readSync(fds[0]!, text, 0, text.length, 0);
closeSync(fds[0]!); // a received fd is the receiver's
console.log(text.toString('utf8', 0, length).trim()); // served through an fd
console.log(readFileSync(join(dir, 'log'), 'utf8').trim()); // written by the server

await client.close();
await server.close();
closeSync(motd);
rmSync(dir, { recursive: true });
