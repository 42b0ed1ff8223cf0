// One client of examples/shared-region/main.ts: maps the pose region it inherited as fd 3
// read-only, reads a snapshot every frame at 60 Hz for a second, checks each is whole, and shows
// that the region cannot be written from here.
import { fstatSync } from 'node:fs';
import { SharedRegionView } from '@pollux/shared-region';
import { close, mmap } from '@pollux/sys';
import { POSE_SIZE, isWhole } from './pose.js';

const REGION_FD = 3;
const FRAMES = 60;
const name = process.argv[2] ?? 'client';

// What a client that tries to write gets: the kernel refuses a writable mapping (EPERM).
const writable = mmap(REGION_FD, fstatSync(REGION_FD).size, true);
console.log(
  `[${name}] a writable mapping of the region: ${typeof writable === 'number' ? `refused, ${writable} (-EPERM)` : 'granted?!'}`,
);

const view = SharedRegionView.open(REGION_FD, { size: POSE_SIZE });
close(REGION_FD); // the mapping needs no fd
const pose = new Float64Array(POSE_SIZE / 8);
const poseBytes = new Uint8Array(pose.buffer);
let frames = 0;
let torn = 0;
const first = view.read(poseBytes);
let last = first;
const frame = setInterval(() => {
  last = view.read(poseBytes);
  if (!isWhole(pose)) torn++;
  if (++frames < FRAMES) return;
  clearInterval(frame);
  view.close();
  const [, x, y] = pose;
  console.log(
    `[${name}] ${frames} frames, ${torn} torn, ${last - first} server updates between the first and last; ` +
      `last pose at (${x!.toFixed(3)}, ${y!.toFixed(3)})`,
  );
  process.exitCode = torn === 0 ? 0 : 1;
}, 1000 / 60);
