/*
 * epoll(7) as a set of fds: create, add/modify/remove with an event mask, and
 * a blocking wait that fills caller-owned Int32Arrays, so a poller on its own
 * loop pays per ready fd instead of per watched fd (poll(2) scans them all).
 * Every syscall failure is returned as -errno; only malformed arguments throw.
 */
#include "pollux_sys.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

/* Up to this many events are gathered on the stack; a larger batch mallocs. */
#define STACK_EVENTS 64

#define GET_ARGS(env, info, n, argv)                                      \
  size_t argc_ = (n);                                                     \
  napi_value argv[n];                                                     \
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc_, argv, NULL, NULL))

static napi_value epoll_create_js(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = epoll_create1(EPOLL_CLOEXEC);
  napi_value value = pollux_int32(env, fd < 0 ? -errno : fd);
  if (value == NULL && fd >= 0) close(fd);
  return value;
}

/* epollCtl(epfd, op, fd, events): the fd itself is the event's data. */
static napi_value epoll_ctl_js(napi_env env, napi_callback_info info) {
  GET_ARGS(env, info, 4, argv);
  int epfd, fd;
  int64_t op, events;
  if (pollux_arg_fd(env, argv[0], &epfd) != 0 ||
      pollux_arg_int(env, argv[1], "op", EPOLL_CTL_ADD, EPOLL_CTL_MOD, &op) != 0 ||
      pollux_arg_fd(env, argv[2], &fd) != 0 ||
      pollux_arg_int(env, argv[3], "events", 0, UINT32_MAX, &events) != 0)
    return NULL;
  struct epoll_event event = {.events = (uint32_t)events, .data.fd = fd};
  int rc = epoll_ctl(epfd, (int)op, fd, &event);
  return pollux_int32(env, rc < 0 ? -errno : 0);
}

static napi_value epoll_wait_js(napi_env env, napi_callback_info info) {
  GET_ARGS(env, info, 4, argv);
  int epfd;
  int32_t *fds, *events;
  size_t nfds, nevents;
  int64_t timeout;
  struct epoll_event stack[STACK_EVENTS], *ready = stack;
  if (pollux_arg_fd(env, argv[0], &epfd) != 0 ||
      pollux_arg_int32_array(env, argv[1], "fds", &fds, &nfds) != 0 ||
      pollux_arg_int32_array(env, argv[2], "events", &events, &nevents) != 0 ||
      pollux_arg_int(env, argv[3], "timeoutMs", INT32_MIN, INT32_MAX, &timeout) != 0)
    return NULL;
  size_t max = nfds < nevents ? nfds : nevents;
  if (max == 0) return pollux_throw_range(env, "fds and events must hold at least one entry");
  if (max > INT32_MAX / sizeof(*ready)) max = INT32_MAX / sizeof(*ready);
  if (max > STACK_EVENTS) {
    ready = malloc(sizeof(*ready) * max);
    if (ready == NULL) return pollux_int32(env, -ENOMEM);
  }
  /* A signal is not an outcome the caller asked about: wait out the rest of
   * the timeout instead of returning EINTR (or a fake "nothing ready"). */
  int64_t deadline = timeout > 0 ? pollux_now_ms() + timeout : 0;
  int wait = timeout < 0 ? -1 : (int)timeout;
  int rc;
  for (;;) {
    rc = epoll_wait(epfd, ready, (int)max, wait);
    if (rc >= 0 || errno != EINTR) break;
    if (timeout > 0) {
      int64_t left = deadline - pollux_now_ms();
      wait = left > 0 ? (int)left : 0;
    }
  }
  if (rc < 0) rc = -errno;
  for (int i = 0; i < rc; i++) {
    fds[i] = ready[i].data.fd;
    events[i] = (int32_t)ready[i].events;
  }
  if (ready != stack) free(ready);
  return pollux_int32(env, rc);
}

int pollux_init_epoll_set(napi_env env, napi_value exports) {
  if (pollux_export_fn(env, exports, "epollCreate", epoll_create_js) != 0 ||
      pollux_export_fn(env, exports, "epollCtl", epoll_ctl_js) != 0 ||
      pollux_export_fn(env, exports, "epollWait", epoll_wait_js) != 0 ||
      pollux_export_int(env, exports, "EPOLL_CTL_ADD", EPOLL_CTL_ADD) != 0 ||
      pollux_export_int(env, exports, "EPOLL_CTL_MOD", EPOLL_CTL_MOD) != 0 ||
      pollux_export_int(env, exports, "EPOLL_CTL_DEL", EPOLL_CTL_DEL) != 0 ||
      pollux_export_int(env, exports, "EPOLLIN", EPOLLIN) != 0 ||
      pollux_export_int(env, exports, "EPOLLOUT", EPOLLOUT) != 0 ||
      pollux_export_int(env, exports, "EPOLLERR", EPOLLERR) != 0 ||
      pollux_export_int(env, exports, "EPOLLHUP", EPOLLHUP) != 0 ||
      pollux_export_int(env, exports, "EPOLLRDHUP", EPOLLRDHUP) != 0)
    return -1;
  return 0;
}
