// A child process with a pollux connection made before it starts: the parent serves, the child connects.
import type { ChildProcess, SpawnOptions, StdioOptions } from 'node:child_process';
import { IpcError, type Channel, type IpcClient, type IpcServer, type Transport } from '@pollux/core';
import * as sys from '@pollux/sys';
import { handOverInherited, receiveHandOver } from '@pollux/transport-socket';
import { connect, type ConnectOptions } from './defaults.js';

/** The environment variable that tells a child spawned by {@link spawnWithChannel} which fd is its channel. */
export const CHANNEL_FD_ENV = 'POLLUX_CHANNEL_FD';

/**
 * Starts `command` with a pollux connection to `server` already in place, the way Node's `'ipc'`
 * stdio gives a child a channel to its parent: no address, no socket file, nothing another
 * process could connect to. The parent makes a socketpair and hands one end to the child as the
 * fd after its stdio (its number in the `POLLUX_CHANNEL_FD` environment variable); the child calls
 * {@link connectInherited}, which sends back over it the end of a connection the child made, and
 * `server` adopts that end (see {@link IpcServer.adopt}). The server sees the child as a client
 * like any other: its credentials (pid, uid, gid) are the child's, from the kernel (those of the
 * parent's own socketpair would name the parent), and its service's `closed` hook runs when it
 * exits or is killed.
 *
 * The parent's end is close-on-exec, so the child does not hold it, and the child's end is closed
 * in the parent once spawned, so a child that dies (or never starts) leaves nothing behind. A
 * child that never connects holds nothing of the server's.
 *
 * @param server - the server the child becomes a client of
 * @param command - the program to run, as for `child_process.spawn`
 * @param args - its arguments
 * @param options - `child_process.spawn` options; `stdio` may be a string or an array, the channel
 * goes after it
 * @returns the child process
 * @throws {@link IpcError} `EMFILE` / `ENFILE` when no socketpair can be made, `ENOMEM` when
 * Node's loop cannot watch it (the child is not started then); what
 * `child_process.spawn` throws for bad arguments (a failure to start the program, such as
 * `ENOENT`, is its `'error'` event). A server closed by the time the child connects refuses it:
 * the child's {@link connectInherited} fails with `ECONNRESET`.
 */
export function spawnWithChannel(
  server: IpcServer,
  command: string,
  args: readonly string[] = [],
  options: SpawnOptions = {},
): ChildProcess {
  const stdio = stdioArray(options.stdio);
  let parentEnd: number;
  let childEnd: number;
  try {
    [parentEnd, childEnd] = sys.socketpair();
  } catch (error) {
    const failure = IpcError.from(error, 'EIO');
    throw new IpcError(failure.code, `cannot make a socketpair for the child's channel: ${failure.message}`, {
      cause: error,
    });
  }
  let watcher: sys.FdWatcher;
  try {
    // Watching first: what can fail then fails before a child exists that could not connect.
    watcher = awaitHandOver(server, parentEnd);
  } catch (error) {
    sys.close(parentEnd);
    sys.close(childEnd);
    throw IpcError.from(error, 'EIO');
  }
  try {
    // Loaded on first use: every process that imports pollux would otherwise load child_process
    // (~0.25 MiB of RSS), which a server that spawns nothing never needs.
    const { spawn } = process.getBuiltinModule('node:child_process');
    return spawn(command, args, {
      ...options,
      stdio: [...stdio, childEnd],
      env: { ...(options.env ?? process.env), [CHANNEL_FD_ENV]: String(stdio.length) },
    });
  } catch (error) {
    watcher.close();
    sys.close(parentEnd);
    throw error;
  } finally {
    sys.close(childEnd);
  }
}

/**
 * Waits on Node's loop, as the child process itself is watched, for the child to hand over its
 * connection on `bootstrap`, and gives it to `server`. A child that exits first, or sends
 * anything else, only closes the bootstrap: its own `connectInherited` is what fails.
 *
 * @returns the watcher, for the caller to close (before `bootstrap`) if the child never starts
 */
function awaitHandOver(server: IpcServer, bootstrap: number): sys.FdWatcher {
  const watcher = new sys.FdWatcher(bootstrap, () => {
    let channel: Channel | undefined;
    try {
      channel = receiveHandOver(bootstrap);
      if (channel === undefined) return;
    } catch {
      // Nothing to adopt: the child's side reports why.
    }
    watcher.close();
    sys.close(bootstrap);
    if (channel === undefined) return;
    try {
      server.adopt(channel);
    } catch {
      // The server closed meanwhile; adopt closed the channel, and the child sees its end.
    }
  });
  try {
    // The child process keeps Node running while it lives; a child the caller unref'd must not.
    watcher.unref();
    watcher.start(sys.WATCH_READABLE);
  } catch (error) {
    watcher.close();
    throw error;
  }
  return watcher;
}

/** `stdio` as an array of the first three fds' settings, which the channel then follows. */
function stdioArray(stdio: StdioOptions | undefined): Exclude<StdioOptions, string> {
  if (stdio === undefined) return ['pipe', 'pipe', 'pipe'];
  if (typeof stdio === 'string') return [stdio, stdio, stdio];
  return [...stdio];
}

/** Options of {@link connectInherited}: those of {@link connect}; no retry or reconnection, as there is nowhere else to connect. */
export type ConnectInheritedOptions = Omit<ConnectOptions, 'retry' | 'reconnect' | 'transport'>;

/**
 * In a child started by {@link spawnWithChannel}: connects to `service` (id or name) of the parent's
 * server over the inherited channel. Its `serverCredentials` are the parent's, and the parent
 * sees this process's, both as the kernel reports them. The channel is taken once:
 * `POLLUX_CHANNEL_FD` is removed from the environment and the fd closed, so processes this child
 * starts inherit neither.
 *
 * @throws {@link IpcError} `EBADF` when this process has no inherited channel (not started by
 * `spawnWithChannel`, or the channel was already taken) or its fd is not open; `ENOTSOCK` /
 * `ENOTCONN` when that fd is not a connected socket; `ECONNRESET` when the parent is gone;
 * otherwise as {@link connect} (`ENXIO` for an unknown service).
 */
export async function connectInherited(
  service: number | string,
  options: ConnectInheritedOptions = {},
): Promise<IpcClient> {
  const value = process.env[CHANNEL_FD_ENV];
  if (value === undefined) {
    throw new IpcError(
      'EBADF',
      `no inherited pollux channel: ${CHANNEL_FD_ENV} is not set, so this process was not started by ` +
        'spawnWithChannel, or its channel was already taken; connect to the server by address instead',
    );
  }
  delete process.env[CHANNEL_FD_ENV];
  if (!/^\d{1,10}$/.test(value)) {
    throw new IpcError(
      'EBADF',
      `${CHANNEL_FD_ENV} is ${JSON.stringify(value)}, not an fd number: it is set by spawnWithChannel, do not set it by hand`,
    );
  }
  const channel = handOverInherited(Number(value));
  return connect(`inherited fd ${value}`, service, { ...options, transport: channelTransport(channel) });
}

/** A transport whose one connection is `channel`, made already: for a client, never a server. */
function channelTransport(channel: Channel): Transport {
  let taken = false;
  return {
    listen(address) {
      throw new IpcError('EINVAL', `cannot listen on ${address}: an inherited channel is one connection`);
    },
    async connect(address) {
      if (taken) {
        throw new IpcError('EBADF', `${address} went with its first connection: it cannot be connected again`);
      }
      taken = true;
      return channel;
    },
  };
}
