// What a bridge tells about a service in the NATS services (micro) API, for remote clients and tools.

/**
 * The version each bridged service reports to the micro API: the version of the bridge's wire
 * format (subjects, error headers, metadata keys), not of the package. A remote client checks
 * its major number.
 */
export const BRIDGE_PROTOCOL_VERSION = '1.0.0';

/** Metadata keys of a bridged service and its endpoints. */
export const SERVICE_METADATA = {
  /** The pollux service id. */
  serviceId: 'pollux.service_id',
  /** The pollux service name. */
  serviceName: 'pollux.service_name',
  /** The largest request payload the pollux server takes. */
  maxMessageSize: 'pollux.max_message_size',
  /** The command ids served, comma-separated. */
  commands: 'pollux.commands',
  /** The event ids published, comma-separated. */
  events: 'pollux.events',
  /** On an endpoint: its command id. */
  command: 'pollux.command',
} as const;
