/**
 * What the vscode-jsonrpc server and client share: method names, and how many notifications may
 * be written before waiting for them. JSON-RPC carries text, so bytes travel as base64 strings.
 */
import type { MessageConnection } from 'vscode-jsonrpc/node';

export const ECHO = 'echo';
export const PUSH = 'push';
export const EVENT = 'event';

/** Notifications queued before awaiting the last: the writer has no drain signal of its own. */
const WINDOW = 256;

/**
 * Sends `count` notifications. `sendNotification` resolves once its message was written, so
 * awaiting every WINDOW-th one bounds what the writer buffers without a round of waiting per
 * message.
 */
export async function sendNotifications(
  connection: MessageConnection,
  method: string,
  param: string,
  count: number,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const written = connection.sendNotification(method, param);
    if (i % WINDOW === WINDOW - 1) await written;
  }
}
