import type { Channel, Credentials } from '@pollux/core';
import * as sys from '@pollux/sys';

/** A connected Unix stream socket. */
export class SocketChannel implements Channel {
  readonly fd: number;
  /** The peer's credentials from `SO_PEERCRED`, read at connect time while the fd is surely ours. */
  readonly credentials: Credentials;
  private open = true;

  /** @throws SysError when the peer's credentials cannot be read (the socket is already dead). */
  constructor(fd: number) {
    this.fd = fd;
    this.credentials = sys.peerCredentials(fd);
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
