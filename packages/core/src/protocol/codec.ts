// Codecs: how typed values travel as payloads (protocol layer).
import { EMPTY_PAYLOAD } from './frame.js';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { IpcError } from '../errors.js';

/**
 * How values of type `T` travel as message payloads. `decode` meets bytes from a peer: it must
 * throw on anything it cannot make a `T` of, best as an {@link IpcError} `EBADMSG`.
 */
export interface Codec<T> {
  /** Turns a value into payload bytes. */
  encode(value: T): Uint8Array;
  /**
   * Turns payload bytes back into a value, before the handler or listener that receives it runs.
   * The bytes may be a read-only view that is valid only until that callback returns (a transport
   * that lends its memory, `ShmTransport` with `lendViews`): a value that keeps them as they are
   * (not a parsed copy) must copy them.
   *
   * @throws {@link IpcError} `EBADMSG` when the bytes are not a `T`.
   */
  decode(payload: Buffer): T;
}

/** The value type a codec carries. */
export type CodecValue<C> = C extends Codec<infer T> ? T : never;

function badMessage(what: string, cause?: unknown): IpcError {
  return new IpcError(
    'EBADMSG',
    `payload is not ${what}: do both ends use the same contract?`,
    cause === undefined ? undefined : { cause },
  );
}

/** Raw bytes, as they are. */
export const bytesCodec: Codec<Uint8Array> = {
  encode: (value) => value,
  decode: (payload) => payload,
};

/** No payload at all: for commands without a request or an answer, and bare events. */
export const emptyCodec: Codec<void> = {
  encode: () => EMPTY_PAYLOAD,
  decode: (payload) => {
    if (payload.length !== 0) throw badMessage(`empty (got ${payload.length} bytes)`);
  },
};

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A string as UTF-8; bytes that are not valid UTF-8 do not decode. */
export const utf8Codec: Codec<string> = {
  encode: (value) => Buffer.from(value, 'utf8'),
  decode: (payload) => {
    try {
      return strictUtf8.decode(payload);
    } catch (error) {
      throw badMessage('valid UTF-8', error);
    }
  },
};

/**
 * JSON in UTF-8. The type is the caller's claim, not checked: pair it with
 * {@link schemaCodec} to check what comes from a peer.
 */
export function jsonCodec<T>(): Codec<T> {
  return {
    encode: (value) => {
      const text = JSON.stringify(value);
      if (text === undefined) throw new IpcError('EINVAL', `${typeof value} has no JSON form`);
      return Buffer.from(text, 'utf8');
    },
    decode: (payload) => {
      try {
        return JSON.parse(utf8Codec.decode(payload)) as T;
      } catch (error) {
        throw error instanceof IpcError ? error : badMessage('JSON', error);
      }
    },
  };
}

/**
 * Node's structured clone format (`node:v8` serialize): Maps, Sets, Dates, typed arrays, cycles
 * and `bigint`s survive the trip; functions and class identities do not. Both ends must run
 * Node.js versions whose serializer formats agree. The type is the caller's claim, not checked.
 */
export function structuredCloneCodec<T>(): Codec<T> {
  // Loaded here, not imported by the module: `node:v8` costs every process that imports core
  // about a megabyte of heap, and only users of this codec need it.
  const { deserialize, serialize } = process.getBuiltinModule('node:v8');
  return {
    encode: (value) => serialize(value),
    decode: (payload) => {
      try {
        return deserialize(payload) as T;
      } catch (error) {
        throw badMessage('in structured clone format', error);
      }
    },
  };
}

/**
 * Checks decoded values with a schema of any library that implements Standard Schema (Valibot,
 * Zod, ArkType, …): the value is whatever the schema outputs, so types come from the schema,
 * and a peer's bytes that do not fit it fail to decode with `EBADMSG`, naming the issues.
 * Encoding is not checked: values of the schema's output type are trusted.
 *
 * @param schema - a synchronous Standard Schema
 * @param base - how the bytes become the value the schema checks; default {@link jsonCodec}
 */
export function schemaCodec<S extends StandardSchemaV1>(
  schema: S,
  base: Codec<unknown> = jsonCodec<unknown>(),
): Codec<StandardSchemaV1.InferOutput<S>> {
  return {
    encode: (value) => base.encode(value),
    decode: (payload) => {
      const result = schema['~standard'].validate(base.decode(payload));
      if (result instanceof Promise) {
        throw new IpcError(
          'EINVAL',
          'schemaCodec needs a synchronous schema: an asynchronous one cannot check a payload as it arrives',
        );
      }
      if (result.issues !== undefined) {
        const issues = result.issues.map((issue) => {
          const path = issue.path?.map((key) => String(typeof key === 'object' ? key.key : key)).join('.');
          return path === undefined || path === '' ? issue.message : `${path}: ${issue.message}`;
        });
        throw new IpcError('EBADMSG', `payload does not match its schema: ${issues.join('; ')}`);
      }
      return result.value as StandardSchemaV1.InferOutput<S>;
    },
  };
}
