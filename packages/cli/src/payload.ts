// The request payload of `pollux call`: UTF-8 text, hex digits, or a file's bytes.
import { readFileSync } from 'node:fs';
import { CommandFailure, ExitCode } from './exit-codes.js';

/** Where `pollux call` takes its request payload from. */
export interface PayloadSource {
  readonly text: string | undefined;
  readonly hex: boolean;
  readonly file: string | undefined;
}

/**
 * The request payload: UTF-8 text, hex digits, or a file's bytes (`-`: stdin).
 *
 * @throws {@link CommandFailure} for bad hex, a payload given twice, or an unreadable file.
 */
export function readPayload({ text, hex, file }: PayloadSource): Buffer {
  if (file !== undefined) {
    if (text !== undefined || hex)
      throw new CommandFailure(ExitCode.Usage, 'give the payload as an argument or with --file, not both');
    try {
      return readFileSync(file === '-' ? 0 : file);
    } catch (error) {
      throw new CommandFailure(ExitCode.NoInput, `cannot read payload file ${file}: ${(error as Error).message}`);
    }
  }
  if (text === undefined) return Buffer.alloc(0);
  if (!hex) return Buffer.from(text, 'utf8');
  const digits = text.replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(digits))
    throw new CommandFailure(ExitCode.Usage, `payload is not hex bytes: ${JSON.stringify(text)}`);
  return Buffer.from(digits, 'hex');
}
