/** Connecting a `node:net` socket to a Unix socket path, for the clients that speak over one. */
import { connect, type Socket } from 'node:net';

export function connectUnixSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}
