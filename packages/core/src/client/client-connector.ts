// Connector: connection attempts with retries and backoff (client layer).
import { backoffDelay } from './backoff.js';
import type { RetryPolicy } from './client-options.js';
import type { ClientSession } from './client-session.js';
import { IpcError } from '../errors.js';
import { safeString } from '../describe-value.js';
import type { Poller, Timer } from '../contracts/poller.js';
import type { Channel, Credentials, Transport } from '../contracts/transport.js';

/** What one connection attempt needs: where, how, and what to say. */
export interface SessionRecipe {
  readonly address: string;
  readonly transport: Transport;
  readonly poller: Poller;
  readonly hello: Buffer;
  readonly handshakeTimeout: number;
  /**
   * Why the server at the other end is not the one the client trusts (undefined when it is):
   * checked before anything is written to it.
   */
  verifyServer(credentials: Credentials): IpcError | undefined;
  /** Wraps a freshly connected channel in a session that reports to the client. */
  createSession(channel: Channel): ClientSession;
  /** The session's hello is queued: requests may follow it, before the welcome. */
  helloQueued(session: ClientSession): void;
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
  /** The wait between attempts in progress: its timer, when it ends, and what it does then. */
  private pause: { timer: Timer; endsAt: number; done: () => void } | undefined;
  private holdsProcess = true;

  constructor(recipe: SessionRecipe) {
    this.recipe = recipe;
  }

  /**
   * Whether a wait between attempts keeps the process alive: yes while someone awaits the
   * outcome, no for a background reconnection nobody waits on.
   */
  set keepAlive(on: boolean) {
    if (on === this.holdsProcess) return;
    this.holdsProcess = on;
    const pause = this.pause;
    if (pause === undefined) return;
    // A timer's hold on the process is fixed when it is made: make it again for the time left.
    pause.timer.cancel();
    const poller = this.recipe.poller;
    pause.timer = poller.timer(Math.max(0, pause.endsAt - poller.now()), pause.done, on);
  }

  /**
   * Opens a session, retrying per `policy` (once, without one).
   *
   * @throws {@link IpcError} the attempt's error when final or when there is no policy;
   * `ETIMEDOUT` (cause: the last error) past the deadline; `ECANCELED` when `signal` aborted.
   */
  async open(policy: RetryPolicy | undefined, signal: AbortSignal | undefined): Promise<ClientSession> {
    const now = (): number => this.recipe.poller.now();
    const started = now();
    const deadline = started + (policy?.deadline ?? Number.POSITIVE_INFINITY);
    /** The last failure that said something about the server, for the `ETIMEDOUT` at the deadline. */
    let last: IpcError | undefined;
    for (let attempt = 0; ; attempt++) {
      const budget = Math.min(this.recipe.handshakeTimeout, deadline - now());
      const failure = await this.attempt(budget, signal);
      if (!(failure instanceof AttemptFailure)) return failure;
      const { error } = failure;
      if (policy === undefined || !(failure.retryable || (policy.waitForService && error.code === 'ENXIO')))
        throw error;
      // A handshake the deadline cut short says nothing about the server: an earlier verdict does.
      if (last === undefined || !(budget < this.recipe.handshakeTimeout && error.code === 'ETIMEDOUT')) last = error;
      const left = deadline - now();
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
      const welcomed = session.handshake(this.recipe.hello, handshakeTimeout, signal);
      this.recipe.helloQueued(session);
      await welcomed;
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
      const poller = this.recipe.poller;
      const onAbort = (): void => {
        this.pause?.timer.cancel();
        this.pause = undefined;
        reject(cancelled());
      };
      const done = (): void => {
        this.pause = undefined;
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.pause = { timer: poller.timer(ms, done, this.holdsProcess), endsAt: poller.now() + ms, done };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function cancelled(): IpcError {
  return new IpcError('ECANCELED', 'connect was cancelled');
}
