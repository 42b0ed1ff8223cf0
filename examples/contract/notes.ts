// The contract of the notes service: imported by the server, the async client and the blocking
// tool alike, so a command's name, id, request type and response type are written once.
import { defineContract, jsonCodec, schemaCodec, utf8Codec } from 'pollux';
import * as v from 'valibot';

// What the server accepts from clients is checked at its edge: a note without a title never
// reaches the handler, the client gets EBADMSG instead.
const Note = v.object({ title: v.pipe(v.string(), v.minLength(1)), body: v.string() });
export type Note = v.InferOutput<typeof Note>;

export const notes = defineContract({
  id: 1,
  name: 'notes',
  commands: {
    put: { id: 0, request: schemaCodec(Note), response: jsonCodec<{ stored: number }>() },
    get: { id: 1, request: utf8Codec, response: jsonCodec<Note | null>() },
  },
  events: {
    stored: { id: 0, payload: jsonCodec<{ title: string; by: number }>() },
  },
});
