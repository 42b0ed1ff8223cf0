// A service contract shared by a test's server and its clients, in-process and in fixtures.
import { defineContract, emptyCodec, jsonCodec, schemaCodec, structuredCloneCodec, utf8Codec } from 'pollux';
import * as v from 'valibot';

const Note = v.object({ title: v.pipe(v.string(), v.minLength(1)), body: v.string() });

export const notes = defineContract({
  id: 12,
  name: 'notes',
  commands: {
    /** Stores a note; answers how many notes the connection holds. */
    put: { id: 1, request: schemaCodec(Note), response: jsonCodec<number>() },
    /** A note by title, or null. */
    get: { id: 2, request: utf8Codec, response: jsonCodec<v.InferOutput<typeof Note> | null>() },
    /** How many notes per title length: a Map, which JSON could not carry. */
    histogram: { id: 3, request: emptyCodec, response: structuredCloneCodec<Map<number, number>>() },
  },
  events: {
    /** A note was stored, by any connection. */
    stored: { id: 1, payload: schemaCodec(v.object({ title: v.string(), by: v.number() })) },
    /** Sent with a payload no schema accepts, to test the client's side. */
    garbled: { id: 2, payload: jsonCodec<{ n: number }>() },
  },
});
