/**
 * The vscode-jsonrpc client over a Unix socket: `echo` requests (the library matches replies to
 * requests), `push` to ask for events, which arrive as `event` notifications.
 */
import type { Socket } from 'node:net';
import {
  createMessageConnection,
  SocketMessageReader,
  SocketMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import type { EchoClient } from '../../src/echo-client.js';
import { ECHO, EVENT, PUSH } from './jsonrpc-stack.js';
import { connectUnixSocket } from '../../src/unix-socket.js';

export class JsonRpcEchoClient implements EchoClient {
  private constructor(
    private readonly connection: MessageConnection,
    private readonly socket: Socket,
  ) {}

  static async connect(address: string): Promise<JsonRpcEchoClient> {
    const socket = await connectUnixSocket(address);
    const connection = createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
    connection.listen();
    return new JsonRpcEchoClient(connection, socket);
  }

  async request(payload: Buffer): Promise<Buffer> {
    const reply = await this.connection.sendRequest<string>(ECHO, payload.toString('base64'));
    return Buffer.from(reply, 'base64');
  }

  async subscribe(onEvent: (payload: Buffer) => void): Promise<void> {
    this.connection.onNotification(EVENT, (event: string) => onEvent(Buffer.from(event, 'base64')));
    // The server pushes to every connection it accepted; a round trip proves it accepted this one.
    await this.request(Buffer.alloc(0));
  }

  pushEvents(count: number, size: number): void {
    void this.connection.sendRequest(PUSH, count, size);
  }

  close(): Promise<void> {
    // Disposing stops the connection but leaves the socket to its owner.
    this.connection.dispose();
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end();
    });
  }
}
