/*
 * Shared declarations of the pollux_sys addon: the one napi status-check macro,
 * the errno-to-JS-error helpers and argument parsing used by every concern.
 */
#ifndef POLLUX_SYS_H
#define POLLUX_SYS_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Every napi_* call goes through NAPI_CHECK. On failure it makes sure a JS
 * exception is pending (throwing an Error that names the failed call if the
 * runtime did not already throw) and then runs `on_fail`.
 */
#define NAPI_CHECK(env, call, on_fail)                                  \
  do {                                                                  \
    napi_status napi_check_status_ = (call);                            \
    if (napi_check_status_ != napi_ok) {                                \
      pollux_napi_failed((env), napi_check_status_, #call);             \
      on_fail;                                                          \
    }                                                                   \
  } while (0)

/* The common case: bail out of a napi_callback with the exception pending. */
#define NAPI_CALL(env, call) NAPI_CHECK(env, call, return NULL)

void pollux_napi_failed(napi_env env, napi_status status, const char* call);

/* Per-env state (the addon may be loaded by several worker threads). */
typedef struct {
  napi_ref sys_error;        /* the JS SysError constructor, set once by index.ts */
  napi_ref watcher_dispatch; /* the one function every FdWatcher's events go through */
} pollux_instance;

/*
 * Makes `*slot` a strong reference to the one argument of a napi_callback, a
 * function (else throws TypeError `message`), dropping the one it held.
 * Returns NULL; an exception is pending on failure.
 */
napi_value pollux_keep_function(napi_env env, napi_callback_info info, napi_ref* slot,
                                const char* message);

/* Throws a SysError for a failed syscall; `err` is a positive errno. Returns NULL. */
napi_value pollux_throw_errno(napi_env env, int err, const char* syscall);
/* Throws TypeError / RangeError with a fixed message. Return NULL. */
napi_value pollux_throw_type(napi_env env, const char* message);
napi_value pollux_throw_range(napi_env env, const char* message);
/* Throws TypeError "<name> must be <what>". Returns NULL. */
napi_value pollux_throw_expected(napi_env env, const char* name, const char* what);

/* Argument helpers: return 0 on success, -1 with a JS exception pending. */
int pollux_arg_int(napi_env env, napi_value value, const char* name,
                   int64_t min, int64_t max, int64_t* out);
int pollux_arg_fd(napi_env env, napi_value value, int* fd);
int pollux_arg_bool(napi_env env, napi_value value, const char* name, int* out);
/* A Uint8Array (or Buffer): its first byte (byteOffset applied) and length. */
int pollux_arg_bytes(napi_env env, napi_value value, const char* name,
                     uint8_t** data, size_t* length);
/* A window [offset, offset + length) of a Uint8Array, bounds-checked. */
int pollux_arg_window(napi_env env, napi_value buffer, napi_value offset,
                      napi_value length, uint8_t** data, size_t* size);

/* An Int32Array: its first element (byteOffset applied) and length. */
int pollux_arg_int32_array(napi_env env, napi_value value, const char* name,
                           int32_t** data, size_t* length);

/* CLOCK_MONOTONIC in milliseconds: a wait a signal interrupted resumes with the time left. */
int64_t pollux_now_ms(void);

/* Helpers to build the exports object. */
napi_value pollux_int32(napi_env env, int32_t value);
int pollux_export_fn(napi_env env, napi_value exports, const char* name,
                     napi_callback cb);
int pollux_export_int(napi_env env, napi_value exports, const char* name,
                      int32_t value);

/* Each concern adds its functions and constants to the exports object. */
int pollux_init_unix_socket(napi_env env, napi_value exports);
int pollux_init_io(napi_env env, napi_value exports);
int pollux_init_eventfd(napi_env env, napi_value exports);
int pollux_init_poll(napi_env env, napi_value exports);
int pollux_init_fd_watcher(napi_env env, napi_value exports);
int pollux_init_shared_memory(napi_env env, napi_value exports);
int pollux_init_epoll_set(napi_env env, napi_value exports);

#endif
