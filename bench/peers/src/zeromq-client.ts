/**
 * The zeromq (v6) client: a DEALER connected to the server's ROUTER. Requests carry an id frame
 * for matching replies; sends are queued because a v6 socket allows one `send` in progress.
 */
import { Dealer } from 'zeromq';
import { encodePushRequest, type EchoClient } from '../../src/echo-client.js';
import { CONTROL_ID } from '../../src/framing.js';
import { PendingRequests } from '../../src/pending-requests.js';
import { CONTROL_FRAME, idFrame, ipcEndpoint } from './zeromq-stack.js';

export class ZeromqEchoClient implements EchoClient {
  readonly #dealer: Dealer;
  readonly #pending = new PendingRequests<Buffer>();
  readonly #outgoing: Buffer[][] = [];
  #sending = false;
  #onEvent: (payload: Buffer) => void = () => undefined;

  private constructor(dealer: Dealer) {
    this.#dealer = dealer;
    void this.#receive();
  }

  /** zeromq connects in the background; the first round trip (see workloads) is the handshake. */
  static async connect(address: string): Promise<ZeromqEchoClient> {
    const dealer = new Dealer({ linger: 0 });
    dealer.connect(ipcEndpoint(address));
    return new ZeromqEchoClient(dealer);
  }

  request(payload: Buffer): Promise<Buffer> {
    const { id, promise } = this.#pending.add();
    this.#send([idFrame(id), payload]);
    return promise;
  }

  async subscribe(onEvent: (payload: Buffer) => void): Promise<void> {
    this.#onEvent = onEvent;
    // The ROUTER pushes to peers it heard from; a round trip makes this one known.
    await this.request(Buffer.alloc(0));
  }

  pushEvents(count: number, size: number): void {
    this.#send([CONTROL_FRAME, encodePushRequest(count, size)]);
  }

  async close(): Promise<void> {
    this.#dealer.close();
  }

  #send(message: Buffer[]): void {
    this.#outgoing.push(message);
    if (!this.#sending) void this.#drain();
  }

  async #drain(): Promise<void> {
    this.#sending = true;
    try {
      for (let message = this.#outgoing.shift(); message !== undefined; message = this.#outgoing.shift())
        await this.#dealer.send(message);
    } catch (error) {
      this.#pending.failAll(error as Error);
    } finally {
      this.#sending = false;
    }
  }

  async #receive(): Promise<void> {
    try {
      for await (const [id, payload] of this.#dealer) {
        if (id === undefined || payload === undefined) continue;
        const value = id.readUInt32LE(0);
        if (value === CONTROL_ID) this.#onEvent(payload);
        else this.#pending.settle(value, payload);
      }
    } catch (error) {
      if (!this.#dealer.closed) this.#pending.failAll(error as Error);
    }
  }
}
