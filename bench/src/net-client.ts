/**
 * The node:net baseline client: the same framing as net-server.ts, with a Map of pending ids
 * to resolvers so many requests can be in flight on one socket.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { EchoClient } from './echo-client.js';
import { encodeFrame, FrameParser } from './framing.js';

interface Pending {
  resolve: (payload: Buffer) => void;
  reject: (error: Error) => void;
}

export class NetEchoClient implements EchoClient {
  readonly #socket: Socket;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #corked = false;
  readonly #uncork = (): void => {
    this.#corked = false;
    this.#socket.uncork();
  };

  private constructor(socket: Socket) {
    this.#socket = socket;
    const parser = new FrameParser((id, payload) => {
      const pending = this.#pending.get(id);
      if (pending === undefined) return;
      this.#pending.delete(id);
      pending.resolve(payload);
    });
    socket.on('data', (chunk: Buffer) => parser.push(chunk));
    socket.on('close', () => this.#failAll(new Error('connection closed')));
    socket.on('error', (error) => this.#failAll(error));
  }

  static connect(address: string): Promise<NetEchoClient> {
    return new Promise((resolve, reject) => {
      const socket = netConnect(address);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new NetEchoClient(socket));
      });
    });
  }

  request(payload: Buffer): Promise<Buffer> {
    const id = (this.#nextId = (this.#nextId + 1) >>> 0);
    const promise = new Promise<Buffer>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
    });
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
    return promise;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#socket.end(() => resolve());
      this.#socket.once('close', () => resolve());
    });
  }

  #failAll(error: Error): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}
