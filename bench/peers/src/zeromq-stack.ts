/** What the zeromq server and client share: the endpoint of a socket path, the control frame. */
export function ipcEndpoint(path: string): string {
  return `ipc://${path}`;
}

/** The id frame of a push request (client to server) and of an event (server to client). */
export const CONTROL_FRAME: Buffer = Buffer.alloc(4, 0xff);

export function idFrame(id: number): Buffer {
  const frame = Buffer.allocUnsafe(4);
  frame.writeUInt32LE(id, 0);
  return frame;
}
