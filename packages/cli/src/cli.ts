// The pollux command's commands: status, connections, watch and call, and their exit codes.
import { parseArgs } from 'node:util';
import { connectSync, IpcError, type ServerStats, type SyncClient } from 'pollux';
import { CommandFailure, ExitCode, type ExitCodeValue } from './exit-codes.js';
import { HELP } from './help.js';
import { Inspector, type Snapshot } from './introspect.js';
import { readPayload } from './payload.js';
import { connectionsText, statusText, type Rates } from './tables.js';

/** Where the command writes, so tests and embedders can capture it. */
export interface CommandOutput {
  /** Standard output: text, or a call's response bytes. */
  write(chunk: string | Uint8Array): void;
  /** Standard error: failures and hints. */
  error(text: string): void;
  /** Whether standard output is a terminal (`watch` redraws the screen then). */
  readonly isTTY: boolean;
}

const OPTIONS = {
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  interval: { type: 'string' },
  count: { type: 'string' },
  hex: { type: 'boolean' },
  file: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/**
 * Runs one `pollux` command line (without the program name) and resolves with its exit status;
 * see `pollux --help` for the commands and {@link ExitCode} for the statuses.
 *
 * @param argv - the arguments, e.g. `['status', '/run/app.sock', '--json']`
 * @param output - where to write
 * @param signal - stops `watch` (it resolves with 0)
 */
export async function run(
  argv: readonly string[],
  output: CommandOutput,
  signal?: AbortSignal,
): Promise<ExitCodeValue> {
  let flags: Flags;
  let positionals: string[];
  try {
    ({ values: flags, positionals } = parseArgs({
      args: [...argv],
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    }));
  } catch (error) {
    output.error(`pollux: ${(error as Error).message}\nTry 'pollux --help'.\n`);
    return ExitCode.Usage;
  }
  const [command, ...rest] = positionals;
  if (flags.help === true || command === 'help') {
    output.write(HELP);
    return ExitCode.Ok;
  }
  try {
    const timeout = positiveInteger('--timeout', flags.timeout, 5000);
    switch (command) {
      case 'status':
        return await status(arity(rest, 1, 'status ADDRESS')[0]!, flags, timeout, output);
      case 'connections':
        return await connections(arity(rest, 1, 'connections ADDRESS')[0]!, flags, timeout, output);
      case 'watch':
        return await watch(arity(rest, 1, 'watch ADDRESS')[0]!, flags, timeout, output, signal);
      case 'call':
        return call(arity(rest, 3, 'call ADDRESS SERVICE COMMAND [PAYLOAD]', 4), flags, timeout, output);
      case undefined:
        throw new CommandFailure(ExitCode.Usage, 'no command given');
      default:
        throw new CommandFailure(ExitCode.Usage, `unknown command "${command}"`);
    }
  } catch (error) {
    if (!(error instanceof CommandFailure)) throw error;
    if (flags.json === true && command === 'call')
      output.write(`${JSON.stringify({ ok: false, code: error.code ?? 'EINVAL', message: error.message })}\n`);
    output.error(`pollux: ${error.message}\n${error.exitCode === ExitCode.Usage ? "Try 'pollux --help'.\n" : ''}`);
    return error.exitCode;
  }
}

function arity(args: readonly string[], min: number, usage: string, max = min): readonly string[] {
  if (args.length < min || args.length > max) throw new CommandFailure(ExitCode.Usage, `usage: pollux ${usage}`);
  return args;
}

function positiveInteger(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 1)
    throw new CommandFailure(ExitCode.Usage, `${name} must be a positive integer, got "${value}"`);
  return number;
}

async function inspect<T>(address: string, timeout: number, use: (inspector: Inspector) => Promise<T>): Promise<T> {
  const inspector = await Inspector.open(address, timeout);
  try {
    return await use(inspector);
  } finally {
    await inspector.close();
  }
}

async function status(address: string, flags: Flags, timeout: number, output: CommandOutput): Promise<ExitCodeValue> {
  const stats = await inspect(address, timeout, (inspector) => inspector.stats());
  output.write(flags.json === true ? `${JSON.stringify(stats, null, 2)}\n` : statusText(address, stats));
  return ExitCode.Ok;
}

async function connections(
  address: string,
  flags: Flags,
  timeout: number,
  output: CommandOutput,
): Promise<ExitCodeValue> {
  const snapshot = await inspect(address, timeout, (inspector) => inspector.snapshot());
  output.write(
    flags.json === true
      ? `${JSON.stringify(snapshot.connections, null, 2)}\n`
      : connectionsText(snapshot.connections, snapshot.stats),
  );
  return ExitCode.Ok;
}

async function watch(
  address: string,
  flags: Flags,
  timeout: number,
  output: CommandOutput,
  signal: AbortSignal | undefined,
): Promise<ExitCodeValue> {
  const interval = positiveInteger('--interval', flags.interval, 1000);
  const count = positiveInteger('--count', flags.count, Number.MAX_SAFE_INTEGER);
  return inspect(address, timeout, async (inspector) => {
    const stopped = (): boolean => signal?.aborted === true;
    let previous: { at: number; stats: ServerStats } | undefined;
    for (let frame = 0; frame < count && !stopped(); frame++) {
      if (frame > 0) await pause(interval, signal);
      if (stopped()) break;
      const snapshot = await inspector.snapshot();
      const at = performance.now();
      const rates =
        previous === undefined ? new Map() : ratesBetween(previous.stats, snapshot.stats, (at - previous.at) / 1000);
      previous = { at, stats: snapshot.stats };
      output.write(
        flags.json === true
          ? `${JSON.stringify({ time: new Date().toISOString(), ...snapshot, rates: Object.fromEntries(rates) })}\n`
          : watchFrame(address, snapshot, rates, output.isTTY),
      );
    }
    return ExitCode.Ok;
  });
}

function watchFrame(address: string, snapshot: Snapshot, rates: Rates, redraw: boolean): string {
  const frame = `${new Date().toISOString()}\n${statusText(address, snapshot.stats, rates)}\n${connectionsText(snapshot.connections, snapshot.stats)}`;
  // Cursor home and clear screen: the terminal shows the latest frame only.
  return redraw ? `\x1b[H\x1b[2J${frame}` : `${frame}\n`;
}

function ratesBetween(
  before: ServerStats,
  after: ServerStats,
  seconds: number,
): Map<number, { requests: number; events: number }> {
  const old = new Map(before.services.map((service) => [service.id, service]));
  const rates = new Map<number, { requests: number; events: number }>();
  for (const service of after.services) {
    const prior = old.get(service.id);
    if (prior === undefined || seconds <= 0) continue;
    rates.set(service.id, {
      requests: (service.requests - prior.requests) / seconds,
      events: (service.events - prior.events) / seconds,
    });
  }
  return rates;
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** One blocking request through the synchronous client: no event loop turn is needed for it. */
function call(args: readonly string[], flags: Flags, timeout: number, output: CommandOutput): ExitCodeValue {
  const [address, serviceArg, commandArg, text] = args as [string, string, string, string | undefined];
  const service = /^\d+$/.test(serviceArg) ? Number(serviceArg) : serviceArg;
  const command = Number(commandArg);
  if (!/^\d+$/.test(commandArg) || command > 0xffff)
    throw new CommandFailure(ExitCode.Usage, `COMMAND must be an id in 0-65535, got "${commandArg}"`);
  const payload = readPayload({ text, hex: flags.hex === true, file: flags.file });
  let client: SyncClient;
  try {
    client = connectSync(address, service, { timeout });
  } catch (error) {
    throw CommandFailure.fromConnection(error, `cannot connect to service ${serviceArg} at ${address}`);
  }
  try {
    if (payload.length > client.maxMessageSize) {
      throw new CommandFailure(
        ExitCode.Usage,
        `payload of ${payload.length} bytes exceeds the server's limit of ${client.maxMessageSize} bytes`,
        'EMSGSIZE',
      );
    }
    let response: Buffer;
    try {
      response = client.request(command, payload, { timeout });
    } catch (error) {
      const failure = IpcError.from(error, 'EIO');
      if (LOCAL_FAILURES.has(failure.code))
        throw CommandFailure.fromConnection(failure, `call to ${client.serviceName} command ${command} failed`);
      throw new CommandFailure(
        ExitCode.RemoteError,
        `${client.serviceName} command ${command} answered ${failure.code}: ${failure.message}`,
        failure.code,
      );
    }
    if (flags.json !== true) {
      output.write(response);
    } else {
      const utf8 = new TextDecoder('utf-8', { fatal: true });
      let text: string | null;
      try {
        text = utf8.decode(response);
      } catch {
        text = null;
      }
      output.write(
        `${JSON.stringify({ ok: true, bytes: response.length, hex: response.toString('hex'), utf8: text })}\n`,
      );
    }
    return ExitCode.Ok;
  } finally {
    client.close();
  }
}

/** Codes of a call that come from the connection, not from the service's handler. */
const LOCAL_FAILURES = new Set(['ETIMEDOUT', 'ECONNRESET', 'ENOTCONN', 'EPROTO']);
