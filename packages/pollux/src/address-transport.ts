// AddressTransport: the facade's default transport, choosing sockets or shared memory by address.
import type { Channel, Listener, Transport } from '@pollux/core';
import { ShmTransport, type ShmTransportOptions } from '@pollux/transport-shm';
import { SocketTransport, type SocketTransportOptions } from '@pollux/transport-socket';

/** The address prefix that picks the shared-memory transport: `shm:/run/app.sock`, `shm:@app`. */
export const SHM_PREFIX = 'shm:';

/**
 * Unix sockets for a plain address, shared memory ({@link ShmTransport}) for one written
 * `shm:<address>`: one server may listen on both kinds at once. The shared-memory transport is
 * made on first use.
 */
export class AddressTransport implements Transport {
  private readonly sockets: SocketTransport;
  private readonly shmOptions: ShmTransportOptions;
  private shm: ShmTransport | undefined;

  constructor(socket: SocketTransportOptions = {}, shm: ShmTransportOptions = {}) {
    this.sockets = new SocketTransport(socket);
    this.shmOptions = { ...socket, ...shm };
  }

  listen(address: string): Listener {
    const { transport, address: target } = this.pick(address);
    return transport.listen(target);
  }

  connect(address: string): Promise<Channel> {
    const { transport, address: target } = this.pick(address);
    return transport.connect(target);
  }

  private pick(address: string): { transport: Transport; address: string } {
    if (!address.startsWith(SHM_PREFIX)) return { transport: this.sockets, address };
    this.shm ??= new ShmTransport(this.shmOptions);
    return { transport: this.shm, address: address.slice(SHM_PREFIX.length) };
  }
}
