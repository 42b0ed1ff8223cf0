/** Prints one JSON line for the test that spawned this fixture. */
export function report(type: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ type, ...fields })}\n`);
}
