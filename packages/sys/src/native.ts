// Loads the addon and types what it exports. Not part of the public surface:
// index.ts re-exports typed, documented wrappers.
import { createRequire } from 'node:module';

export interface NativeBinding {
  setErrorClass(ctor: new (syscall: string, errno: number) => Error): void;
  errnoName(errno: number): string;
  errnoMessage(errno: number): string;

  socketUnix(): number;
  bindUnix(fd: number, name: string, abstract: boolean): void;
  listen(fd: number, backlog: number): void;
  accept(fd: number): number;
  connectUnix(fd: number, name: string, abstract: boolean): number;
  socketpair(): [number, number];
  peerCredentials(fd: number): { pid: number; uid: number; gid: number };
  shutdown(fd: number, how: 'read' | 'write' | 'both'): void;
  close(fd: number): void;
  setNonBlocking(fd: number, on: boolean): void;
  socketError(fd: number): number;

  read(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  writev(fd: number, chunks: readonly Uint8Array[], count: number): number;
  sendmsg(fd: number, chunks: readonly Uint8Array[], count: number, fds: readonly number[]): number;
  recvmsg(fd: number, buffer: Uint8Array, offset: number, length: number, fdsOut: number[]): number;

  poll(fds: Int32Array, events: Int32Array, revents: Int32Array, count: number, timeoutMs: number): number;
  POLLIN: number;
  POLLOUT: number;
  POLLERR: number;
  POLLHUP: number;
  POLLNVAL: number;
  POLLRDHUP: number;

  watcherInit(self: object, fd: number, onEvent: (status: number, events: number) => void): void;
  watcherStart(self: object, events: number): void;
  watcherStop(self: object): void;
  watcherClose(self: object): void;
  watcherRef(self: object): void;
  watcherUnref(self: object): void;
  WATCH_READABLE: number;
  WATCH_WRITABLE: number;
  WATCH_DISCONNECT: number;
  WATCH_PRIORITIZED: number;
}

// Relative to this file, so the same path works from src/ and from dist/.
export const native = createRequire(import.meta.url)('../build/Release/pollux_sys.node') as NativeBinding;
