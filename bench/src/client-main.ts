/**
 * The client process of a contender's runs: connects with the chosen contender, runs each
 * workload in turn and prints each result as one JSON line on stdout ({ result } or, if that
 * workload failed, { error }). Usage: client-main.ts <contender> <socket path> <workloads JSON
 * array>. The client gets a process of its own (rather than living in the bench's main process)
 * so that it can be pinned to its own CPU and starts every repeat with a fresh heap and JIT
 * state, the same for every contender.
 *
 * With a `hold` spec instead of an array it is a holder of the idle-connections workload: it
 * opens the connections, prints one line, and keeps them until its stdin closes.
 */
import { connectorOf } from './client-connect.js';
import { parseContender } from './contenders.js';
import { hold, run, shmRingBytes, type HoldSpec, type TimedWorkload } from './workloads.js';

const [name, address, spec] = process.argv.slice(2);
if (name === undefined || address === undefined || spec === undefined) {
  throw new Error('usage: client-main.ts <contender> <socket path> <workloads JSON array | hold spec>');
}
const parsed = JSON.parse(spec) as TimedWorkload[] | HoldSpec;
// Rings sized as the server's were, for the same workloads (none for holders of idle connections).
const connect = await connectorOf(parseContender(name), shmRingBytes(Array.isArray(parsed) ? parsed : []));

if (!Array.isArray(parsed)) {
  const clients = await hold(connect, address, parsed);
  process.stdout.write(`${JSON.stringify({ connected: clients.length })}\n`);
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.once('end', resolve));
} else {
  for (const workload of parsed) {
    try {
      process.stdout.write(`${JSON.stringify({ result: await run(connect, address, workload) })}\n`);
    } catch (error) {
      process.stdout.write(`${JSON.stringify({ error: error instanceof Error ? error.message : String(error) })}\n`);
    }
  }
}
// Some stacks keep threads or timers alive after close (zeromq's context, grpc's channels); the
// results are out, so end here rather than wait for them.
process.exit(0);
