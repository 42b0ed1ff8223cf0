// The service the bridge-nats tests serve over NATS, shared by the test and its fixtures.

/** Service id and name of the bridged service. */
export const BRIDGED_SERVICE = { id: 7, name: 'demo' } as const;

/** Its commands. */
export const BridgedCommand = {
  Echo: 1,
  /** Never answers; the server reports `stalled` when it gets one. */
  Stall: 2,
  /** Answers with the pid of the asking connection's process: which bridge took the request. */
  WhoAsks: 3,
  /** Sends the asking connection a private event, then a public one with the request's payload. */
  Emit: 4,
  /** Served by no bridge. */
  Private: 5,
  /** Answers with the payload twice. */
  Double: 6,
  /** Sends the asking connection a public event with the request's payload twice. */
  EmitDoubled: 8,
  /** Throws `EACCES`. */
  Refuse: 9,
} as const;

/** Its events. */
export const BridgedEvent = { Public: 1, Private: 2 } as const;

/** What the bridges serve: every command but `Private`, and the public event. */
export const ALLOWED_COMMANDS: readonly number[] = [
  BridgedCommand.Echo,
  BridgedCommand.Stall,
  BridgedCommand.WhoAsks,
  BridgedCommand.Emit,
  BridgedCommand.Double,
  BridgedCommand.EmitDoubled,
  BridgedCommand.Refuse,
];
/** The events the bridges publish. */
export const ALLOWED_EVENTS: readonly number[] = [BridgedEvent.Public];
