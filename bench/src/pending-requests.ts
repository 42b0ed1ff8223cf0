/**
 * Requests in flight on one connection, by id: what a client of a stack without its own
 * request/response matching (node:net, node-ipc, zeromq) keeps to pipeline requests.
 */
interface Pending<T> {
  resolve: (value: T) => void;
  reject: (error: Error) => void;
}

export class PendingRequests<T> {
  readonly #pending = new Map<number, Pending<T>>();
  #nextId = 0;

  /** Registers a new request; ids are u32 below 0xffffffff, which framing.ts reserves. */
  add(): { id: number; promise: Promise<T> } {
    const id = (this.#nextId = (this.#nextId + 1) % 0xffffffff);
    const promise = new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
    });
    return { id, promise };
  }

  /** Resolves the request `id`; a reply to no pending request is ignored. */
  settle(id: number, value: T): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    pending.resolve(value);
  }

  failAll(error: Error): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}
