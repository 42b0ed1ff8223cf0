// memfd, seals, shared mappings and seqlocked copies, for read-only shared regions.
import { native } from './native.js';

/** `F_SEAL_SEAL`: no further seal may be added (nor any removed: seals never come off). */
export const F_SEAL_SEAL: number = native.F_SEAL_SEAL;
/** `F_SEAL_SHRINK`: the file may not shrink, so no mapping of it can ever fault with SIGBUS. */
export const F_SEAL_SHRINK: number = native.F_SEAL_SHRINK;
/** `F_SEAL_GROW`: the file may not grow. */
export const F_SEAL_GROW: number = native.F_SEAL_GROW;
/** `F_SEAL_WRITE`: nobody may write the file any more, through any fd or mapping; refused while a writable shared mapping exists. */
export const F_SEAL_WRITE: number = native.F_SEAL_WRITE;
/**
 * `F_SEAL_FUTURE_WRITE` (Linux 5.1): writable shared mappings made before the seal keep working,
 * while every later `write(2)`, writable `mmap` and hole punch fails with `EPERM`, through any fd,
 * for any user. The seal a single writer sets before it hands the fd to readers.
 */
export const F_SEAL_FUTURE_WRITE: number = native.F_SEAL_FUTURE_WRITE;

/**
 * Creates an anonymous memory file: `memfd_create(name, MFD_ALLOW_SEALING | MFD_CLOEXEC)`.
 *
 * The file starts empty: size it with `fs.ftruncateSync`, then {@link mmap} it. It lives until
 * its last fd is closed and its last mapping unmapped.
 *
 * @param name - shown in `/proc/<pid>/fd` as `memfd:<name>`; at most 249 bytes, for debugging only
 * @returns the new fd (read-write, close-on-exec), or `-errno`: `-EINVAL` (name too long),
 *   `-EMFILE`, `-ENFILE`, `-ENOMEM`
 * @throws TypeError if `name` is not a string or contains NUL
 */
export function memfdCreate(name: string): number {
  return native.memfdCreate(name);
}

/**
 * Adds seals to a memfd: `fcntl(F_ADD_SEALS)`. Seals only ever accumulate.
 *
 * @param fd - memfd created with sealing allowed
 * @param seals - mask of `F_SEAL_*` flags
 * @returns 0, or `-errno`: `-EPERM` (`F_SEAL_SEAL` is set), `-EBUSY` (`F_SEAL_WRITE` while a
 *   writable shared mapping exists), `-EINVAL` (not a memfd or shmem file), `-EBADF`
 * @throws RangeError if `seals` is not a non-negative integer
 */
export function addSeals(fd: number, seals: number): number {
  return native.addSeals(fd, seals);
}

/**
 * The seals of a memfd: `fcntl(F_GET_SEALS)`.
 *
 * @param fd - any fd
 * @returns the mask of `F_SEAL_*` flags (a memfd created without sealing allowed reports
 *   {@link F_SEAL_SEAL}), or `-errno`: `-EINVAL` (the file cannot carry seals: not a memfd), `-EBADF`
 */
export function getSeals(fd: number): number {
  return native.getSeals(fd);
}

/**
 * Maps the first `length` bytes of `fd` shared (`mmap(MAP_SHARED)`), as an ArrayBuffer over the
 * mapping itself: no copy, and what another process writes shows through.
 *
 * Unmap it with {@link unmap}, which detaches the ArrayBuffer first, so no view anyone kept can
 * reach the memory afterwards. One never unmapped is unmapped once the garbage collector frees it.
 *
 * A read-only mapping (`writable` false) gives an ArrayBuffer that JavaScript can still write to:
 * such a write faults and SIGSEGV kills the process. Never wrap one in a view that code you do not
 * control may write; pass it only to {@link seqlockRead} and {@link unmap}.
 * (`@pollux/shared-region` keeps it private.) Touching bytes past the file's end faults with
 * SIGBUS: map only a file sealed against shrinking ({@link F_SEAL_SHRINK}) and no larger than it.
 *
 * @param fd - file to map (a memfd, typically); the mapping stays valid after `fd` is closed
 * @param length - bytes to map from offset 0, at least 1
 * @param writable - `PROT_READ | PROT_WRITE` when true, `PROT_READ` when false
 * @returns the ArrayBuffer, or `-errno`: `-EPERM` (a writable mapping of a file sealed with
 *   {@link F_SEAL_FUTURE_WRITE} or {@link F_SEAL_WRITE}), `-EACCES` (fd not open for reading, or
 *   for writing when `writable`), `-ENODEV`, `-ENOMEM`, `-EBADF`
 * @throws RangeError if `length` is not an integer in [1, 2^40]
 */
export function mmap(fd: number, length: number, writable: boolean): ArrayBuffer | number {
  return native.mmap(fd, length, writable);
}

/**
 * Unmaps a mapping made by {@link mmap}: detaches the ArrayBuffer (every view of it then has
 * length 0), then `munmap`. Idempotent: an already unmapped (or otherwise detached) buffer
 * returns 0 and nothing happens.
 *
 * @param mapping - an ArrayBuffer {@link mmap} returned
 * @returns 0, or `-errno` from `munmap` (`-EINVAL`; the buffer is detached either way)
 * @throws TypeError if `mapping` is not an ArrayBuffer from {@link mmap}
 */
export function unmap(mapping: ArrayBuffer): number {
  return native.unmap(mapping);
}

/**
 * Bytes a seqlocked record of `size` bytes takes in a mapping: an 8-byte sequence, then two
 * copies of the record, each padded to 8 bytes.
 *
 * @param size - record size in bytes
 * @returns the record's footprint in bytes
 */
export function seqlockFootprint(size: number): number {
  return 8 + 2 * (Math.ceil(size / 8) * 8);
}

/**
 * Writes `source` as the new value of the seqlocked record at `offset` of `mapping` (a latch: two
 * copies and a sequence whose low bit sends readers to the copy not being written).
 *
 * Readers in other processes ({@link seqlockRead}) never wait for it and never see a mix of two
 * values; a writer killed halfway leaves them the last complete value. One writer per record: two
 * writing the same record at once corrupt it. The record takes {@link seqlockFootprint}`(source.length)`
 * bytes; zero-filled memory is a record whose value is all zeros, written 0 times.
 *
 * @param mapping - writable ArrayBuffer from {@link mmap}
 * @param offset - where the record starts; 8-byte aligned
 * @param source - the new value; every write and read of the record uses the same size
 * @returns how many writes the record has had, this one included
 * @throws TypeError if `mapping` is not an ArrayBuffer or `source` not a Uint8Array
 * @throws RangeError if the record does not fit at `offset` (or the mapping is unmapped), or
 *   `offset` is not 8-byte aligned
 */
export function seqlockWrite(mapping: ArrayBuffer, offset: number, source: Uint8Array): number {
  return native.seqlockWrite(mapping, offset, source);
}

/**
 * Copies a consistent snapshot of the seqlocked record at `offset` of `mapping` into `target`
 * (see {@link seqlockWrite}): a value the writer completed, never a mix of two.
 *
 * Takes no lock and never waits for the writer: a copy the writer raced with is retried, up to
 * `attempts` times in all.
 *
 * @param mapping - ArrayBuffer from {@link mmap}, read-only or not
 * @param offset - where the record starts; 8-byte aligned
 * @param target - receives the record; its length is the record's size
 * @param attempts - copies to try before giving up, at least 1
 * @returns how many writes the record had had at the snapshot (0: never written), or `-EAGAIN`
 *   when every attempt raced with a write (`target` then holds no consistent value)
 * @throws TypeError if `mapping` is not an ArrayBuffer or `target` not a Uint8Array
 * @throws RangeError if the record does not fit at `offset` (or the mapping is unmapped),
 *   `offset` is not 8-byte aligned, or `attempts` is not a positive integer
 */
export function seqlockRead(mapping: ArrayBuffer, offset: number, target: Uint8Array, attempts: number): number {
  return native.seqlockRead(mapping, offset, target, attempts);
}
