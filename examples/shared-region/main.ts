// A server that publishes a head pose in a read-only shared region and updates it at 1 kHz, and
// two client processes that read consistent snapshots of it at 60 Hz (Monado's device data).
// The clients inherit the region's fd (fd 3): the hand-over by name over a pollux connection
// (`server.publishRegion` / `client.openRegion`) comes with fd passing in the engine.
//
//   node_modules/.bin/tsx examples/shared-region/main.ts
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SharedRegion } from '@pollux/shared-region';
import { POSE_SIZE, poseAt } from './pose.js';

const CLIENTS = 2;
const region = SharedRegion.create({ name: 'head-pose', size: POSE_SIZE });
const pose = new Float64Array(POSE_SIZE / 8);
const poseBytes = new Uint8Array(pose.buffer);
function publish(): void {
  poseAt(performance.now() + performance.timeOrigin, pose);
  region.write(poseBytes);
}
publish();
// Node's shortest timer: about 1 kHz.
const ticker = setInterval(publish, 1);

const clientFile = fileURLToPath(new URL('./client.ts', import.meta.url));
const exits = Array.from({ length: CLIENTS }, (_, i) => {
  const child = spawn(process.execPath, ['--import', 'tsx', clientFile, `client ${i + 1}`], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    // The child's fd 3 is the region: its own copy of the fd.
    stdio: ['ignore', 'inherit', 'inherit', region.fd],
  });
  return new Promise<number | null>((resolve) => child.on('exit', resolve));
});
console.log(`[server] publishing '${region.name}' (${region.size} bytes) at 1 kHz to ${CLIENTS} clients`);

const codes = await Promise.all(exits);
clearInterval(ticker);
const written = region.write(poseBytes);
region.close();
console.log(`[server] wrote ${written} poses; clients exited with ${codes.join(', ')}`);
if (codes.some((code) => code !== 0)) process.exitCode = 1;
