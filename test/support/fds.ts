import { readdirSync } from 'node:fs';

/** Number of fds this process holds open, from `/proc/self/fd` (the listing's own fd excluded). */
export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length - 1;
}
