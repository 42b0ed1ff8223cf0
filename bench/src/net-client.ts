/**
 * The node:net baseline client: the same framing as net-server.ts (and the C reference server),
 * with a map of pending ids so many requests can be in flight on one socket.
 */
import type { Socket } from 'node:net';
import { encodePushRequest, type EchoClient } from './echo-client.js';
import { CONTROL_ID, encodeFrame, FrameParser } from './framing.js';
import { PendingRequests } from './pending-requests.js';
import { connectUnixSocket } from './unix-socket.js';

export class NetEchoClient implements EchoClient {
  readonly #socket: Socket;
  readonly #pending = new PendingRequests<Buffer>();
  #onEvent: (payload: Buffer) => void = () => undefined;
  #corked = false;
  readonly #uncork = (): void => {
    this.#corked = false;
    this.#socket.uncork();
  };

  private constructor(socket: Socket) {
    this.#socket = socket;
    const parser = new FrameParser((id, payload) => {
      if (id === CONTROL_ID) this.#onEvent(payload);
      else this.#pending.settle(id, payload);
    });
    socket.on('data', (chunk: Buffer) => parser.push(chunk));
    socket.on('close', () => this.#pending.failAll(new Error('connection closed')));
    socket.on('error', (error) => this.#pending.failAll(error));
  }

  static async connect(address: string): Promise<NetEchoClient> {
    return new NetEchoClient(await connectUnixSocket(address));
  }

  request(payload: Buffer): Promise<Buffer> {
    const { id, promise } = this.#pending.add();
    this.#write(id, payload);
    return promise;
  }

  async subscribe(onEvent: (payload: Buffer) => void): Promise<void> {
    this.#onEvent = onEvent;
    // The server pushes to every socket it accepted; a round trip proves it accepted this one.
    await this.request(Buffer.alloc(0));
  }

  pushEvents(count: number, size: number): void {
    this.#write(CONTROL_ID, encodePushRequest(count, size));
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#socket.end(() => resolve());
      this.#socket.once('close', () => resolve());
    });
  }

  #write(id: number, payload: Buffer): void {
    // Cork until the current burst of synchronous code and promise continuations is over
    // (process.nextTick runs after them), so the requests issued in reaction to one batch of
    // responses leave in one writev. Node documents this cork + nextTick(uncork) idiom; it is
    // the client-side counterpart of the server's per-'data' cork and of pollux's batching.
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(this.#uncork);
    }
    this.#socket.write(encodeFrame(id, payload));
  }
}
