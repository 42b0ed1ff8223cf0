/*
 * Shared memory: memfd_create, seals, shared mappings as external
 * ArrayBuffers with an explicit unmap, and the seqlock copies that give a
 * reader in another process a consistent snapshot of a record its writer
 * keeps updating. Every syscall failure is returned as -errno; only malformed
 * arguments throw (TypeError / RangeError).
 */
#include "pollux_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_ARGS 4

#define GET_ARGS(env, info, n, argv)                                      \
  size_t argc_ = (n);                                                     \
  napi_value argv[MAX_ARGS];                                              \
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc_, argv, NULL, NULL))

/* memfd names are at most 249 bytes (NAME_MAX minus the "memfd:" prefix). */
#define MEMFD_NAME_MAX 249
/* The largest mapping a JS number and an ArrayBuffer both describe exactly. */
#define MAPPING_MAX ((int64_t)1 << 40)
/* Bytes before a record's two copies: the 64-bit sequence. */
#define SEQLOCK_HEADER 8

/*
 * One mapping. Two owners release it: the ArrayBuffer's backing store (its
 * finalizer runs once the buffer is collected or detached) and the wrap on the
 * ArrayBuffer object (so unmap can find it). Whichever runs last frees it.
 */
typedef struct {
  void* addr;
  size_t length;
  int owners;
} mapping;

static void mapping_release(mapping* m) {
  if (--m->owners == 0) free(m);
}

static void mapping_finalize_memory(napi_env env, void* data, void* hint) {
  (void)env;
  (void)data;
  mapping* m = hint;
  if (m->addr != NULL) munmap(m->addr, m->length);
  m->addr = NULL;
  mapping_release(m);
}

static void mapping_finalize_wrap(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  mapping_release(data);
}

/* A fd as a JS number; closes it if even that fails, so no fd outlives a throw. */
static napi_value new_fd_value(napi_env env, int fd) {
  napi_value value = pollux_int32(env, fd);
  if (value == NULL) close(fd);
  return value;
}

static napi_value memfd_create_js(napi_env env, napi_callback_info info) {
  GET_ARGS(env, info, 1, argv);
  char name[MEMFD_NAME_MAX + 2];
  size_t length;
  napi_status status = napi_get_value_string_utf8(env, argv[0], NULL, 0, &length);
  if (status == napi_string_expected) return pollux_throw_expected(env, "name", "a string");
  NAPI_CALL(env, status);
  if (length > MEMFD_NAME_MAX) return pollux_int32(env, -EINVAL);
  NAPI_CALL(env, napi_get_value_string_utf8(env, argv[0], name, sizeof(name), &length));
  if (memchr(name, 0, length) != NULL)
    return pollux_throw_type(env, "a memfd name must not contain NUL bytes");
  int fd = memfd_create(name, MFD_ALLOW_SEALING | MFD_CLOEXEC);
  if (fd < 0) return pollux_int32(env, -errno);
  return new_fd_value(env, fd);
}

static napi_value add_seals_js(napi_env env, napi_callback_info info) {
  GET_ARGS(env, info, 2, argv);
  int fd;
  int64_t seals;
  if (pollux_arg_fd(env, argv[0], &fd) != 0 ||
      pollux_arg_int(env, argv[1], "seals", 0, INT32_MAX, &seals) != 0)
    return NULL;
  return pollux_int32(env, fcntl(fd, F_ADD_SEALS, (int)seals) != 0 ? -errno : 0);
}

static napi_value get_seals_js(napi_env env, napi_callback_info info) {
  GET_ARGS(env, info, 1, argv);
  int fd, seals;
  if (pollux_arg_fd(env, argv[0], &fd) != 0) return NULL;
  seals = fcntl(fd, F_GET_SEALS);
  return pollux_int32(env, seals < 0 ? -errno : seals);
}

static napi_value mmap_js(napi_env env, napi_callback_info info) {
  GET_ARGS(env, info, 3, argv);
  int fd, writable;
  int64_t length;
  napi_value buffer;
  if (pollux_arg_fd(env, argv[0], &fd) != 0 ||
      pollux_arg_int(env, argv[1], "length", 1, MAPPING_MAX, &length) != 0 ||
      pollux_arg_bool(env, argv[2], "writable", &writable) != 0)
    return NULL;
  mapping* m = malloc(sizeof(*m));
  if (m == NULL) return pollux_int32(env, -ENOMEM);
  m->length = (size_t)length;
  m->owners = 1;
  m->addr = mmap(NULL, m->length, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
  if (m->addr == MAP_FAILED) {
    int err = errno;
    free(m);
    return pollux_int32(env, -err);
  }
  /* From here the backing store's finalizer owns the mapping, even on failure. */
  NAPI_CHECK(env,
             napi_create_external_arraybuffer(env, m->addr, m->length, mapping_finalize_memory,
                                              m, &buffer),
             munmap(m->addr, m->length);
             free(m); return NULL);
  m->owners++;
  NAPI_CHECK(env, napi_wrap(env, buffer, m, mapping_finalize_wrap, NULL, NULL),
             m->owners--; return NULL);
  return buffer;
}

/*
 * unmap(buffer): detaches the ArrayBuffer first, so that no view of it (a
 * Uint8Array someone kept) can reach the memory, then unmaps. A detached
 * buffer reads as already unmapped: its wrap is never looked at again.
 */
static napi_value unmap_js(napi_env env, napi_callback_info info) {
  GET_ARGS(env, info, 1, argv);
  bool is_buffer, detached;
  mapping* m;
  NAPI_CALL(env, napi_is_arraybuffer(env, argv[0], &is_buffer));
  if (!is_buffer) return pollux_throw_expected(env, "mapping", "an ArrayBuffer from mmap");
  NAPI_CALL(env, napi_is_detached_arraybuffer(env, argv[0], &detached));
  if (detached) return pollux_int32(env, 0);
  if (napi_unwrap(env, argv[0], (void**)&m) != napi_ok) {
    bool pending;
    napi_value ignored;
    NAPI_CALL(env, napi_is_exception_pending(env, &pending));
    if (pending) NAPI_CALL(env, napi_get_and_clear_last_exception(env, &ignored));
    return pollux_throw_expected(env, "mapping", "an ArrayBuffer from mmap");
  }
  NAPI_CALL(env, napi_detach_arraybuffer(env, argv[0]));
  int rc = m->addr != NULL ? munmap(m->addr, m->length) : 0;
  int err = errno;
  m->addr = NULL;
  return pollux_int32(env, rc != 0 ? -err : 0);
}

/*
 * A record's bytes at `offset` of a mapping: a 64-bit sequence, then two
 * copies of `size` bytes, each padded to 8. Fills the sequence pointer and the
 * two copies; -1 with a JS exception pending when the record does not fit.
 */
static int seqlock_record(napi_env env, napi_value buffer, napi_value offset_value,
                          size_t size, uint64_t** sequence, uint8_t** copies) {
  void* base;
  size_t length;
  int64_t offset;
  bool is_buffer;
  NAPI_CHECK(env, napi_is_arraybuffer(env, buffer, &is_buffer), return -1);
  if (!is_buffer) {
    pollux_throw_expected(env, "mapping", "an ArrayBuffer from mmap");
    return -1;
  }
  NAPI_CHECK(env, napi_get_arraybuffer_info(env, buffer, &base, &length), return -1);
  size_t need = SEQLOCK_HEADER + 2 * ((size + 7) & ~(size_t)7);
  if (length < need) {
    char message[160];
    snprintf(message, sizeof(message),
             "a record of %zu bytes needs %zu bytes of mapping, which has %zu (unmapped?)",
             size, need, length);
    pollux_throw_range(env, message);
    return -1;
  }
  if (pollux_arg_int(env, offset_value, "offset", 0, (int64_t)(length - need), &offset) != 0)
    return -1;
  /* The sequence is a 64-bit atomic: it must be naturally aligned. */
  if (((uintptr_t)base + (uintptr_t)offset) % 8 != 0) {
    pollux_throw_range(env, "offset must put the record on an 8-byte boundary");
    return -1;
  }
  *sequence = (uint64_t*)((uint8_t*)base + offset);
  *copies = (uint8_t*)base + offset + SEQLOCK_HEADER;
  return 0;
}

/*
 * The writer side of a latch (Linux's raw_write_seqcount_latch): the
 * sequence's low bit tells readers which of the two copies to read, and the
 * writer only ever writes the other one. A reader therefore never waits for
 * the writer, and a writer killed mid-copy leaves the copy readers are sent to
 * intact: they keep reading the last complete record. One writer per record.
 */
static napi_value seqlock_write_js(napi_env env, napi_callback_info info) {
  GET_ARGS(env, info, 3, argv);
  uint8_t *source, *copies;
  size_t size;
  uint64_t* sequence;
  if (pollux_arg_bytes(env, argv[2], "source", &source, &size) != 0 ||
      seqlock_record(env, argv[0], argv[1], size, &sequence, &copies) != 0)
    return NULL;
  size_t stride = (size + 7) & ~(size_t)7;
  uint64_t seq = __atomic_load_n(sequence, __ATOMIC_RELAXED);
  for (int step = 1; step <= 2; step++) {
    uint64_t next = seq + (uint64_t)step;
    /* Release: the copy readers are sent to away from is complete before they go. */
    __atomic_store_n(sequence, next, __ATOMIC_RELEASE);
    /* And the move is visible before this copy changes under them (Boehm's seqlock writer). */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(copies + ((next & 1) ^ 1) * stride, source, size);
  }
  /* Completed writes: two sequence steps each. */
  napi_value count;
  NAPI_CALL(env, napi_create_double(env, (double)((seq + 2) >> 1), &count));
  return count;
}

/*
 * The reader side: read the sequence, copy the copy it points at, and keep
 * the result only if the sequence did not move meanwhile (a plain memcpy may
 * race with the writer; the check throws away any copy that did). Gives up
 * with -EAGAIN after `attempts` tries, which takes a writer that laps the
 * reader every time.
 */
static napi_value seqlock_read_js(napi_env env, napi_callback_info info) {
  GET_ARGS(env, info, 4, argv);
  uint8_t *target, *copies;
  size_t size;
  uint64_t* sequence;
  int64_t attempts;
  napi_value result;
  if (pollux_arg_bytes(env, argv[2], "target", &target, &size) != 0 ||
      pollux_arg_int(env, argv[3], "attempts", 1, INT32_MAX, &attempts) != 0 ||
      seqlock_record(env, argv[0], argv[1], size, &sequence, &copies) != 0)
    return NULL;
  size_t stride = (size + 7) & ~(size_t)7;
  for (int64_t i = 0; i < attempts; i++) {
    uint64_t before = __atomic_load_n(sequence, __ATOMIC_ACQUIRE);
    memcpy(target, copies + (before & 1) * stride, size);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(sequence, __ATOMIC_RELAXED) == before) {
      NAPI_CALL(env, napi_create_double(env, (double)(before >> 1), &result));
      return result;
    }
  }
  return pollux_int32(env, -EAGAIN);
}

int pollux_init_shared_memory(napi_env env, napi_value exports) {
  if (pollux_export_fn(env, exports, "memfdCreate", memfd_create_js) != 0 ||
      pollux_export_fn(env, exports, "addSeals", add_seals_js) != 0 ||
      pollux_export_fn(env, exports, "getSeals", get_seals_js) != 0 ||
      pollux_export_fn(env, exports, "mmap", mmap_js) != 0 ||
      pollux_export_fn(env, exports, "unmap", unmap_js) != 0 ||
      pollux_export_fn(env, exports, "seqlockWrite", seqlock_write_js) != 0 ||
      pollux_export_fn(env, exports, "seqlockRead", seqlock_read_js) != 0 ||
      pollux_export_int(env, exports, "F_SEAL_SEAL", F_SEAL_SEAL) != 0 ||
      pollux_export_int(env, exports, "F_SEAL_SHRINK", F_SEAL_SHRINK) != 0 ||
      pollux_export_int(env, exports, "F_SEAL_GROW", F_SEAL_GROW) != 0 ||
      pollux_export_int(env, exports, "F_SEAL_WRITE", F_SEAL_WRITE) != 0 ||
      pollux_export_int(env, exports, "F_SEAL_FUTURE_WRITE", F_SEAL_FUTURE_WRITE) != 0)
    return -1;
  return 0;
}
