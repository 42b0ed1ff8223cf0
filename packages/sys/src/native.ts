// Loads the addon and types what it exports. Not part of the public surface:
// index.ts re-exports typed, documented wrappers.
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What a socket is, from `getsockopt` and `getsockname`. */
export interface SocketInfo {
  /** Address family (`SO_DOMAIN`): `'unix'`, `'inet'`, `'inet6'`, `'netlink'`, or `'other'`. */
  readonly family: 'unix' | 'inet' | 'inet6' | 'netlink' | 'other';
  /** Socket type (`SO_TYPE`): `'stream'`, `'dgram'`, `'seqpacket'`, `'raw'`, or `'other'`. */
  readonly type: 'stream' | 'dgram' | 'seqpacket' | 'raw' | 'other';
  /** Whether it is listening (`SO_ACCEPTCONN`). */
  readonly listening: boolean;
  /** Whether it has a peer (`getpeername` succeeds): connected, or one end of a socketpair. */
  readonly connected: boolean;
  /**
   * A Unix socket's own address (`getsockname`): its path, `@name` for an abstract one; empty
   * when unbound or not a Unix socket.
   */
  readonly address: string;
}

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
  setCloseOnExec(fd: number, on: boolean): void;
  socketInfo(fd: number): SocketInfo;
  socketUnixDatagram(): number;
  sendToUnix(fd: number, name: string, abstract: boolean, bytes: Uint8Array): number;

  read(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  writev(fd: number, chunks: readonly Uint8Array[], count: number): number;
  sendmsg(fd: number, chunks: readonly Uint8Array[], count: number, fds: readonly number[]): number;
  recvmsg(fd: number, buffer: Uint8Array, offset: number, length: number, fdsOut: number[]): number;
  duplicateFd(fd: number): number;

  eventfdCreate(initial: number): number;
  eventfdWrite(fd: number, value: number): number;
  eventfdRead(fd: number): number;

  poll(fds: Int32Array, events: Int32Array, revents: Int32Array, count: number, timeoutMs: number): number;
  POLLIN: number;
  POLLOUT: number;
  POLLERR: number;
  POLLHUP: number;
  POLLNVAL: number;
  POLLRDHUP: number;

  epollCreate(): number;
  epollCtl(epfd: number, op: number, fd: number, events: number): number;
  epollWait(epfd: number, fds: Int32Array, events: Int32Array, timeoutMs: number): number;
  EPOLL_CTL_ADD: number;
  EPOLL_CTL_MOD: number;
  EPOLL_CTL_DEL: number;
  EPOLLIN: number;
  EPOLLOUT: number;
  EPOLLERR: number;
  EPOLLHUP: number;
  EPOLLRDHUP: number;

  watcherDispatchTo<Watcher>(dispatch: (this: Watcher, status: number, events: number) => void): void;
  watcherInit(self: object, fd: number): void;
  watcherStart(self: object, events: number): void;
  watcherStop(self: object): void;
  watcherClose(self: object): void;
  watcherRef(self: object): void;
  watcherUnref(self: object): void;
  WATCH_READABLE: number;
  WATCH_WRITABLE: number;
  WATCH_DISCONNECT: number;
  WATCH_PRIORITIZED: number;

  memfdCreate(name: string): number;
  addSeals(fd: number, seals: number): number;
  getSeals(fd: number): number;
  mmap(fd: number, length: number, writable: boolean): ArrayBuffer | number;
  unmap(mapping: ArrayBuffer): number;
  seqlockWrite(mapping: ArrayBuffer, offset: number, source: Uint8Array): number;
  seqlockRead(mapping: ArrayBuffer, offset: number, target: Uint8Array, attempts: number): number;
  F_SEAL_SEAL: number;
  F_SEAL_SHRINK: number;
  F_SEAL_GROW: number;
  F_SEAL_WRITE: number;
  F_SEAL_FUTURE_WRITE: number;
}

// The package directory, one up from this file in src/ and from the compiled bundle/index.js
// alike.
const packageDir = fileURLToPath(new URL('..', import.meta.url));

/**
 * The binary to load: one compiled from source (`build/Release/`, or `build/Debug/` from
 * `node-gyp rebuild --debug`) first, then the one prebuilt in the npm tarball for this platform,
 * whose name may carry a libc tag between dots (prebuildify's `@pollux+sys.glibc.node`). This is
 * the order node-gyp-build, which the install script uses, searches in; its runtime and ABI tags
 * are not checked, since the one prebuild is Node-API (`--napi`), and its environment overrides
 * are not read. It is not loaded here: it is CommonJS, and loading it from a module and walking
 * its directories at every start made Node's path helpers hot enough for V8 to compile them with
 * TurboFan, which faulted ~4 MiB of the compiler's code into every server.
 */
function addonPath(): string | undefined {
  for (const build of ['Release', 'Debug']) {
    const built = join(packageDir, 'build', build, 'pollux_sys.node');
    if (existsSync(built)) return built;
  }
  const prebuilds = join(packageDir, 'prebuilds', `${platform()}-${arch()}`);
  if (!existsSync(prebuilds)) return undefined;
  const otherLibc = existsSync('/etc/alpine-release') ? 'glibc' : 'musl';
  const file = readdirSync(prebuilds).find((name) => name.endsWith('.node') && !name.split('.').includes(otherLibc));
  return file === undefined ? undefined : join(prebuilds, file);
}

/**
 * What a user whose addon does not load must do, by cause: a different OS, no binary for this
 * machine (so the install script had to compile one and did not, or could not), or a binary that
 * is there but does not load here.
 */
function loadFailure(cause: unknown): Error & { code: string } {
  const reason = (cause instanceof Error ? cause.message : String(cause)).split('\n', 1)[0] ?? '';
  const compile =
    `Its install script compiles one once approved: with npm 11 \`npm install-scripts approve @pollux/sys ` +
    `&& npm rebuild @pollux/sys\`, with pnpm 10 \`pnpm approve-builds\` (or @pollux/sys under ` +
    `onlyBuiltDependencies in pnpm-workspace.yaml). That needs python3, make and a C compiler (cc); ` +
    `or compile by hand with \`npx node-gyp rebuild\` in ${packageDir}.`;
  let code: string;
  let message: string;
  if (platform() !== 'linux') {
    code = 'ENOSYS';
    message = `@pollux/sys runs on Linux only, not on ${platform()}: pollux is built on Linux syscalls (SO_PEERCRED, abstract sockets, accept4).`;
  } else if (cause === undefined) {
    code = 'ENOENT';
    message =
      `@pollux/sys found no native addon for linux-${arch()} in ${packageDir}: none was compiled at ` +
      `install (build/Release/) and none is prebuilt for it (prebuilds/; only linux-x64 with glibc is). ${compile}`;
  } else {
    code = 'ELIBACC';
    message =
      `@pollux/sys's native addon does not load here (${reason}). The prebuilt linux-x64 binary needs ` +
      `glibc 2.32 or newer; elsewhere the addon must be compiled from source. ${compile}`;
  }
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code });
}

function loadAddon(): NativeBinding {
  const path = addonPath();
  if (path === undefined) throw loadFailure(undefined);
  try {
    return createRequire(import.meta.url)(path) as NativeBinding;
  } catch (cause) {
    throw loadFailure(cause);
  }
}

export const native = loadAddon();
