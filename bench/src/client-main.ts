/**
 * The client process of one run: connects with the chosen stack, runs one workload and prints
 * its result as one JSON line on stdout. Usage: client-main.ts <stack> <socket path> <workload
 * JSON>. The client gets a process of its own (rather than living in the bench's main process)
 * so that it can be pinned to its own CPU and starts every run with a fresh heap and JIT state,
 * the same for both stacks.
 */
import type { EchoClient, Stack } from './echo-client.js';
import { NetEchoClient } from './net-client.js';
import { PolluxEchoClient } from './pollux-client.js';
import { run, type Workload } from './workloads.js';

const [stack, address, spec] = process.argv.slice(2) as [Stack | undefined, string | undefined, string | undefined];
if (stack === undefined || address === undefined || spec === undefined) {
  throw new Error('usage: client-main.ts <pollux|net> <socket path> <workload JSON>');
}
const workload = JSON.parse(spec) as Workload;

const client: EchoClient = stack === 'pollux' ? await PolluxEchoClient.connect(address) : await NetEchoClient.connect(address);
const result = await run(client, workload);
await client.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
