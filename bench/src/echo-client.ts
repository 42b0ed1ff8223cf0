/**
 * What a workload needs from a stack: send one payload and get the echo back, have the server
 * push events, connect and close. Every contender's client implements it in its own idiom, so the
 * workload code that does the timing is shared and cannot favour any of them.
 */
export interface EchoClient {
  /** Sends `payload` and resolves with the echoed bytes; many calls may be in flight at once. */
  request(payload: Buffer): Promise<Buffer>;
  /**
   * Sends `payload` and resolves with the length of the echo, received into `into` (which the
   * caller reuses), where the stack has a way to receive into a caller's buffer.
   */
  requestInto?(payload: Buffer, into: Buffer): Promise<number>;
  /**
   * Calls `onEvent` with the payload of every event the server pushes to this client, and
   * resolves once the server will push to it (after that, {@link EchoClient.pushEvents} from any
   * client of the same server reaches this one).
   */
  subscribe(onEvent: (payload: Buffer) => void): Promise<void>;
  /** Asks the server to push `count` events of `size` bytes to every subscribed client. */
  pushEvents(count: number, size: number): void;
  close(): Promise<void>;
}

/** Connects a new client of one contender to the server at `address`. */
export type Connect = (address: string) => Promise<EchoClient>;

/** The two numbers of a push request, as 8 bytes (u32 count, u32 size, little-endian). */
export function encodePushRequest(count: number, size: number): Buffer {
  const request = Buffer.allocUnsafe(8);
  request.writeUInt32LE(count, 0);
  request.writeUInt32LE(size, 4);
  return request;
}

export function decodePushRequest(request: Uint8Array): { count: number; size: number } {
  const view = Buffer.from(request.buffer, request.byteOffset, request.byteLength);
  return { count: view.readUInt32LE(0), size: view.readUInt32LE(4) };
}

/** The payload of every pushed event of `size` bytes: recognisable, and the same each time. */
export function eventPayload(size: number): Buffer {
  const payload = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) payload[i] = i & 0xff;
  return payload;
}
