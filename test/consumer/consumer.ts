// A TypeScript application's view of the installed packages: every import goes through the
// published `exports` (dist/*.d.ts), under each moduleResolution run.sh checks.
import { IpcError, Ready, connect, createServer, type ConnectOptions, type IpcClient, type ServerStats } from 'pollux';
import { describePollerConformance } from '@pollux/core/testing';
import { PumpPoller, pumpOnNodeLoop } from '@pollux/poll-pump';
import { SysError, socketpair } from '@pollux/sys';
import { SharedRegion, SharedRegionView } from '@pollux/shared-region';

const options: ConnectOptions = { retry: { deadline: 1000 } };
const error: IpcError = new IpcError('ENOENT', 'no such key');
const mask: number = Ready.Readable | Ready.Writable;
const pump = new PumpPoller();
const stop: () => void = pumpOnNodeLoop(pump, 1);
const conformance: typeof describePollerConformance = describePollerConformance;
const pair: [number, number] = socketpair();
const sysError: SysError = new SysError('read', -11);

export async function stats(address: string): Promise<ServerStats> {
  const server = createServer({ maxMessageSize: 4096 });
  await server.listen(address);
  const client: IpcClient = await connect(address, 'kv', options);
  await client.close();
  return server.stats();
}
export function publish(): [SharedRegion, SharedRegionView] {
  const region = SharedRegion.create({ name: 'pose', size: 64 });
  return [region, SharedRegionView.open(region.fd, { size: 64 })];
}
export { conformance, error, mask, pair, stop, sysError };
