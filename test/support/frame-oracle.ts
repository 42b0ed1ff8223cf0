// What a server should make of a client's byte stream, worked out from the protocol's rules
// (packages/core/src/protocol/frame.ts, handshake.ts) independently of the server's own code.

/** How a server with one service, id 1 called `echo`, ends a connection that sent `stream` and then hung up. */
export interface ExpectedOutcome {
  /** The connection breaks the protocol: it is closed and counted in `protocolErrors`. */
  readonly protocolError: boolean;
  /** It completed a handshake. */
  readonly accepted: boolean;
  /** Requests handed to the service before the connection ended. */
  readonly requests: number;
}

const KIND_HELLO = 1;
const KIND_REQUEST = 4;
const KIND_GOODBYE = 8;
const CONTROL_PAYLOAD_MAX = 1024;
/**
 * Requests a client may write with its hello, before it knows the agreed maximum: a server reads
 * them up to this size whatever it agreed (answering one over the maximum with an error).
 */
const EARLY_REQUEST_MAX = 1024;
const MAGIC = 'PLUX';

/** The outcome of `stream` on a server agreeing messages of up to `serverMaxMessage` bytes. */
export function expectedOutcome(stream: Buffer, serverMaxMessage: number): ExpectedOutcome {
  let at = 0;
  let accepted = false;
  // The largest request the server reads: none before the hello.
  let messageLimit = 0;
  let requests = 0;
  const broken = (): ExpectedOutcome => ({ protocolError: true, accepted, requests });
  const ended = (): ExpectedOutcome => ({ protocolError: false, accepted, requests });
  for (;;) {
    const rest = stream.length - at;
    // A hang-up between frames is a plain close; inside one, a protocol error.
    if (rest === 0) return ended();
    if (rest < 12) return broken();
    const length = stream.readUInt32LE(at);
    const kind = stream[at + 4]!;
    if (kind < 1 || kind > 8 || stream[at + 5] !== 0) return broken();
    const carriesMessage = kind === 4 || kind === 5 || kind === 7;
    if (length > (carriesMessage ? messageLimit : CONTROL_PAYLOAD_MAX)) return broken();
    if (rest < 12 + length) return broken();
    const payload = stream.subarray(at + 12, at + 12 + length);
    at += 12 + length;
    if (accepted) {
      if (kind === KIND_REQUEST) requests++;
      else if (kind === KIND_GOODBYE) return ended();
      else return broken();
      continue;
    }
    if (kind !== KIND_HELLO) return broken();
    if (payload.length < 16 || payload.toString('latin1', 0, 4) !== MAGIC || payload.length - 16 > 255) return broken();
    // A version or service the server does not have is refused politely: no protocol error.
    if (payload.readUInt16LE(4) !== 1) return ended();
    const serviceId = payload.readUInt32LE(12);
    const found = serviceId === 0xffffffff ? payload.toString('utf8', 16) === 'echo' : serviceId === 1;
    if (!found) return ended();
    accepted = true;
    messageLimit = Math.max(Math.min(payload.readUInt32LE(8), serverMaxMessage), EARLY_REQUEST_MAX);
  }
}
