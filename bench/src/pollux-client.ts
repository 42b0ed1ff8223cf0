/**
 * The pollux side of {@link EchoClient}: command 0 of the "echo" service, command 1 to ask for
 * events, on the given poller backend.
 */
import { AddressTransport, openClient, type IpcClient } from 'pollux';
import { startPoller, type Backend, type RunningPoller } from './backends.js';
import { encodePushRequest, type EchoClient } from './echo-client.js';
import { BROADCAST_COMMAND, ECHO_COMMAND, PUSH_COMMAND } from './pollux-service.js';

/**
 * The poller every client of this process shares, as one application would: an EpollPoller per
 * connection would be a thread per connection, and starting one per connection would put a
 * poller's start-up into every connect. It is never stopped: client-main.ts ends the process with
 * process.exit once its results are out.
 */
let shared: Promise<RunningPoller> | undefined;
let transport: AddressTransport | undefined;

export class PolluxEchoClient implements EchoClient {
  private constructor(
    private readonly client: IpcClient,
    private readonly pushCommand: number,
  ) {}

  /**
   * @param push - how the server is asked to push events: a `sendEvent` per connection, or `broadcast`
   * @param spinMicros - the spin of a `shm:` address (`ShmTransport`'s `spinMicros`)
   * @param ringBytes - the ring size of a `shm:` address (`ShmTransport`'s `ringBytes`)
   */
  static async connect(
    address: string,
    backend: Backend,
    push: 'per-connection' | 'broadcast',
    spinMicros: number,
    ringBytes: number,
  ): Promise<PolluxEchoClient> {
    const { poller } = await (shared ??= startPoller(backend));
    // One for the process, as for the poller: a client process runs one contender.
    transport ??= new AddressTransport({}, { spinMicros, ringBytes, lendViews: true });
    // Not waiting for the handshake: the first request goes with the hello, and proves it.
    return new PolluxEchoClient(
      openClient(address, 'echo', { poller, transport }),
      push === 'broadcast' ? BROADCAST_COMMAND : PUSH_COMMAND,
    );
  }

  request(payload: Buffer): Promise<Buffer> {
    return this.client.request(ECHO_COMMAND, payload);
  }

  requestInto(payload: Buffer, into: Buffer): Promise<number> {
    return this.client.requestInto(ECHO_COMMAND, payload, into);
  }

  async subscribe(onEvent: (payload: Buffer) => void): Promise<void> {
    this.client.on('event', (_event, payload) => onEvent(payload));
    // The server pushes to every connection whose `created` hook ran; a request is handled only
    // after it, so a round trip proves this one is subscribed.
    await this.request(Buffer.alloc(0));
  }

  pushEvents(count: number, size: number): void {
    this.client.request(this.pushCommand, encodePushRequest(count, size)).catch((error: unknown) => {
      console.error('push request failed:', error);
    });
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
