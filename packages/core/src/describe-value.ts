// How error messages name a bad value (shared by every layer).
/**
 * Names a value the way an error message about a bad argument needs it: its type and its value,
 * so `'0'` (a string) is not mistaken for `0` (a number).
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return `the ${typeof value} ${String(value)}`;
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return `the symbol ${value.description ?? ''}`.trimEnd();
  const className = (value as { constructor?: { name?: unknown } }).constructor?.name;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return typeof className === 'string' && className !== 'Object' ? `a ${className}` : 'an object';
}

/**
 * `String(value)` for a message, even for a value that refuses it (an object without a
 * prototype, a throwing `toString`): a peer's or a handler's odd value never becomes a crash.
 */
export function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return describeValue(value);
  }
}

/** `got …` for an error message, with a hint when a number came as a string (from argv, env, JSON). */
export function gotValue(value: unknown): string {
  const numeric = typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value));
  return `got ${describeValue(value)}${numeric ? `: pass the number ${Number(value)}, not a string` : ''}`;
}
