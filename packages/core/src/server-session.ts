import { Connection, type ConnectionSession } from './connection.js';
import { IpcError } from './errors.js';
import { FramedChannel } from './framed-channel.js';
import { FrameKind } from './frame.js';
import { decodeHello, encodeError, encodeWelcome, PROTOCOL_VERSION, type Hello } from './handshake.js';
import type { Poller } from './poller.js';
import type { RegisteredService } from './service-registry.js';
import { newConnectionStats, type ConnectionStats } from './stats.js';
import type { Channel } from './transport.js';

/** What a session needs from its server. */
export interface SessionHost {
  readonly maxMessageSize: number;
  findService(hello: Hello): RegisteredService | undefined;
  /** A session finished its handshake (`service` set) or was turned away (`service` undefined). */
  sessionOpened(session: ServerSession, service: RegisteredService | undefined): void;
  /** A session ended; `wasOpen` tells whether it had completed the handshake. */
  sessionEnded(session: ServerSession, error: IpcError, protocolError: boolean): void;
  /** A session is open and its `created` hook has run: tell the application. */
  announce(session: ServerSession): void;
  reportHookError(hook: string, error: unknown): void;
}

const EMPTY = new Uint8Array(0);

/**
 * One accepted client connection on the server: handshake, request dispatch, events, and the
 * exactly-once `closed` / `destroyed` hooks.
 */
export class ServerSession extends FramedChannel implements ConnectionSession {
  readonly id: number;
  readonly stats: ConnectionStats = newConnectionStats();
  protected readonly traffic = this.stats;
  service: RegisteredService | undefined;
  connection: Connection<unknown> | undefined;
  private readonly host: SessionHost;
  /** Output beyond which events are refused: a client that never reads cannot grow our memory. */
  private readonly eventQueueLimit: number;
  private maxMessage = 0;
  private running = 0;
  private closedHookRan = false;
  private handshakeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(id: number, channel: Channel, poller: Poller, host: SessionHost, handshakeTimeout: number, outputHighWater: number) {
    // Until the hello is in, only control frames are legal, so the decoder limit is tiny.
    super(channel, poller, 0, outputHighWater);
    this.id = id;
    this.host = host;
    this.eventQueueLimit = outputHighWater * 2;
    this.startPolling();
    this.handshakeTimer = setTimeout(() => {
      this.end(new IpcError('ETIMEDOUT', `client sent no complete handshake within ${handshakeTimeout} ms`));
    }, handshakeTimeout);
    this.handshakeTimer.unref?.();
  }

  get isOpen(): boolean {
    return !this.ended && !this.isClosing && this.connection !== undefined;
  }

  /** Closes the connection after writing what the kernel takes now. */
  close(): void {
    this.closeGracefully(new IpcError('ECONNABORTED', 'connection closed by the server'), this.connection !== undefined);
  }

  sendEvent(event: number, payload: Uint8Array): void {
    if (!this.isOpen) throw new IpcError('ENOTCONN', `cannot send event ${event}: connection ${this.id} has ended`);
    if (!Number.isInteger(event) || event < 0 || event > 0xffff) {
      throw new IpcError('EINVAL', `event id ${event} is not an integer in 0–65535`);
    }
    if (payload.length > this.maxMessage) {
      throw new IpcError('EMSGSIZE', `event of ${payload.length} bytes exceeds the agreed maximum of ${this.maxMessage} bytes`);
    }
    if (this.sendQueue.bytes > this.eventQueueLimit) {
      throw new IpcError('EAGAIN', `connection ${this.id} is not reading: ${this.sendQueue.bytes} bytes wait to be written; send again later`);
    }
    this.stats.events++;
    this.service!.stats.events++;
    this.send(FrameKind.Event, event, 0, payload);
  }

  protected onFrame(kind: number, code: number, id: number, payload: Buffer): void {
    if (kind === FrameKind.Request && this.connection !== undefined) {
      this.handleRequest(code, id, payload);
    } else if (kind === FrameKind.Goodbye && this.connection !== undefined) {
      this.end(new IpcError('ESHUTDOWN', 'client closed the connection'));
    } else if (kind === FrameKind.Hello && this.connection === undefined) {
      this.handleHello(payload);
    } else {
      throw new IpcError('EPROTO', `unexpected frame of kind ${kind} from client`);
    }
  }

  private handleHello(payload: Buffer): void {
    clearTimeout(this.handshakeTimer);
    const hello = decodeHello(payload);
    const host = this.host;
    if (hello.version !== PROTOCOL_VERSION) {
      return this.refuse(undefined, 'EPROTONOSUPPORT', `client speaks protocol version ${hello.version}, server speaks ${PROTOCOL_VERSION}: upgrade the older side`);
    }
    const service = host.findService(hello);
    if (service === undefined) {
      const wanted = hello.serviceName === '' ? `id ${hello.serviceId}` : `"${hello.serviceName}"`;
      return this.refuse(undefined, 'ENOENT', `no service ${wanted} on this server: check the service id or name`);
    }
    const credentials = this.channel.credentials;
    const definition = service.definition;
    let verdict: unknown = true;
    try {
      verdict = definition.accept?.(credentials);
    } catch (error) {
      host.reportHookError('accept', error);
      verdict = false;
    }
    if (verdict !== true && verdict !== undefined) {
      // Fail closed: anything but an explicit yes (a promise, say) refuses.
      if (typeof verdict !== 'string' && verdict !== false) {
        host.reportHookError('accept', new IpcError('EINVAL', 'accept must return true, false, an errno-style code or nothing, synchronously'));
      }
      const code = typeof verdict === 'string' ? verdict : 'EACCES';
      return this.refuse(service, code, `service "${definition.name}" refused uid ${credentials.uid} gid ${credentials.gid} pid ${credentials.pid}`);
    }
    let context: unknown;
    try {
      context = definition.createContext?.(credentials);
    } catch (error) {
      host.reportHookError('createContext', error);
      return this.refuse(service, 'EREMOTEIO', `service "${definition.name}" failed to set up the session`);
    }
    this.maxMessage = Math.min(hello.maxMessage, host.maxMessageSize);
    this.service = service;
    this.connection = new Connection(this.id, credentials, context, this);
    this.send(
      FrameKind.Welcome,
      0,
      0,
      encodeWelcome({ version: PROTOCOL_VERSION, maxMessage: this.maxMessage, serviceId: definition.id, serviceName: definition.name }),
    );
    this.decoder.maxMessage = this.maxMessage;
    host.sessionOpened(this, service);
    try {
      definition.created?.(this.connection);
    } catch (error) {
      host.reportHookError('created', error);
    }
    if (this.isOpen) host.announce(this);
  }

  private refuse(service: RegisteredService | undefined, code: string, message: string): void {
    if (service !== undefined) service.stats.refused++;
    this.host.sessionOpened(this, undefined);
    this.send(FrameKind.Refuse, 0, 0, encodeError(code, message));
    this.close();
  }

  private handleRequest(command: number, id: number, payload: Buffer): void {
    const service = this.service!;
    this.stats.requests++;
    service.stats.requests++;
    let result: Uint8Array | void | PromiseLike<Uint8Array | void>;
    try {
      const handler = service.handlerFor(command);
      if (handler === undefined) {
        this.sendError(id, new IpcError('ENOSYS', `service "${service.definition.name}" has no command ${command}`));
        return;
      }
      result = handler(payload, this.connection!, command);
    } catch (error) {
      this.sendError(id, error);
      return;
    }
    // The common answer, bytes, is settled before anything looks for a then() on it.
    if (result instanceof Uint8Array || result == null || typeof (result as PromiseLike<unknown>).then !== 'function') {
      this.respond(id, result as Uint8Array | void);
      return;
    }
    this.running++;
    // Promise.resolve tames foreign thenables: a throwing then() rejects, a double resolve settles once.
    Promise.resolve(result).then(
      (value) => this.settle(id, value, undefined, false),
      (error: unknown) => this.settle(id, undefined, error, true),
    );
  }

  private settle(id: number, value: Uint8Array | void, error: unknown, failed: boolean): void {
    this.running--;
    if (!this.ended) {
      if (failed) this.sendError(id, error);
      else this.respond(id, value);
    } else if (this.running === 0) {
      this.destroy();
    }
  }

  private respond(id: number, value: Uint8Array | void): void {
    const payload = value ?? EMPTY;
    if (!(payload instanceof Uint8Array)) {
      this.sendError(id, new IpcError('EREMOTEIO', `handler returned ${typeof payload}, not a Uint8Array or nothing`));
    } else if (payload.length > this.maxMessage) {
      this.sendError(id, new IpcError('EMSGSIZE', `response of ${payload.length} bytes exceeds the agreed maximum of ${this.maxMessage} bytes`));
    } else {
      this.stats.responses++;
      this.service!.stats.responses++;
      this.send(FrameKind.Response, 0, id, payload);
    }
  }

  private sendError(id: number, error: unknown): void {
    const failure = IpcError.from(error, 'EREMOTEIO');
    this.stats.errors++;
    this.service!.stats.errors++;
    this.send(FrameKind.ErrorResponse, 0, id, encodeError(failure.code, failure.message));
  }

  protected onEnd(error: IpcError): void {
    clearTimeout(this.handshakeTimer);
    const protocolError = error.code === 'EPROTO' || error.code === 'EMSGSIZE';
    this.host.sessionEnded(this, error, protocolError);
    const connection = this.connection;
    if (connection === undefined) return;
    if (!this.closedHookRan) {
      this.closedHookRan = true;
      try {
        this.service!.definition.closed?.(connection, error);
      } catch (hookError) {
        this.host.reportHookError('closed', hookError);
      }
    }
    if (this.running === 0) this.destroy();
  }

  private destroy(): void {
    try {
      this.service!.definition.destroyed?.(this.connection!);
    } catch (error) {
      this.host.reportHookError('destroyed', error);
    }
  }
}
