// A typed contract shared by a server, an async client and a blocking command-line tool.
// Run from the repo root: node_modules/.bin/tsx examples/contract/main.ts
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connect, contractClient, contractEvents, createServer, implementContract, type HostedService } from 'pollux';
import { notes, type Note } from './notes.js';

const address = `@pollux-contract-example-${process.pid}`;
const events = contractEvents(notes);

// The server: typed handlers, each connection's notes in its context, a broadcast per stored note.
await using server = createServer();
const service: HostedService<Map<string, Note>> = server.addService(
  implementContract(notes, {
    createContext: () => new Map<string, Note>(),
    handlers: {
      put: (note, connection) => {
        connection.context.set(note.title, note);
        service.broadcast(...events.stored({ title: note.title, by: connection.credentials.pid }));
        return { stored: connection.context.size };
      },
      get: (title, connection) => connection.context.get(title) ?? null,
    },
  }),
);
await server.listen(address);

// An async client: `typed.call.put` takes a Note and resolves with { stored }, no casts.
await using client = await connect(address, notes.name);
const typed = contractClient(client, notes);
let storedEvents = 0;
const toolStored = new Promise<void>((resolve) => {
  typed.on('stored', ({ title, by }) => {
    console.log(`[client] event: "${title}" stored by pid ${by}`);
    if (++storedEvents === 2) resolve();
  });
});
console.log('[client] put:', await typed.call.put({ title: 'groceries', body: 'milk, bread' }));
console.log('[client] get:', await typed.call.get('groceries'));
// The raw API is still there: bytes the schema refuses come back as EBADMSG.
const refused = await client
  .request(notes.commands.put.id, Buffer.from('{"title":""}'))
  .catch((error: Error) => error.message);
console.log('[client] raw put of a bad note:', refused);

// The blocking tool runs in its own process. This one must keep serving meanwhile, so it waits
// for the tool asynchronously; from a shell the tool is simply run.
const tool = fileURLToPath(new URL('./tool.ts', import.meta.url));
const { stdout } = await promisify(execFile)(process.execPath, [
  '--import',
  'tsx',
  tool,
  address,
  'put',
  'todo',
  'write docs',
]);
console.log(`[tool] ${stdout.trim()}`);
await toolStored;
console.log(`[server] ${server.stats().services[0]?.badMessages} request refused as a bad message`);
