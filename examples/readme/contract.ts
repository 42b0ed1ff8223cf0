import {
  connect,
  contractClient,
  contractEvents,
  createServer,
  defineContract,
  implementContract,
  jsonCodec,
  schemaCodec,
  utf8Codec,
} from 'pollux';
import * as v from 'valibot';

const Note = v.object({ title: v.pipe(v.string(), v.minLength(1)), body: v.string() });
const notes = defineContract({
  id: 1,
  name: 'notes',
  commands: {
    put: { id: 0, request: schemaCodec(Note), response: jsonCodec<number>() },
    get: { id: 1, request: utf8Codec, response: jsonCodec<v.InferOutput<typeof Note> | null>() },
  },
  events: { stored: { id: 0, payload: utf8Codec } },
});

const server = createServer();
const events = contractEvents(notes);
const store = new Map<string, v.InferOutput<typeof Note>>();
const service = server.addService(
  implementContract(notes, {
    handlers: {
      put: (note) => {
        store.set(note.title, note);
        service.broadcast(...events.stored(note.title)); // encoded once, queued to every connection
        return store.size;
      },
      get: (title) => store.get(title) ?? null,
    },
  }),
);
await server.listen('@notes-example');

const client = await connect('@notes-example', 'notes');
const typed = contractClient(client, notes);
typed.on('stored', (title) => console.log(`stored: ${title}`)); // title: string
console.log(await typed.call.put({ title: 'todo', body: 'docs' })); // 1 (number)
console.log(await typed.call.get('todo')); // { title: 'todo', body: 'docs' }
await client.close();
await server.close();
