// A CommonJS application: require() of the ESM packages (Node's require(esm), unflagged since
// Node 20.19 and 22.12) and one copy of each class whichever entry point it came through.
const assert = require('node:assert/strict');
const pollux = require('pollux');
const core = require('@pollux/core');

assert.equal(typeof pollux.createServer, 'function');
assert.equal(typeof pollux.connect, 'function');
assert.equal(pollux.IpcError, core.IpcError);
assert.ok(new pollux.IpcError('ENOENT', 'x') instanceof core.IpcError);
console.log(`require('pollux') works: ${Object.keys(pollux).length} exports`);
