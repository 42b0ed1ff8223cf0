/**
 * The pollux side of {@link EchoClient}: command 0 of the "echo" service, command 1 to ask for
 * events, on the given poller backend.
 */
import { connect, type IpcClient } from 'pollux';
import { startPoller, type Backend, type RunningPoller } from './backends.js';
import { encodePushRequest, type EchoClient } from './echo-client.js';
import { ECHO_COMMAND, PUSH_COMMAND } from './pollux-service.js';

/**
 * The poller every client of this process shares, as one application would (an EpollPoller per
 * connection would be a thread per connection), stopped when its last client closed.
 */
let shared: { running: Promise<RunningPoller>; clients: number } | undefined;

async function acquirePoller(backend: Backend): Promise<RunningPoller> {
  shared ??= { running: startPoller(backend), clients: 0 };
  shared.clients++;
  return shared.running;
}

function releasePoller(running: RunningPoller): void {
  if (shared === undefined || --shared.clients > 0) return;
  shared = undefined;
  running.stop();
}

export class PolluxEchoClient implements EchoClient {
  private constructor(
    private readonly client: IpcClient,
    private readonly running: RunningPoller,
  ) {}

  static async connect(address: string, backend: Backend): Promise<PolluxEchoClient> {
    const running = await acquirePoller(backend);
    try {
      return new PolluxEchoClient(await connect(address, 'echo', { poller: running.poller }), running);
    } catch (error) {
      // Stop a pump driver, or the failed client process would never exit.
      releasePoller(running);
      throw error;
    }
  }

  request(payload: Buffer): Promise<Buffer> {
    return this.client.request(ECHO_COMMAND, payload);
  }

  async subscribe(onEvent: (payload: Buffer) => void): Promise<void> {
    this.client.on('event', (_event, payload) => onEvent(payload));
    // The server pushes to every connection whose `created` hook ran; a request is handled only
    // after it, so a round trip proves this one is subscribed.
    await this.request(Buffer.alloc(0));
  }

  pushEvents(count: number, size: number): void {
    this.client.request(PUSH_COMMAND, encodePushRequest(count, size)).catch((error: unknown) => {
      console.error('push request failed:', error);
    });
  }

  async close(): Promise<void> {
    try {
      await this.client.close();
    } finally {
      // Only after the close: it still needs the poller to flush and release its fds.
      releasePoller(this.running);
    }
  }
}
