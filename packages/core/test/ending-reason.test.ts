// endingReason: the stackless IpcError a connection's ordinary end carries.
import { describe, expect, it } from 'vitest';
import { IpcError } from '../src/index.js';
import { endingReason } from '../src/errors.js';

describe('endingReason', () => {
  it('is an IpcError with the code and message, whose stack is only its first line', () => {
    const reason = endingReason('ESHUTDOWN', 'client closed the connection');
    expect(reason).toBeInstanceOf(IpcError);
    expect(reason).toMatchObject({ code: 'ESHUTDOWN', message: 'client closed the connection', name: 'IpcError' });
    expect(reason.stack).toBe('IpcError: client closed the connection');
  });

  it("leaves the process's stack trace limit as it found it, for every other error", () => {
    const before = Error.stackTraceLimit;
    Error.stackTraceLimit = 7;
    try {
      endingReason('ECONNABORTED', 'connection closed by the server');
      expect(Error.stackTraceLimit).toBe(7);
      expect(() => endingReason('not an errno' as 'EIO', 'bad')).toThrow(IpcError);
      expect(Error.stackTraceLimit).toBe(7);
    } finally {
      Error.stackTraceLimit = before;
    }
  });
});
