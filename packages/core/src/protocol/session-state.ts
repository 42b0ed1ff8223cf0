// SessionState: the stages of a connection the protocol defines, shared by both ends (protocol layer).

/**
 * Where a session is in its life, on either end. Each end's session file draws its transitions;
 * what the protocol fixes is the order: the handshake, then requests, then a goodbye.
 */
export const SessionState = {
  /** Hello sent or awaited; nothing but handshake frames is legal. */
  Handshaking: 0,
  /** Requests, responses and events flow. */
  Open: 1,
  /** Closing gracefully: no new work is taken; work under way may still be answered. */
  Draining: 2,
  /** The goodbye (or refusal) is queued and what is queued is being written. */
  Closing: 3,
  /** Over: the link ended. */
  Ended: 4,
} as const;
export type SessionState = (typeof SessionState)[keyof typeof SessionState];
