// Inspector: reads a server's stats and connections through its introspection service.
import {
  connect,
  fetchConnections,
  fetchServerStats,
  INTROSPECTION_SERVICE_NAME,
  type ConnectionInfo,
  type IpcClient,
  type ServerStats,
} from 'pollux';
import { CommandFailure, ExitCode } from './exit-codes.js';

/** A server's counters and open connections at one moment. */
export interface Snapshot {
  readonly stats: ServerStats;
  readonly connections: readonly ConnectionInfo[];
}

/** A connection to a server's introspection service. */
export class Inspector {
  readonly address: string;
  readonly #client: IpcClient;
  readonly #timeout: number;

  private constructor(address: string, client: IpcClient, timeout: number) {
    this.address = address;
    this.#client = client;
    this.#timeout = timeout;
  }

  /** @throws {@link CommandFailure} when the introspection service cannot be reached. */
  static async open(address: string, timeout: number): Promise<Inspector> {
    try {
      return new Inspector(address, await connect(address, INTROSPECTION_SERVICE_NAME, { timeout }), timeout);
    } catch (error) {
      throw CommandFailure.fromConnection(
        error,
        `cannot inspect ${address} (is the server running, with introspection enabled?)`,
      );
    }
  }

  /** @throws {@link CommandFailure} when the server does not answer. */
  async stats(): Promise<ServerStats> {
    return this.#ask(() => fetchServerStats(this.#client));
  }

  /** @throws {@link CommandFailure} when the server does not answer. */
  async snapshot(): Promise<Snapshot> {
    return this.#ask(async () => {
      const [stats, connections] = await Promise.all([fetchServerStats(this.#client), fetchConnections(this.#client)]);
      return { stats, connections };
    });
  }

  close(): Promise<void> {
    return this.#client.close({ timeout: this.#timeout });
  }

  async #ask<T>(query: () => Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new CommandFailure(
              ExitCode.TempFail,
              `server at ${this.address} did not answer within ${this.#timeout} ms`,
              'ETIMEDOUT',
            ),
          ),
        this.#timeout,
      );
    });
    try {
      return await Promise.race([query(), timedOut]);
    } catch (error) {
      if (error instanceof CommandFailure) throw error;
      throw CommandFailure.fromConnection(error, `reading ${this.address} failed`);
    } finally {
      clearTimeout(timer);
    }
  }
}
