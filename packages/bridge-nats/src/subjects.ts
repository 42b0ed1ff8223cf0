// How pollux services, commands and events are named on NATS: subjects and micro service names.
import { IpcError } from '@pollux/core';

/** The subject prefix when none is given: `pollux.<service>.<command>`. */
export const DEFAULT_PREFIX = 'pollux';

/** The queue group when none is given: every bridge of a deployment shares it. */
export const DEFAULT_QUEUE = 'pollux';

/**
 * One subject token as NATS micro accepts it in names too: no dots, no wildcards, no spaces, so a
 * token can never widen a subscription (`*`, `>`) or split into two levels.
 */
const TOKEN = /^[A-Za-z0-9_-]+$/;

/** Checks a subject token chosen by the user (a service name, a queue group). */
export function subjectToken(what: string, value: unknown): string {
  if (typeof value !== 'string' || !TOKEN.test(value)) {
    throw new IpcError(
      'EINVAL',
      `${what} must be one NATS subject token of letters, digits, '-' and '_', got ${JSON.stringify(value)}: pick one with the 'subject' option`,
    );
  }
  return value;
}

/** Checks a subject prefix: one or more tokens joined by dots, such as `pollux` or `acme.pollux`. */
export function subjectPrefix(value: unknown): string {
  if (typeof value !== 'string' || !value.split('.').every((token) => TOKEN.test(token))) {
    throw new IpcError(
      'EINVAL',
      `prefix must be NATS subject tokens of letters, digits, '-' and '_' joined by dots, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** Where one bridged service lives on NATS. */
export class ServiceSubjects {
  /** The service's token in subjects, e.g. `kv`. */
  readonly token: string;
  /** `<prefix>.<token>`: the root of the service's subjects. */
  readonly root: string;
  /** The name of the service in the NATS services (micro) API: `<prefix>-<token>`, dots as dashes. */
  readonly microName: string;

  constructor(prefix: string, token: string) {
    this.token = token;
    this.root = `${prefix}.${token}`;
    this.microName = `${prefix.replaceAll('.', '-')}-${token}`;
  }

  /** The request-reply subject of a command: `<prefix>.<token>.<command>`. */
  command(command: number): string {
    return `${this.root}.${command}`;
  }

  /** The subject an event is published on: `<prefix>.<token>.events.<event>`. */
  event(event: number): string {
    return `${this.root}.events.${event}`;
  }

  /** What a subscriber to every event of the service listens on. */
  get allEvents(): string {
    return `${this.root}.events.*`;
  }

  /** The micro API's info subject of the service, answered by every bridge that serves it. */
  get info(): string {
    return `$SRV.INFO.${this.microName}`;
  }
}
