/**
 * The client process of one run: connects with the chosen contender, runs one workload and
 * prints its result as one JSON line on stdout. Usage: client-main.ts <net|pollux-node|
 * pollux-epoll|pollux-pump> <socket path> <workload JSON>. The client gets a process of its own
 * (rather than living in the bench's main process) so that it can be pinned to its own CPU and
 * starts every run with a fresh heap and JIT state, the same for every contender.
 */
import { backendOf, parseContender } from './contenders.js';
import type { EchoClient } from './echo-client.js';
import { NetEchoClient } from './net-client.js';
import { PolluxEchoClient } from './pollux-client.js';
import { run, type Workload } from './workloads.js';

const [name, address, spec] = process.argv.slice(2);
if (name === undefined || address === undefined || spec === undefined) {
  throw new Error('usage: client-main.ts <net|pollux-node|pollux-epoll|pollux-pump> <socket path> <workload JSON>');
}
const backend = backendOf(parseContender(name));
const workload = JSON.parse(spec) as Workload;

const client: EchoClient = backend === undefined ? await NetEchoClient.connect(address) : await PolluxEchoClient.connect(address, backend);
const result = await run(client, workload);
await client.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
