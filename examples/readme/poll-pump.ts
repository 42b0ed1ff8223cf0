import { IpcClient, IpcServer } from '@pollux/core';
import { PumpPoller } from '@pollux/poll-pump';
import { SocketTransport } from '@pollux/transport-socket';

const poller = new PumpPoller();
const transport = new SocketTransport();
const server = new IpcServer({ poller, transport }); // IpcClient.connect takes { poller } too
let frames = 0;
server.addService({ id: 1, name: 'frames', commands: { 0: () => Buffer.from(`served in frame ${frames}`) } });
await server.listen('@my-app');

let running = true;
function simulateAndRender(): void {
  frames++; // your per-frame work
}

function frame(): void {
  const deadline = performance.now() + 16.7;
  simulateAndRender();
  let left: number;
  while ((left = deadline - performance.now()) >= 1) poller.pump(left); // serve clients until the deadline
  if (running) setTimeout(frame, 0); // let Node's own loop turn too
}
frame();

// A client on the same poller: its connection and requests are served by the frames too.
const client = await IpcClient.connect('@my-app', { service: 'frames', poller, transport });
console.log((await client.request(0)).toString()); // served in frame 3 (or so)
await client.close();
await server.close();
running = false;
