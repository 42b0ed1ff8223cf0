// Frames built by hand, independent of the library's own encoder, for tests that play a
// hostile or broken peer.

/**
 * One frame: 12-byte little-endian header and payload; `length` may lie about the payload, and
 * `fdCount` about the fds that travel with it.
 */
export function frame(
  kind: number,
  code: number,
  id: number,
  payload: Buffer = Buffer.alloc(0),
  length = payload.length,
  fdCount = 0,
): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt32LE(length, 0);
  header[4] = kind;
  header[5] = fdCount;
  header.writeUInt16LE(code, 6);
  header.writeUInt32LE(id, 8);
  return Buffer.concat([header, payload]);
}

/** A client hello for `serviceId` (0xffffffff: the service called `name`). */
export function hello(serviceId: number, version = 1, name = '', maxMessage = 1 << 20, maxFds = 0): Buffer {
  const body = Buffer.alloc(16);
  body.write('PLUX', 0, 'latin1');
  body.writeUInt16LE(version, 4);
  body.writeUInt16LE(maxFds, 6);
  body.writeUInt32LE(maxMessage, 8);
  body.writeUInt32LE(serviceId, 12);
  return frame(1, 0, 0, Buffer.concat([body, Buffer.from(name)]));
}

/** A server welcome agreeing `maxMessage`, taking up to `maxFds` fds per request. */
export function welcome(maxMessage: number, serviceId = 1, name = 'raw', maxFds = 0): Buffer {
  const body = Buffer.alloc(12);
  body.writeUInt16LE(1, 0);
  body.writeUInt16LE(maxFds, 2);
  body.writeUInt32LE(maxMessage, 4);
  body.writeUInt32LE(serviceId, 8);
  return frame(2, 0, 0, Buffer.concat([body, Buffer.from(name)]));
}
