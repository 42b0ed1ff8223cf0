// Connector: connection attempts with retries and backoff (client layer).
import { backoffDelay } from './backoff.js';
import type { RetryPolicy } from './client-options.js';
import type { ClientSession } from './client-session.js';
import { IpcError } from '../errors.js';
import { safeString } from '../describe-value.js';
import type { Channel, Credentials, Transport } from '../contracts/transport.js';

/** What one connection attempt needs: where, how, and what to say. */
export interface SessionRecipe {
  readonly address: string;
  readonly transport: Transport;
  readonly hello: Buffer;
  readonly handshakeTimeout: number;
  /**
   * Why the server at the other end is not the one the client trusts (undefined when it is):
   * checked before anything is written to it.
   */
  verifyServer(credentials: Credentials): IpcError | undefined;
  /** Wraps a freshly connected channel in a session that reports to the client. */
  createSession(channel: Channel): ClientSession;
}

/** Transport failures that say "not yet": nothing listens, no socket file yet, backlog full. */
const RETRYABLE_CONNECT = new Set(['ECONNREFUSED', 'ENOENT', 'EAGAIN']);
/** Handshake failures that are no verdict of the server: it hung up or did not answer in time. */
const RETRYABLE_HANDSHAKE = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

class AttemptFailure {
  constructor(
    readonly error: IpcError,
    readonly retryable: boolean,
  ) {}
}

/**
 * Opens sessions: one attempt, or attempts spaced by backoff until one succeeds, a failure is
 * final, the deadline passes or the signal aborts.
 */
export class Connector {
  private readonly recipe: SessionRecipe;
  private pause: ReturnType<typeof setTimeout> | undefined;
  private holdsProcess = true;

  constructor(recipe: SessionRecipe) {
    this.recipe = recipe;
  }

  /**
   * Whether a wait between attempts keeps the process alive: yes while someone awaits the
   * outcome, no for a background reconnection nobody waits on.
   */
  set keepAlive(on: boolean) {
    this.holdsProcess = on;
    if (on) this.pause?.ref();
    else this.pause?.unref();
  }

  /**
   * Opens a session, retrying per `policy` (once, without one).
   *
   * @throws {@link IpcError} the attempt's error when final or when there is no policy;
   * `ETIMEDOUT` (cause: the last error) past the deadline; `ECANCELED` when `signal` aborted.
   */
  async open(policy: RetryPolicy | undefined, signal: AbortSignal | undefined): Promise<ClientSession> {
    const started = performance.now();
    const deadline = started + (policy?.deadline ?? Number.POSITIVE_INFINITY);
    /** The last failure that said something about the server, for the `ETIMEDOUT` at the deadline. */
    let last: IpcError | undefined;
    for (let attempt = 0; ; attempt++) {
      const budget = Math.min(this.recipe.handshakeTimeout, deadline - performance.now());
      const failure = await this.attempt(budget, signal);
      if (!(failure instanceof AttemptFailure)) return failure;
      const { error } = failure;
      if (policy === undefined || !(failure.retryable || (policy.waitForService && error.code === 'ENXIO')))
        throw error;
      // A handshake the deadline cut short says nothing about the server: an earlier verdict does.
      if (last === undefined || !(budget < this.recipe.handshakeTimeout && error.code === 'ETIMEDOUT')) last = error;
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new IpcError(
          'ETIMEDOUT',
          `could not connect to ${this.recipe.address} within ${policy.deadline} ms (${attempt + 1} attempts, last: ${last.code}: ${last.message})`,
          { cause: last },
        );
      }
      await this.wait(
        Math.min(left, backoffDelay(attempt, policy.initialDelay, policy.maxDelay, Math.random())),
        signal,
      );
    }
  }

  private async attempt(
    handshakeTimeout: number,
    signal: AbortSignal | undefined,
  ): Promise<ClientSession | AttemptFailure> {
    const { transport, address } = this.recipe;
    if (signal?.aborted) throw cancelled();
    let channel: Channel;
    try {
      channel = await transport.connect(address);
    } catch (error) {
      const failure = IpcError.from(error, 'EIO');
      return new AttemptFailure(failure, RETRYABLE_CONNECT.has(failure.code));
    }
    if (signal?.aborted) {
      channel.close();
      throw cancelled();
    }
    const mismatch = this.verify(channel.credentials);
    if (mismatch !== undefined) {
      channel.close();
      // Retried: the trusted server may get the address back once the impostor lets go.
      return new AttemptFailure(mismatch, true);
    }
    const session = this.recipe.createSession(channel);
    try {
      await session.handshake(this.recipe.hello, handshakeTimeout, signal);
      return session;
    } catch (error) {
      const failure = IpcError.from(error, 'EIO');
      if (failure.code === 'ECANCELED') throw failure;
      // A refusal is the server's verdict, final unless it says "try again later" (full up).
      return new AttemptFailure(
        failure,
        session.refused ? failure.code === 'EAGAIN' : RETRYABLE_HANDSHAKE.has(failure.code),
      );
    }
  }

  private verify(credentials: Credentials): IpcError | undefined {
    try {
      return this.recipe.verifyServer(credentials);
    } catch (error) {
      // A check that throws vouches for nobody.
      return new IpcError(
        'EPERM',
        `the expectServer check threw, so the server at ${this.recipe.address} is not trusted: ${safeString(error)}`,
        { cause: error },
      );
    }
  }

  private wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(this.pause);
        this.pause = undefined;
        reject(cancelled());
      };
      this.pause = setTimeout(() => {
        this.pause = undefined;
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      if (!this.holdsProcess) this.pause.unref();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function cancelled(): IpcError {
  return new IpcError('ECANCELED', 'connect was cancelled');
}
