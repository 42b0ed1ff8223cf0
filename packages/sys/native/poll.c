/*
 * poll(2) over caller-owned Int32Arrays: a blocking wait Node's loop cannot
 * give (sync handshakes, tests, hosts that drive pollux from their own loop).
 */
#include "pollux_sys.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

/* Up to this many entries live on the stack; more is rare enough to malloc. */
#define STACK_FDS 64

static napi_value poll_js(napi_env env, napi_callback_info info) {
  size_t argc = 5, nfds, nevents, nrevents;
  napi_value argv[5];
  int32_t *fds, *events, *revents;
  int64_t count, timeout;
  struct pollfd stack[STACK_FDS], *set = stack;
  int rc;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (pollux_arg_int32_array(env, argv[0], "fds", &fds, &nfds) != 0 ||
      pollux_arg_int32_array(env, argv[1], "events", &events, &nevents) != 0 ||
      pollux_arg_int32_array(env, argv[2], "revents", &revents, &nrevents) != 0)
    return NULL;
  size_t limit = nfds < nevents ? nfds : nevents;
  if (nrevents < limit) limit = nrevents;
  if (pollux_arg_int(env, argv[3], "count", 0, (int64_t)limit, &count) != 0 ||
      pollux_arg_int(env, argv[4], "timeoutMs", INT32_MIN, INT32_MAX, &timeout) != 0)
    return NULL;
  if (count > STACK_FDS) {
    set = malloc(sizeof(*set) * (size_t)count);
    if (set == NULL) return pollux_int32(env, -ENOMEM);
  }
  for (int64_t i = 0; i < count; i++) {
    set[i].fd = fds[i];
    set[i].events = (short)events[i];
    set[i].revents = 0;
  }
  /* A signal is not an outcome the caller asked about: wait out the rest of
   * the timeout instead of returning EINTR (or a fake "nothing ready"). */
  int64_t deadline = timeout > 0 ? pollux_now_ms() + timeout : 0;
  int wait = timeout < 0 ? -1 : (int)timeout;
  for (;;) {
    rc = poll(set, (nfds_t)count, wait);
    if (rc >= 0 || errno != EINTR) break;
    if (timeout > 0) {
      int64_t left = deadline - pollux_now_ms();
      wait = left > 0 ? (int)left : 0;
    }
  }
  if (rc < 0) rc = -errno;
  else
    for (int64_t i = 0; i < count; i++) revents[i] = (uint16_t)set[i].revents;
  if (set != stack) free(set);
  return pollux_int32(env, rc);
}

int pollux_init_poll(napi_env env, napi_value exports) {
  if (pollux_export_fn(env, exports, "poll", poll_js) != 0 ||
      pollux_export_int(env, exports, "POLLIN", POLLIN) != 0 ||
      pollux_export_int(env, exports, "POLLOUT", POLLOUT) != 0 ||
      pollux_export_int(env, exports, "POLLERR", POLLERR) != 0 ||
      pollux_export_int(env, exports, "POLLHUP", POLLHUP) != 0 ||
      pollux_export_int(env, exports, "POLLNVAL", POLLNVAL) != 0 ||
      pollux_export_int(env, exports, "POLLRDHUP", POLLRDHUP) != 0)
    return -1;
  return 0;
}
