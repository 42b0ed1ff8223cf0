/*
 * eventfd(2): a kernel counter as an fd, the cheapest thing a poller can be
 * woken by. Created non-blocking and close-on-exec; read and write return
 * -errno instead of throwing, since "nothing there" is the expected outcome.
 */
#include "pollux_sys.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Largest value one write may add: exact as a JS number (the counter holds up to 2^64 - 2). */
#define EVENTFD_ADD_MAX ((int64_t)1 << 53)

static napi_value eventfd_create_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t initial;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (pollux_arg_int(env, argv[0], "initial", 0, UINT32_MAX, &initial) != 0)
    return NULL;
  int fd = eventfd((unsigned int)initial, EFD_NONBLOCK | EFD_CLOEXEC);
  return pollux_int32(env, fd < 0 ? -errno : fd);
}

static napi_value eventfd_write_js(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int fd;
  int64_t value;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (pollux_arg_fd(env, argv[0], &fd) != 0 ||
      pollux_arg_int(env, argv[1], "value", 1, EVENTFD_ADD_MAX, &value) != 0)
    return NULL;
  uint64_t add = (uint64_t)value;
  ssize_t n;
  do n = write(fd, &add, sizeof(add));
  while (n < 0 && errno == EINTR);
  return pollux_int32(env, n < 0 ? -errno : 0);
}

static napi_value eventfd_read_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  int fd;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (pollux_arg_fd(env, argv[0], &fd) != 0) return NULL;
  uint64_t count;
  ssize_t n;
  do n = read(fd, &count, sizeof(count));
  while (n < 0 && errno == EINTR);
  if (n < 0) return pollux_int32(env, -errno);
  /* A short read means fd is no eventfd: report it as such rather than a count. */
  if (n != sizeof(count)) return pollux_int32(env, -EINVAL);
  NAPI_CALL(env, napi_create_double(env, (double)count, &result));
  return result;
}

int pollux_init_eventfd(napi_env env, napi_value exports) {
  if (pollux_export_fn(env, exports, "eventfdCreate", eventfd_create_js) != 0 ||
      pollux_export_fn(env, exports, "eventfdWrite", eventfd_write_js) != 0 ||
      pollux_export_fn(env, exports, "eventfdRead", eventfd_read_js) != 0)
    return -1;
  return 0;
}
