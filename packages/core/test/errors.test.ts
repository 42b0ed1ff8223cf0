import { describe, expect, it } from 'vitest';
import { errnoCode, errnoName, IpcError, isErrnoCode } from '../src/errors.js';

/** What Node.js throws for a bad argument, e.g. `Buffer.from(undefined)`. */
function nodeArgumentError(): Error {
  try {
    Buffer.from(undefined as unknown as string);
  } catch (error) {
    return error as Error;
  }
  throw new Error('Buffer.from(undefined) did not throw');
}

describe('IpcError codes', () => {
  it('from() keeps an errno name but replaces a Node.js ERR_* code with the fallback, keeping the original as cause', () => {
    const original = nodeArgumentError();
    expect((original as { code?: string }).code).toBe('ERR_INVALID_ARG_TYPE');
    const wrapped = IpcError.from(original, 'EREMOTEIO');
    expect(wrapped).toMatchObject({ code: 'EREMOTEIO', message: original.message });
    expect(wrapped.cause).toBe(original);

    const system = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    expect(IpcError.from(system, 'EIO')).toMatchObject({ code: 'ENOSPC', cause: system });
  });

  it('accepts errno names only, as code or through errnoCode(), and says what to do with anything else', () => {
    for (const good of ['EAGAIN', 'E2BIG', 'EDQUOT', errnoName(-28)]) expect(isErrnoCode(good)).toBe(true);
    for (const bad of ['ERR_INVALID_ARG_TYPE', 'E_', 'EAGAIN ', 'eagain', 'ABORT_ERR', '', 42, undefined])
      expect(isErrnoCode(bad)).toBe(false);
    expect(errnoCode('EDQUOT')).toBe('EDQUOT');
    expect(() => errnoCode('ERR_INVALID_ARG_TYPE')).toThrowError(
      expect.objectContaining({
        code: 'EINVAL',
        message: expect.stringContaining('got the string "ERR_INVALID_ARG_TYPE": wrap other errors with IpcError.from'),
      }),
    );
    // Only untyped code can get here; the error must still never carry a code that is not an errno name.
    expect(() => new IpcError('ERR_SOMETHING' as never, 'bad')).toThrowError(
      expect.objectContaining({ code: 'EINVAL' }),
    );
  });
});
