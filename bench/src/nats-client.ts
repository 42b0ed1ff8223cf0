/**
 * The client side of the NATS contenders: a pollux RemoteClient through the bridge
 * (`pollux-nats`), or plain NATS request-reply (`nats`). Both measure requests only: events over
 * NATS are not among the remote comparison's rows.
 */
import { readFileSync } from 'node:fs';
import { RemoteClient } from '@pollux/bridge-nats';
import { connect as connectNats, type NatsConnection } from 'nats';
import type { EchoClient } from './echo-client.js';
import { ECHO_COMMAND } from './pollux-service.js';

/** The subject of the plain NATS echo. */
export const NATS_ECHO_SUBJECT = 'bench.echo';

/** Long enough for any run: the bench's own limit ends a stuck one. */
const REQUEST_TIMEOUT = 600_000;

abstract class NatsEchoBase implements EchoClient {
  constructor(protected readonly nats: NatsConnection) {}
  abstract request(payload: Buffer): Promise<Buffer>;
  subscribe(): Promise<void> {
    return Promise.reject(new Error('events over NATS are not measured'));
  }
  pushEvents(): void {
    throw new Error('events over NATS are not measured');
  }
  async close(): Promise<void> {
    await this.nats.close();
  }
}

/**
 * The address file holds the NATS URL (see nats-servers.ts). `noAsyncTraces` as a tuned NATS
 * user sets it: by default each `nats.request()` captures two stack traces for its error messages,
 * which halved the plain NATS echo's pipelined rate; the remote client sends no `request()`.
 */
function natsAt(address: string): Promise<NatsConnection> {
  return connectNats({ servers: readFileSync(address, 'utf8'), noAsyncTraces: true });
}

export class RemoteEchoClient extends NatsEchoBase {
  private constructor(
    nats: NatsConnection,
    private readonly remote: RemoteClient,
  ) {
    super(nats);
  }

  static async connect(address: string): Promise<RemoteEchoClient> {
    const nats = await natsAt(address);
    return new RemoteEchoClient(nats, await RemoteClient.connect(nats, { service: 'echo', timeout: REQUEST_TIMEOUT }));
  }

  request(payload: Buffer): Promise<Buffer> {
    return this.remote.request(ECHO_COMMAND, payload);
  }

  override async close(): Promise<void> {
    await this.remote.close();
    await super.close();
  }
}

export class PlainNatsEchoClient extends NatsEchoBase {
  static async connect(address: string): Promise<PlainNatsEchoClient> {
    return new PlainNatsEchoClient(await natsAt(address));
  }

  async request(payload: Buffer): Promise<Buffer> {
    const reply = await this.nats.request(NATS_ECHO_SUBJECT, payload, { timeout: REQUEST_TIMEOUT });
    return Buffer.from(reply.data.buffer, reply.data.byteOffset, reply.data.byteLength);
  }
}
