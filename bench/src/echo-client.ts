/**
 * What a workload needs from a stack: send one payload, get the echo back. Both the pollux and
 * the node:net client implement it, so the workload code that does the timing is shared and
 * cannot favour either stack.
 */
export interface EchoClient {
  /** Sends `payload` and resolves with the echoed bytes; many calls may be in flight at once. */
  request(payload: Buffer): Promise<Buffer>;
  close(): Promise<void>;
}

/** The stacks under comparison; the name selects both the server script and the client. */
export type Stack = 'pollux' | 'net';

export const STACKS: readonly Stack[] = ['pollux', 'net'];
