/**
 * The grpc-js client over `unix:`: unary `echo`, a `subscribe` server stream for events, unary
 * `push`. Each client gets its own channel and connection (a local subchannel pool), as separate
 * processes would; grpc-js would otherwise share one connection among clients of one target.
 */
import { Client, credentials, type ClientReadableStream } from '@grpc/grpc-js';
import { encodePushRequest, type EchoClient } from '../../src/echo-client.js';
import { ECHO_SERVICE, grpcTarget } from './grpc-stack.js';

const { echo, subscribe, push } = ECHO_SERVICE;

export class GrpcEchoClient implements EchoClient {
  readonly #client: Client;
  #stream: ClientReadableStream<Buffer> | undefined;

  private constructor(client: Client) {
    this.#client = client;
  }

  /** grpc-js connects lazily; the first round trip (see workloads) is the handshake. */
  static async connect(address: string): Promise<GrpcEchoClient> {
    return new GrpcEchoClient(
      new Client(grpcTarget(address), credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }),
    );
  }

  request(payload: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(
        echo.path,
        echo.requestSerialize,
        echo.responseDeserialize,
        payload,
        (error, reply) => {
          if (error !== null || reply === undefined) reject(error ?? new Error('empty reply'));
          else resolve(reply);
        },
      );
    });
  }

  subscribe(onEvent: (payload: Buffer) => void): Promise<void> {
    const stream = this.#client.makeServerStreamRequest(
      subscribe.path,
      subscribe.requestSerialize,
      subscribe.responseDeserialize,
      Buffer.alloc(0),
    );
    this.#stream = stream;
    return new Promise((resolve, reject) => {
      // Before the first message an error means no subscription; after it, the only one
      // expected is CANCELLED from close().
      stream.on('error', reject);
      // The server's first message says the subscription is registered; events follow.
      stream.once('data', () => {
        stream.on('data', onEvent);
        resolve();
      });
    });
  }

  pushEvents(count: number, size: number): void {
    this.#client.makeUnaryRequest(
      push.path,
      push.requestSerialize,
      push.responseDeserialize,
      encodePushRequest(count, size),
      (error) => {
        if (error !== null) console.error('push request failed:', error);
      },
    );
  }

  async close(): Promise<void> {
    this.#stream?.cancel();
    this.#client.close();
  }
}
