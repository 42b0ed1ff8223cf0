import * as sys from '@pollux/sys';

/**
 * A datagram socket the test binds and hands to a server as `NOTIFY_SOCKET`, playing the service
 * manager's part: it collects each `sd_notify` message the server sends.
 */
export interface NotifySocket {
  /** The value for `NOTIFY_SOCKET`: the path, or `@name`. */
  readonly address: string;
  /** Resolves with the next message (one datagram), in the order they arrived. */
  next(): Promise<string>;
  /** Closes the socket (its file, if any, stays for the test's directory to take). */
  close(): void;
}

/** Binds a {@link NotifySocket} at `path`, or at the abstract name `@…` when `address` starts with `@`. */
export function bindNotifySocket(address: string): NotifySocket {
  const fd = sys.socketUnixDatagram();
  const abstract = address.startsWith('@');
  const messages: string[] = [];
  const waiting: ((message: string) => void)[] = [];
  const buffer = new Uint8Array(4096);
  let watcher: sys.FdWatcher | undefined;
  try {
    sys.bindUnix(fd, abstract ? address.slice(1) : address, abstract);
    watcher = new sys.FdWatcher(fd, () => {
      for (let got = sys.read(fd, buffer, 0, buffer.length); got >= 0; got = sys.read(fd, buffer, 0, buffer.length)) {
        const message = Buffer.from(buffer.subarray(0, got)).toString();
        const resolve = waiting.shift();
        if (resolve === undefined) messages.push(message);
        else resolve(message);
      }
    });
    watcher.start(sys.WATCH_READABLE);
  } catch (error) {
    watcher?.close();
    sys.close(fd);
    throw error;
  }
  return {
    address,
    next: () => {
      const message = messages.shift();
      return message === undefined ? new Promise((resolve) => waiting.push(resolve)) : Promise.resolve(message);
    },
    close: () => {
      watcher.close();
      sys.close(fd);
    },
  };
}
