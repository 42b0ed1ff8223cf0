import { openRegion, publishRegion, REGION_SERVICE_NAME, SharedRegion } from '@pollux/shared-region';
import { connect, createServer } from 'pollux';

// The server: a region it keeps writing, published under its name.
const pose = SharedRegion.create({ name: 'pose', size: 16 });
const server = createServer();
publishRegion(server, pose); // adds the 'pollux.regions' service
await server.listen('@pollux-region-example');
let updates = 0;
const writer = setInterval(() => pose.write(new Uint8Array(new Float64Array([++updates, updates / 1000]).buffer)), 1);

// A client: one request for the fd, then reads that never touch the server again.
const client = await connect('@pollux-region-example', REGION_SERVICE_NAME);
const view = await openRegion(client, 'pose', { size: 16 });
await client.close(); // the view outlives the connection
const snapshot = new Float64Array(2);
await new Promise((resolve) => setTimeout(resolve, 20));
view.read(new Uint8Array(snapshot.buffer));
console.log(`update ${snapshot[0]} at ${snapshot[1]} s`); // both numbers from the same write

view.close();
clearInterval(writer);
await server.close();
pose.close();
