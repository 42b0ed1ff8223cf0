/** The pollux side of {@link EchoClient}: command 0 of the "echo" service. */
import { connect, type IpcClient } from 'pollux';
import type { EchoClient } from './echo-client.js';

const ECHO_COMMAND = 0;

export class PolluxEchoClient implements EchoClient {
  private constructor(private readonly client: IpcClient) {}

  static async connect(address: string): Promise<PolluxEchoClient> {
    return new PolluxEchoClient(await connect(address, 'echo'));
  }

  request(payload: Buffer): Promise<Buffer> {
    return this.client.request(ECHO_COMMAND, payload);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
