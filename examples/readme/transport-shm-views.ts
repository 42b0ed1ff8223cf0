import { connect, createServer } from 'pollux';

// With lendViews, a handler's payload is a view of the client's ring: read it before returning,
// copy what you keep, never write into it.
const log: Buffer[] = [];
const server = createServer({ shm: { lendViews: true } });
server.addService({
  id: 1,
  name: 'store',
  commands: {
    0: (payload) => {
      log.push(Buffer.from(payload)); // kept past the handler: a copy
      return Buffer.from(String(payload.length)); // read now: no copy needed
    },
    1: async (payload) => {
      const name = payload.toString(); // an async handler copies before its first await
      await new Promise((resolve) => setImmediate(resolve));
      return Buffer.from(`hello, ${name}`);
    },
  },
});
await server.listen('shm:@store-shm');

const client = await connect('shm:@store-shm', 'store');
console.log((await client.request(0, Buffer.from('first entry'))).toString()); // 11
// requestInto: the response lands in a buffer of yours, straight from the ring.
const answer = Buffer.alloc(client.maxMessageSize);
const length = await client.requestInto(1, Buffer.from('ring'), answer);
console.log(answer.subarray(0, length).toString()); // hello, ring
console.log(log[0]!.toString()); // first entry
await client.close();
await server.close();
