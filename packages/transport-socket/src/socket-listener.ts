import { lstatSync, unlinkSync } from 'node:fs';
import type { Channel, Listener } from '@pollux/core';
import * as sys from '@pollux/sys';
import { SocketChannel } from './socket-channel.js';

/** A listening Unix stream socket. */
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
  }

  accept(): Channel | number {
    const fd = sys.accept(this.fd);
    return fd < 0 ? fd : new SocketChannel(fd);
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
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
