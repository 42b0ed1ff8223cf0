// A command-line tool on the blocking client: no await, no event loop turn, every call returns
// its typed answer or throws an IpcError. Usage: tool.ts SOCKET put TITLE BODY | get TITLE
import { connectSync, contractSyncClient, IpcError } from 'pollux';
import { notes } from './notes.js';

const [socket, verb, title = '', body = ''] = process.argv.slice(2);
if (socket === undefined || (verb !== 'put' && verb !== 'get'))
  throw new Error('usage: tool.ts SOCKET put TITLE BODY | get TITLE');

try {
  using client = connectSync(socket, notes.name, { timeout: 2000 });
  const typed = contractSyncClient(client, notes);
  if (verb === 'put')
    console.log(`stored, ${typed.call.put({ title, body }, { timeout: 2000 }).stored} notes on this connection`);
  else console.log(JSON.stringify(typed.call.get(title, { timeout: 2000 })));
} catch (error) {
  if (!(error instanceof IpcError)) throw error;
  console.log(`failed: ${error.code}: ${error.message}`);
  process.exitCode = 1;
}
