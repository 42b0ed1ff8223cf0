/*
 * FdWatcher: a uv_poll_t on Node's own loop, so a raw fd gets readiness
 * callbacks without libuv's stream layer in between.
 *
 * Lifecycle (libuv's): init -> start/stop (any number of times) -> close ->
 * close callback frees the native struct. The JS object is napi_wrap'ed until
 * close(); if it is collected without close() the finalizer closes the handle.
 *
 * References: one per watcher, napi_wrap's own. It is weak, and strong only
 * while the poll is active, so a started watcher stays alive like any libuv
 * handle and an idle one can be collected. The callback is not referenced
 * from here at all: every watcher's events go through one function per env
 * (watcherDispatchTo), which finds the watcher's callback on the watcher.
 * A connection's watcher so costs one reference, not three, and a callback
 * that closes over its watcher forms no uncollectable cycle.
 */
#include "pollux_sys.h"

#include <errno.h>
#include <stdlib.h>
#include <uv.h>

#define WATCH_ALL (UV_READABLE | UV_WRITABLE | UV_DISCONNECT | UV_PRIORITIZED)

typedef struct {
  uv_poll_t handle;
  napi_env env;
  napi_ref self; /* napi_wrap's reference: deleted by destroy(), on close or in its finalizer */
  napi_async_context async;
  int started;
} fd_watcher;

static void on_close(uv_handle_t* handle) { free(handle->data); }

/* Releases the JS side and closes the handle; on_close frees the struct. */
static void destroy(napi_env env, fd_watcher* w) {
  /* No uv_poll_stop: uv_close stops the poll itself, and each stop costs an epoll_ctl. */
  w->started = 0;
  /* Teardown paths: nothing useful to do if these fail, and no JS to tell. */
  if (w->self != NULL) napi_delete_reference(env, w->self);
  if (w->async != NULL) napi_async_destroy(env, w->async);
  w->self = NULL;
  w->async = NULL;
  uv_close((uv_handle_t*)&w->handle, on_close);
}

static void finalize(napi_env env, void* data, void* hint) {
  (void)hint;
  destroy(env, data);
}

/* Hands an exception pending after a callback to process 'uncaughtException'. */
static void report_pending(napi_env env) {
  bool pending = false;
  napi_value error;
  if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) return;
  if (napi_get_and_clear_last_exception(env, &error) != napi_ok) return;
  napi_fatal_exception(env, error);
}

static void on_poll(uv_poll_t* handle, int status, int events) {
  fd_watcher* w = handle->data;
  napi_env env = w->env;
  napi_handle_scope scope;
  pollux_instance* inst = NULL;
  napi_value self = NULL, dispatch = NULL, argv[2];
  /* Belt and braces: libuv already drops events fetched before a stop. */
  if (!w->started) return;
  /* Without a scope nothing, not even an error, can be created. */
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  NAPI_CHECK(env, napi_get_reference_value(env, w->self, &self), goto out);
  NAPI_CHECK(env, napi_get_instance_data(env, (void**)&inst), goto out);
  if (inst->watcher_dispatch != NULL)
    NAPI_CHECK(env, napi_get_reference_value(env, inst->watcher_dispatch, &dispatch), goto out);
  if (status < 0) {
    /* On POLLERR libuv stops the handle itself and reports UV_EBADF. */
    w->started = 0;
    NAPI_CHECK(env, napi_reference_unref(env, w->self, NULL), goto out);
  }
  if (self == NULL || dispatch == NULL) goto out;
  NAPI_CHECK(env, napi_create_int32(env, status, &argv[0]), goto out);
  NAPI_CHECK(env, napi_create_int32(env, events, &argv[1]), goto out);
  /* `w` may be closed (not yet freed) once this returns: do not touch it. */
  NAPI_CHECK(env, napi_make_callback(env, w->async, self, dispatch, 2, argv, NULL),
             goto out);
out:
  report_pending(env);
  napi_close_handle_scope(env, scope);
}

/* The watcher behind `self`, or NULL once closed (no exception pending). */
static int unwrap(napi_env env, napi_value self, fd_watcher** w) {
  void* data = NULL;
  napi_status status = napi_unwrap(env, self, &data);
  if (status == napi_invalid_arg) {
    *w = NULL;
    return 0;
  }
  NAPI_CHECK(env, status, return -1);
  *w = data;
  return 0;
}

#define GET_WATCHER(env, info, n, argv, w)                                \
  size_t argc_ = (n);                                                     \
  napi_value argv[3];                                                     \
  fd_watcher* w;                                                          \
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc_, argv, NULL, NULL));  \
  if (unwrap(env, argv[0], &w) != 0) return NULL

/* watcherDispatchTo(fn): every watcher's events become fn.call(watcher, status, events). */
static napi_value watcher_dispatch_to(napi_env env, napi_callback_info info) {
  pollux_instance* inst;
  NAPI_CALL(env, napi_get_instance_data(env, (void**)&inst));
  return pollux_keep_function(env, info, &inst->watcher_dispatch, "dispatch must be a function");
}

/* watcherInit(self, fd) */
static napi_value watcher_init(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], name;
  uv_loop_t* loop;
  pollux_instance* inst;
  int fd, err;
  fd_watcher* w;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (pollux_arg_fd(env, argv[1], &fd) != 0) return NULL;
  /* Without it every event would be dropped, and a level-triggered fd spins the loop. */
  NAPI_CALL(env, napi_get_instance_data(env, (void**)&inst));
  if (inst->watcher_dispatch == NULL)
    return pollux_throw_type(env, "watcherDispatchTo must be called before watcherInit");
  NAPI_CALL(env, napi_get_uv_event_loop(env, &loop));
  w = calloc(1, sizeof(*w));
  if (w == NULL) return pollux_throw_errno(env, ENOMEM, "uv_poll_init");
  /* Not uv_poll_init_socket: on Unix it is the same, and fds need not be
   * sockets (eventfd, pipes). Note uv_poll_init sets O_NONBLOCK on fd. */
  err = uv_poll_init(loop, &w->handle, fd);
  if (err != 0) {
    free(w);
    return pollux_throw_errno(env, -err, "uv_poll_init");
  }
  w->handle.data = w;
  w->env = env;
  NAPI_CHECK(env, napi_create_string_utf8(env, "pollux.FdWatcher", NAPI_AUTO_LENGTH, &name),
             goto fail);
  NAPI_CHECK(env, napi_async_init(env, argv[0], name, &w->async), goto fail);
  /* Last: once wrapped, the finalizer owns the struct. */
  NAPI_CHECK(env, napi_wrap(env, argv[0], w, finalize, NULL, &w->self), goto fail);
  return NULL;
fail:
  destroy(env, w);
  return NULL;
}

/*
 * uv_poll_init refuses an fd another *active* poll handle watches, but
 * uv_poll_start does not check: it silently steals the fd's slot and the
 * other handle starves. Check the loop's fd table (uv-unix.h fields) first.
 */
static int fd_taken(fd_watcher* w) {
  uv_loop_t* loop = w->handle.loop;
  int fd = w->handle.io_watcher.fd;
  return fd >= 0 && (unsigned)fd < loop->nwatchers && loop->watchers[fd] != NULL &&
         loop->watchers[fd] != &w->handle.io_watcher;
}

/* watcherStart(self, events) */
static napi_value watcher_start(napi_env env, napi_callback_info info) {
  GET_WATCHER(env, info, 2, argv, w);
  int64_t events;
  int err;
  if (pollux_arg_int(env, argv[1], "events", 0, WATCH_ALL, &events) != 0) return NULL;
  /* libuv asserts on unknown bits; reject them here instead. */
  if ((events & ~(int64_t)WATCH_ALL) != 0)
    return pollux_throw_range(env, "events must be a mask of WATCH_* flags");
  if (w == NULL) return pollux_throw_errno(env, EBADF, "uv_poll_start");
  if (!w->started && events != 0 && fd_taken(w))
    return pollux_throw_errno(env, EEXIST, "uv_poll_start");
  err = uv_poll_start(&w->handle, (int)events, on_poll);
  if (err != 0) return pollux_throw_errno(env, -err, "uv_poll_start");
  /* uv_poll_start with no events is a stop. */
  int active = events != 0;
  if (active != w->started) {
    w->started = active;
    if (active) NAPI_CALL(env, napi_reference_ref(env, w->self, NULL));
    else NAPI_CALL(env, napi_reference_unref(env, w->self, NULL));
  }
  return NULL;
}

/* watcherStop(self) */
static napi_value watcher_stop(napi_env env, napi_callback_info info) {
  GET_WATCHER(env, info, 1, argv, w);
  if (w == NULL || !w->started) return NULL;
  uv_poll_stop(&w->handle);
  w->started = 0;
  NAPI_CALL(env, napi_reference_unref(env, w->self, NULL));
  return NULL;
}

/* watcherClose(self): idempotent. */
static napi_value watcher_close(napi_env env, napi_callback_info info) {
  GET_WATCHER(env, info, 1, argv, w);
  void* data;
  if (w == NULL) return NULL;
  /* Unwrapping first makes every later call see a closed watcher. */
  NAPI_CALL(env, napi_remove_wrap(env, argv[0], &data));
  destroy(env, w);
  return NULL;
}

/* watcherRef(self) / watcherUnref(self) */
static napi_value watcher_ref(napi_env env, napi_callback_info info) {
  GET_WATCHER(env, info, 1, argv, w);
  if (w != NULL) uv_ref((uv_handle_t*)&w->handle);
  return NULL;
}

static napi_value watcher_unref(napi_env env, napi_callback_info info) {
  GET_WATCHER(env, info, 1, argv, w);
  if (w != NULL) uv_unref((uv_handle_t*)&w->handle);
  return NULL;
}

int pollux_init_fd_watcher(napi_env env, napi_value exports) {
  if (pollux_export_fn(env, exports, "watcherDispatchTo", watcher_dispatch_to) != 0 ||
      pollux_export_fn(env, exports, "watcherInit", watcher_init) != 0 ||
      pollux_export_fn(env, exports, "watcherStart", watcher_start) != 0 ||
      pollux_export_fn(env, exports, "watcherStop", watcher_stop) != 0 ||
      pollux_export_fn(env, exports, "watcherClose", watcher_close) != 0 ||
      pollux_export_fn(env, exports, "watcherRef", watcher_ref) != 0 ||
      pollux_export_fn(env, exports, "watcherUnref", watcher_unref) != 0 ||
      pollux_export_int(env, exports, "WATCH_READABLE", UV_READABLE) != 0 ||
      pollux_export_int(env, exports, "WATCH_WRITABLE", UV_WRITABLE) != 0 ||
      pollux_export_int(env, exports, "WATCH_DISCONNECT", UV_DISCONNECT) != 0 ||
      pollux_export_int(env, exports, "WATCH_PRIORITIZED", UV_PRIORITIZED) != 0)
    return -1;
  return 0;
}
