import type { IpcClient, IpcClientEvents } from 'pollux';

/** Resolves with the arguments of the next `event` that `client` emits. */
export function nextEvent<E extends keyof IpcClientEvents>(client: IpcClient, event: E): Promise<IpcClientEvents[E]> {
  return new Promise((resolve) => {
    const listener = (...args: IpcClientEvents[E]): void => resolve(args);
    (client.once as (event: E, listener: (...args: IpcClientEvents[E]) => void) => IpcClient)(event, listener);
  });
}
