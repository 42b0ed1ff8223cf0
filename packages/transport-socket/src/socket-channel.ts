import type { Channel, Credentials } from '@pollux/core';
import * as sys from '@pollux/sys';

/** A connected Unix stream socket. */
export class SocketChannel implements Channel {
  readonly fd: number;
  private peer: Credentials | undefined;
  private open = true;

  constructor(fd: number) {
    this.fd = fd;
  }

  /** The peer's credentials, read once from `SO_PEERCRED`. */
  get credentials(): Credentials {
    this.peer ??= sys.peerCredentials(this.fd);
    return this.peer;
  }

  read(buffer: Uint8Array, offset: number, length: number): number {
    return sys.read(this.fd, buffer, offset, length);
  }

  writev(chunks: readonly Uint8Array[], count: number): number {
    return sys.writev(this.fd, chunks, count);
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    sys.close(this.fd);
  }
}
