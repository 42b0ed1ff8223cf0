/**
 * The node-ipc client: `echo` messages matched to their replies by sequence number, `push` to ask
 * for events, which arrive as `event` messages. Each client is its own node-ipc instance, as the
 * library keys connections by id within one.
 */
import type { EchoClient } from '../../src/echo-client.js';
import { ECHO, EVENT, ipcInstance, PUSH, type EchoMessage } from './node-ipc-stack.js';
import { PendingRequests } from '../../src/pending-requests.js';

const SERVER_ID = 'server';

export class NodeIpcEchoClient implements EchoClient {
  readonly #ipc: ReturnType<typeof ipcInstance>;
  readonly #pending = new PendingRequests<Buffer>();

  private constructor(ipc: ReturnType<typeof ipcInstance>) {
    this.#ipc = ipc;
    const server = ipc.of[SERVER_ID]!;
    server.on(ECHO, (message: EchoMessage) =>
      this.#pending.settle(message.seq, Buffer.from(message.payload, 'base64')),
    );
    server.on('disconnect', () => this.#pending.failAll(new Error('connection closed')));
  }

  static connect(address: string): Promise<NodeIpcEchoClient> {
    const ipc = ipcInstance();
    return new Promise((resolve, reject) => {
      ipc.connectTo(SERVER_ID, address, () => {
        const server = ipc.of[SERVER_ID]!;
        server.on('error', reject);
        server.on('connect', () => {
          server.off('error', reject);
          resolve(new NodeIpcEchoClient(ipc));
        });
      });
    });
  }

  request(payload: Buffer): Promise<Buffer> {
    const { id, promise } = this.#pending.add();
    this.#ipc.of[SERVER_ID]!.emit(ECHO, { seq: id, payload: payload.toString('base64') });
    return promise;
  }

  async subscribe(onEvent: (payload: Buffer) => void): Promise<void> {
    this.#ipc.of[SERVER_ID]!.on(EVENT, (event: string) => onEvent(Buffer.from(event, 'base64')));
    // The server broadcasts to every socket it accepted; a round trip proves it accepted this one.
    await this.request(Buffer.alloc(0));
  }

  pushEvents(count: number, size: number): void {
    this.#ipc.of[SERVER_ID]!.emit(PUSH, { count, size });
  }

  async close(): Promise<void> {
    this.#ipc.disconnect(SERVER_ID);
  }
}
