/**
 * The pollux side of {@link EchoClient}: command 0 of the "echo" service, on the given poller
 * backend.
 */
import { connect, type IpcClient } from 'pollux';
import { startPoller, type Backend, type RunningPoller } from './backends.js';
import type { EchoClient } from './echo-client.js';

const ECHO_COMMAND = 0;

export class PolluxEchoClient implements EchoClient {
  private constructor(
    private readonly client: IpcClient,
    private readonly running: RunningPoller,
  ) {}

  static async connect(address: string, backend: Backend): Promise<PolluxEchoClient> {
    const running = await startPoller(backend);
    try {
      return new PolluxEchoClient(await connect(address, 'echo', { poller: running.poller }), running);
    } catch (error) {
      // Stop a pump driver, or the failed client process would never exit.
      running.stop();
      throw error;
    }
  }

  request(payload: Buffer): Promise<Buffer> {
    return this.client.request(ECHO_COMMAND, payload);
  }

  async close(): Promise<void> {
    try {
      await this.client.close();
    } finally {
      // Only after the close: it still needs the poller to flush and release its fds.
      this.running.stop();
    }
  }
}
