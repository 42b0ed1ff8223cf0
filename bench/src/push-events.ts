/**
 * How the Node servers whose connections are Node Writables (node:net sockets, grpc-js server
 * streams) push events: one `write` per event, corked so that a burst leaves in few writev
 * calls, and waiting for 'drain' whenever the stream says its buffer is full, which is the
 * backpressure idiom of a Node Writable.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';

type EventStream = Pick<Writable, 'write' | 'cork' | 'uncork' | 'destroyed'> & NodeJS.EventEmitter;

export async function writeEvents(stream: EventStream, event: Buffer | object, count: number): Promise<void> {
  stream.cork();
  for (let i = 0; i < count && !stream.destroyed; i++) {
    if (stream.write(event)) continue;
    // Uncorking writes what was buffered; 'drain' follows once the kernel took it.
    stream.uncork();
    await once(stream, 'drain');
    stream.cork();
  }
  stream.uncork();
}
