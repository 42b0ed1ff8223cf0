#!/usr/bin/env node
// The `pollux` command: see help.ts, or run `pollux --help`.
import { run } from './cli.js';

// A reader that stopped reading (`pollux watch … | head`) ends the command, quietly, as SIGPIPE would.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(0);
});

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.exitCode = await run(
  process.argv.slice(2),
  {
    write: (chunk) => process.stdout.write(chunk),
    error: (text) => process.stderr.write(text),
    isTTY: process.stdout.isTTY === true,
  },
  stop.signal,
);
