// Checks of the options of the bridge and the remote client, each failing with EINVAL.
import { IpcError, MAX_TIMER_DELAY } from '@pollux/core';

/** A list of distinct command or event ids, each an integer in 0–65535. */
export function idList(what: string, values: unknown): number[] {
  if (!Array.isArray(values)) throw new IpcError('EINVAL', `${what} must be an array of ids, got ${typeof values}`);
  const seen = new Set<number>();
  for (const value of values as unknown[]) {
    if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 0xffff)
      throw new IpcError('EINVAL', `${what} must be integers in 0–65535, got ${JSON.stringify(value)}`);
    if (seen.has(value as number)) throw new IpcError('EINVAL', `${what} list ${String(value)} twice`);
    seen.add(value as number);
  }
  return [...seen];
}

/** A timeout in ms that a timer can hold. */
export function timeoutOption(name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0) || value > MAX_TIMER_DELAY)
    throw new IpcError('EINVAL', `${name} must be a number of ms in 1–${MAX_TIMER_DELAY}, got ${String(value)}`);
  return value;
}
