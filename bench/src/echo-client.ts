/**
 * What a workload needs from a stack: send one payload, get the echo back. The pollux client (on
 * any poller backend) and the node:net client implement it, so the workload code that does the
 * timing is shared and cannot favour any of them.
 */
export interface EchoClient {
  /** Sends `payload` and resolves with the echoed bytes; many calls may be in flight at once. */
  request(payload: Buffer): Promise<Buffer>;
  close(): Promise<void>;
}
