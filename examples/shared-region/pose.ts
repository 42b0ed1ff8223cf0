// The record the example's server publishes: a head pose, 64 bytes (eight doubles): the time it
// was taken, a position on a circle and the orientation facing along it, all derived from the
// time, so a reader can tell a whole pose from a mix of two.
export const POSE_SIZE = 64;

/** Half a turn per second around the origin. */
const TURNS_PER_MS = 0.5 / 1000;

/** The pose at time `ms` (performance.now() of the server), into `pose` (8 doubles). */
export function poseAt(ms: number, pose: Float64Array): void {
  const angle = 2 * Math.PI * TURNS_PER_MS * ms;
  // time, position (x, y, z), orientation quaternion (x, y, z, w): a rotation of `angle` about z
  pose.set([ms, Math.cos(angle), Math.sin(angle), 1.7, 0, 0, Math.sin(angle / 2), Math.cos(angle / 2)]);
}

/** Whether `pose` is whole: every field is the one its time implies. */
export function isWhole(pose: Float64Array): boolean {
  const expected = new Float64Array(8);
  poseAt(pose[0]!, expected);
  return expected.every((value, i) => value === pose[i]);
}
