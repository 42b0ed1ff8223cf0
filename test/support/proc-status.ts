import { readFileSync } from 'node:fs';

/** A `kB` field of `/proc/<pid>/status` (VmRSS, VmHWM…), in bytes. */
export function procStatusBytes(pid: number, field: string): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith(`${field}:`));
  if (line === undefined) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number.parseInt(line.slice(field.length + 1), 10) * 1024;
}
