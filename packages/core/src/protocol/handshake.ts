// The handshake and control payloads: hello, welcome, error and goodbye (protocol layer).
import { IpcError, isErrnoCode } from '../errors.js';
import { CONTROL_PAYLOAD_MAX } from './frame.js';

/** Protocol version this build speaks. */
export const PROTOCOL_VERSION = 1;
const MAGIC = 0x58554c50; // "PLUX" little-endian: a stray client of another protocol fails at once
/** Service id in a hello that asks for the service by name. */
export const SERVICE_BY_NAME = 0xffffffff;
/** Longest service name, in UTF-8 bytes. */
export const SERVICE_NAME_MAX = 255;
/**
 * Requests of up to this many bytes may follow a hello before the welcome (a client that opens
 * with requests writes them with its hello): a server reads them whatever message size it then
 * agrees, answers one larger than that with `EMSGSIZE`, and runs none once it refused the hello.
 * Every server of protocol version 1 reads frames after the hello in order, so this needs no
 * negotiation.
 */
export const EARLY_REQUEST_MAX = CONTROL_PAYLOAD_MAX;

/** What a client asks for when it connects. */
export interface Hello {
  readonly version: number;
  readonly maxMessage: number;
  /** The most fds a message from the server may carry; 0 from a peer that predates fd passing. */
  readonly maxFds: number;
  readonly serviceId: number;
  readonly serviceName: string;
}

/** What the server agrees to. */
export interface Welcome {
  readonly version: number;
  readonly maxMessage: number;
  /** The most fds a message from the client may carry. */
  readonly maxFds: number;
  readonly serviceId: number;
  readonly serviceName: string;
}

/*
 * Hello and welcome share a layout: [u32 magic, hello only] u16 version, u16 max fds per message,
 * u32 max message size, u32 service id, then the service name in UTF-8. The fd count took a field
 * that was always 0, so a peer that predates it reads as taking no fds.
 */
function encodeControl(
  version: number,
  maxFds: number,
  maxMessage: number,
  serviceId: number,
  name: string,
  magic: boolean,
): Buffer {
  const head = magic ? 16 : 12;
  const out = Buffer.allocUnsafe(head + Buffer.byteLength(name, 'utf8'));
  let at = 0;
  if (magic) at = out.writeUInt32LE(MAGIC, at);
  at = out.writeUInt16LE(version, at);
  at = out.writeUInt16LE(maxFds, at);
  at = out.writeUInt32LE(maxMessage, at);
  at = out.writeUInt32LE(serviceId, at);
  out.write(name, at, 'utf8');
  return out;
}

/** Encodes a client hello. */
export function encodeHello(hello: Hello): Buffer {
  return encodeControl(hello.version, hello.maxFds, hello.maxMessage, hello.serviceId, hello.serviceName, true);
}

/** The hello that asks for `service`, by id or by name, taking up to `maxFds` fds per message. */
export function helloFor(service: number | string, maxMessage: number, maxFds: number): Buffer {
  const last = lastHello;
  if (last.service === service && last.maxMessage === maxMessage && last.maxFds === maxFds) return last.hello;
  const byName = typeof service === 'string';
  const hello = encodeHello({
    version: PROTOCOL_VERSION,
    maxMessage,
    maxFds,
    serviceId: byName ? SERVICE_BY_NAME : service,
    serviceName: byName ? service : '',
  });
  lastHello = { service, maxMessage, maxFds, hello };
  return hello;
}

/**
 * The last hello {@link helloFor} encoded: a process's clients mostly ask the same, and a
 * short-lived client should not pay for encoding it again. Shared because nothing writes to a
 * hello once encoded (the send queue copies or writes it as it is).
 */
let lastHello: { service: number | string; maxMessage: number; maxFds: number; hello: Buffer } = {
  service: -1,
  maxMessage: 0,
  maxFds: 0,
  hello: Buffer.alloc(0),
};

/** Encodes the server's welcome. */
export function encodeWelcome(welcome: Welcome): Buffer {
  return encodeControl(
    welcome.version,
    welcome.maxFds,
    welcome.maxMessage,
    welcome.serviceId,
    welcome.serviceName,
    false,
  );
}

function decodeName(payload: Buffer, at: number): string {
  if (payload.length - at > SERVICE_NAME_MAX) {
    throw new IpcError('EPROTO', `service name longer than ${SERVICE_NAME_MAX} bytes in handshake`);
  }
  return payload.toString('utf8', at);
}

/**
 * Decodes a client hello.
 *
 * @throws {@link IpcError} `EPROTO` when it is not a pollux hello.
 */
export function decodeHello(payload: Buffer): Hello {
  if (payload.length < 16 || payload.readUInt32LE(0) !== MAGIC) {
    throw new IpcError('EPROTO', 'handshake is not a pollux hello: the peer does not speak the pollux protocol');
  }
  return {
    version: payload.readUInt16LE(4),
    maxFds: payload.readUInt16LE(6),
    maxMessage: payload.readUInt32LE(8),
    serviceId: payload.readUInt32LE(12),
    serviceName: decodeName(payload, 16),
  };
}

/**
 * Decodes the server's welcome.
 *
 * @throws {@link IpcError} `EPROTO` when it is truncated.
 */
export function decodeWelcome(payload: Buffer): Welcome {
  if (payload.length < 12) throw new IpcError('EPROTO', 'truncated welcome from the server');
  return {
    version: payload.readUInt16LE(0),
    maxFds: payload.readUInt16LE(2),
    maxMessage: payload.readUInt32LE(4),
    serviceId: payload.readUInt32LE(8),
    serviceName: decodeName(payload, 12),
  };
}

/**
 * Encodes an error (error response or refusal): u8 code length, code, UTF-8 message. A code that
 * is not an errno name (an `accept` hook's stray string) travels as `EREMOTEIO`.
 */
export function encodeError(code: string, message: string): Buffer {
  const safeCode = isErrnoCode(code) ? code : 'EREMOTEIO';
  const out = Buffer.allocUnsafe(CONTROL_PAYLOAD_MAX);
  out[0] = safeCode.length;
  out.write(safeCode, 1, 'latin1');
  const written = out.write(message, 1 + safeCode.length, 'utf8');
  return out.subarray(0, 1 + safeCode.length + written);
}

/**
 * Decodes an error payload into an {@link IpcError}.
 *
 * @throws {@link IpcError} `EPROTO` when the payload is malformed.
 */
export function decodeError(payload: Buffer): IpcError {
  const codeLength = payload.length > 0 ? payload[0]! : 0;
  const code = payload.toString('latin1', 1, 1 + codeLength);
  // Our encoder never sends anything but an errno name: a peer that does is not speaking pollux.
  if (payload.length < 1 + codeLength || !isErrnoCode(code)) {
    throw new IpcError('EPROTO', 'malformed error frame from the peer: its code is not an errno name');
  }
  return new IpcError(code, payload.toString('utf8', 1 + codeLength));
}

/**
 * Encodes the server's goodbye: how many requests it read from this connection (modulo 2^32).
 * Requests arrive in the order they were sent, so the client learns from the count which of its
 * unanswered requests were never read, and so never ran. A client's goodbye is empty.
 */
export function encodeGoodbye(requestsRead: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32LE(requestsRead >>> 0, 0);
  return out;
}

/**
 * Decodes a goodbye.
 *
 * @returns the requests the server read, or undefined for an empty goodbye.
 * @throws {@link IpcError} `EPROTO` when the payload is malformed.
 */
export function decodeGoodbye(payload: Buffer): number | undefined {
  if (payload.length === 0) return undefined;
  if (payload.length !== 4) throw new IpcError('EPROTO', 'malformed goodbye from the peer');
  return payload.readUInt32LE(0);
}
