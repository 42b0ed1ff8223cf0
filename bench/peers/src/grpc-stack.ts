/**
 * What the grpc-js server and client share: the service's methods with Buffer serializers (the
 * bytes are the message; no protobuf encoding), and the address of a socket path.
 */
import type { ServiceDefinition } from '@grpc/grpc-js';

const bytes = (buffer: Buffer): Buffer => buffer;
const method = <Stream extends boolean>(name: string, responseStream: Stream) => ({
  path: `/bench.Echo/${name}`,
  requestStream: false as const,
  responseStream,
  requestSerialize: bytes,
  requestDeserialize: bytes,
  responseSerialize: bytes,
  responseDeserialize: bytes,
});

export const ECHO_SERVICE = {
  /** Unary: the reply is the request. */
  echo: method('Echo', false),
  /** Server stream: one empty message once subscribed, then every event pushed. */
  subscribe: method('Subscribe', true),
  /** Unary: the request is a push request; events go to every subscriber's stream. */
  push: method('Push', false),
} satisfies ServiceDefinition;

export function grpcTarget(path: string): string {
  return `unix://${path}`;
}
