// The frame header: layout, kinds and size limits (protocol layer).
/**
 * Wire format. Every frame is a 12-byte little-endian header followed by its payload:
 *
 * ```
 * 0  u32 payload length
 * 4  u8  kind
 * 5  u8  fds    how many fds travel with the frame (request, response, event); 0 otherwise
 * 6  u16 code   command id (request) or event id (event); 0 otherwise
 * 8  u32 id     request id (request, response, error); 0 otherwise
 * ```
 *
 * Responses and events are different kinds, so an event can never be taken for a response
 * (OpenAIS' inq problem is solved here, in the framing).
 *
 * A frame's fds travel (`SCM_RIGHTS`) with its first header byte: the sender starts a new write at
 * every frame that carries fds, so the read that returns that byte returns them, and the count in
 * the header tells the receiver which frame they belong to.
 */
export const HEADER_SIZE = 12;

/** Frame kinds. */
export const FrameKind = {
  Hello: 1,
  Welcome: 2,
  Refuse: 3,
  Request: 4,
  Response: 5,
  ErrorResponse: 6,
  Event: 7,
  /** Either side is closing on purpose: tells a goodbye from a crash. */
  Goodbye: 8,
} as const;

/** The empty payload: a frame without one, and the default of every optional payload. */
export const EMPTY_PAYLOAD: Uint8Array = new Uint8Array(0);

/** Largest payload of the handshake and error frames, whatever the negotiated message size. */
export const CONTROL_PAYLOAD_MAX = 1024;

/** The biggest message size a peer may ask for (and the protocol's length field can carry safely). */
export const MAX_MESSAGE_SIZE_LIMIT = 256 * 1024 * 1024;

/**
 * The largest message each side handles unless told otherwise: the server's agreed maximum, and
 * what a client lets a server send it, so neither side holds more than this for one message.
 */
export const DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024;

/**
 * The most fds one message may carry: a Unix socket passes at most this many (`SCM_MAX_FD`) with
 * one write, and the frame header counts them in a byte.
 */
export const MAX_FDS_PER_MESSAGE = 253;

/** Writes a frame header into `target` at `offset`. */
export function writeHeader(
  target: Uint8Array,
  offset: number,
  length: number,
  kind: number,
  code: number,
  id: number,
  fdCount: number,
): void {
  target[offset] = length;
  target[offset + 1] = length >>> 8;
  target[offset + 2] = length >>> 16;
  target[offset + 3] = length >>> 24;
  target[offset + 4] = kind;
  target[offset + 5] = fdCount;
  target[offset + 6] = code;
  target[offset + 7] = code >>> 8;
  target[offset + 8] = id;
  target[offset + 9] = id >>> 8;
  target[offset + 10] = id >>> 16;
  target[offset + 11] = id >>> 24;
}

/** Whether `kind` is a message (request, response or event): one that may be large and carry fds. */
export function isMessageKind(kind: number): boolean {
  return kind === FrameKind.Request || kind === FrameKind.Response || kind === FrameKind.Event;
}

/** Largest payload a frame of `kind` may carry when messages are capped at `maxMessage`. */
export function payloadLimit(kind: number, maxMessage: number): number {
  return isMessageKind(kind) ? maxMessage : CONTROL_PAYLOAD_MAX;
}

/** Whether `value` fits a u16 field: service, command and event ids are integers in 0–65535. */
export function isUint16(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffff;
}
