// The hand-over that gives a parent and the child it spawned a connection whose credentials are
// each other's, as the kernel reports them.
import { constants } from 'node:os';
import { errnoName, IpcError, type Channel } from '@pollux/core';
import * as sys from '@pollux/sys';
import { adoptConnectedFd, SocketChannel } from './socket-channel.js';

/*
 * The kernel records SO_PEERCRED of both ends of a socketpair at socketpair() time, as those of
 * the process that called it: over a pair the parent made, the parent's server would see itself,
 * not the child (nor the child's uid when it runs as another user). So the parent's pair is only
 * a bootstrap: the child makes the pair the two talk over, and sends the parent its end. The
 * parent's end then names the child; the child's end would name the child too, so the child
 * keeps the credentials of the bootstrap's peer, which name the parent. Both come from the kernel.
 */

const EAGAIN = -constants.errno.EAGAIN;

/** The one byte that carries the child's end over the bootstrap. */
const HAND_OVER = 0x50;

/**
 * In a child: takes over `fd`, a socket its parent passed down as a bootstrap, hands the parent
 * the end of a new connection over it and returns this process's end. The channel's credentials
 * are the parent's, from the bootstrap's `SO_PEERCRED`. `fd` is closed.
 *
 * @param fd - the bootstrap socket the parent passed down
 * @throws {@link @pollux/core!index.IpcError} as {@link SocketTransport.adopt} for `fd` (which is
 * then left open); `ECONNRESET` when the parent is gone; `EMFILE` / `ENFILE`.
 */
export function handOverInherited(fd: number): Channel {
  const bootstrap = adoptConnectedFd(fd);
  try {
    const [mine, theirs] = openPair();
    try {
      // One byte into a socket nobody wrote before: it fits, unless the parent is gone.
      const status = bootstrap.writev([Uint8Array.of(HAND_OVER)], 1, [theirs]);
      if (status !== 1) {
        const code = errnoName(status);
        throw new IpcError(
          code === 'EPIPE' ? 'ECONNRESET' : code,
          `cannot hand the connection to the parent over fd ${fd} (${code}): the parent is gone, or closed its end`,
        );
      }
      return new SocketChannel(mine, bootstrap.credentials);
    } catch (error) {
      sys.close(mine);
      throw error;
    } finally {
      sys.close(theirs);
    }
  } finally {
    bootstrap.close();
  }
}

/**
 * In a parent: reads the end of the connection a child handed over on `bootstrap` (see
 * {@link handOverInherited}). Its credentials are the child's, from the kernel. Call when
 * `bootstrap` is readable; the caller still owns `bootstrap` and closes it when this returns a
 * channel or throws.
 *
 * @param bootstrap - the parent's end of the bootstrap socketpair
 * @returns the channel, or `undefined` while nothing arrived yet
 * @throws {@link @pollux/core!index.IpcError} `ECONNRESET` when the child closed the bootstrap
 * without handing anything over (it exited, or never called `connectInherited`); `EPROTO` when
 * it sent something else than one connected Unix stream socket (any fds it sent are closed).
 */
export function receiveHandOver(bootstrap: number): Channel | undefined {
  const byte = new Uint8Array(1);
  const fds: number[] = [];
  const status = sys.recvmsg(bootstrap, byte, 0, 1, fds);
  if (status === EAGAIN) return undefined;
  if (status <= 0) {
    throw new IpcError('ECONNRESET', 'the child closed its channel without connecting: it exited, or never connected');
  }
  if (byte[0] === HAND_OVER && fds.length === 1) {
    try {
      return adoptConnectedFd(fds[0]!);
    } catch {
      // Not a connection: a protocol violation like any other below.
    }
  }
  for (const fd of fds) sys.close(fd);
  throw new IpcError(
    'EPROTO',
    'the child sent something else than its end of a connection over its channel: it does not speak pollux',
  );
}

function openPair(): [number, number] {
  try {
    return sys.socketpair();
  } catch (error) {
    const failure = IpcError.from(error, 'EIO');
    throw new IpcError(failure.code, `cannot make a socketpair for the connection: ${failure.message}`, {
      cause: error,
    });
  }
}
