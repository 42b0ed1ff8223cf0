// SocketListener: a listening Unix stream socket, and accepted fds made into channels.
import { lstatSync, unlinkSync } from 'node:fs';
import type { Channel, Listener } from '@pollux/core';
import { constants } from 'node:os';
import * as sys from '@pollux/sys';

const ECONNABORTED = constants.errno.ECONNABORTED;
import { SocketChannel } from './socket-channel.js';
import { holdListeningFd, releaseListeningFd } from './inherited-listener.js';

/** Wraps a connected fd, or closes it and returns the errno when it is unusable. */
export function adopt(fd: number): Channel | number {
  try {
    return new SocketChannel(fd);
  } catch (error) {
    sys.close(fd);
    return -((error as { errno?: number }).errno ?? ECONNABORTED);
  }
}

/**
 * A listening Unix stream socket. One made for a path removes its file on close; one adopted
 * (`systemd:`, `fd:`) or on an abstract name has no file of its own to remove.
 */
export class SocketListener implements Listener {
  readonly fd: number;
  readonly address: string;
  /** Identity of the socket file we bound, so close never unlinks another server's file. */
  private readonly boundFile: { readonly path: string; readonly dev: number; readonly ino: number } | undefined;
  private open = true;

  constructor(fd: number, address: string, path: string | undefined) {
    this.fd = fd;
    this.address = address;
    if (path === undefined) {
      this.boundFile = undefined;
    } else {
      const stat = lstatSync(path);
      this.boundFile = { path, dev: stat.dev, ino: stat.ino };
    }
    holdListeningFd(fd);
  }

  accept(): Channel | number {
    const fd = sys.accept(this.fd);
    return fd < 0 ? fd : adopt(fd);
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    releaseListeningFd(this.fd);
    sys.close(this.fd);
    const file = this.boundFile;
    if (file === undefined) return;
    try {
      const stat = lstatSync(file.path);
      if (stat.dev === file.dev && stat.ino === file.ino) unlinkSync(file.path);
    } catch {
      // Already gone, or replaced by a file we must not touch: nothing to clean up.
    }
  }
}
