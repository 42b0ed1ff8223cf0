import { createConnection, type Socket } from 'node:net';

/** A plain socket to a server, for tests that play a hostile or broken client. */
export interface RawSocket {
  readonly socket: Socket;
  /** Every chunk received, in order. */
  readonly received: Buffer[];
  /** Resolves once the socket is closed, whoever closed it. */
  readonly closed: Promise<void>;
  readonly connected: Promise<void>;
}

/** Connects a raw socket that records what it receives and when it is closed. */
export function rawSocket(address: string): RawSocket {
  const socket = createConnection(address);
  const received: Buffer[] = [];
  socket.on('data', (chunk) => received.push(chunk));
  socket.on('error', () => undefined); // a reset by the server is the expected outcome
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  const connected = new Promise<void>((resolve) => socket.on('connect', () => resolve()));
  return { socket, received, closed, connected };
}
