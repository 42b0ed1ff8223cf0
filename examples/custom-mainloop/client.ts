// One client process: it submits a layer each time a frame is presented, the way an app paces
// itself on the compositor's vsync, and checks that it saw every frame in order.
import { connect } from 'pollux';
import { PRESENTED, SERVICE, SUBMIT, SUBMITS } from './shared.js';

const [socketPath, name = 'client'] = process.argv.slice(2);
if (socketPath === undefined) throw new Error('usage: client.ts <socket> <name>');

const client = await connect(socketPath, SERVICE); // an ordinary client on Node's loop
const frames: number[] = [];
const answers: Promise<Buffer>[] = [];
await new Promise<void>((resolve) => {
  client.on('event', (id, payload) => {
    // Frames keep coming after the last submit; this client has had its share by then.
    if (id !== PRESENTED || frames.length === SUBMITS) return;
    frames.push(payload.readUInt32LE(0));
    answers.push(client.request(SUBMIT, Buffer.from(`${name} layer ${frames.length}`)));
    if (frames.length === SUBMITS) resolve();
  });
});
const shownOn = (await Promise.all(answers)).map((answer) => answer.readUInt32LE(0));

// Events are never dropped or reordered: consecutive frames. Each layer shows on a later frame.
const inOrder = frames.every((n, i) => i === 0 || n === frames[i - 1]! + 1);
const later = shownOn.every((n, i) => n > frames[i]!);
console.log(
  `[${name}] ${SUBMITS} frames seen ${inOrder ? 'in order, no gaps' : 'OUT OF ORDER'}, ` +
    `${shownOn.length} layers accepted${later ? ', each for a later frame' : ' (for a PAST frame?!)'}`,
);
await client.close();
process.exitCode = inOrder && later ? 0 : 1;
