/*
 * The byte-moving hot path: read, writev and sendmsg/recvmsg with SCM_RIGHTS.
 * Every call works on the caller's memory in place (no copy, no allocation
 * beyond a stack iovec array) and reports failure as -errno, never by throwing;
 * only malformed arguments throw (TypeError / RangeError).
 */
#include "pollux_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* One call writes at most IOV_MAX chunks; the caller loops on the byte count. */
#define IOV_CAP IOV_MAX
/* The kernel's per-message limit on passed fds (SCM_MAX_FD). */
#define FD_CAP 253

typedef union {
  struct cmsghdr align;
  char bytes[CMSG_SPACE(sizeof(int) * FD_CAP)];
} fd_control;

/* Length of a JS array, TypeError if it is not one. Returns -1 on exception. */
static int64_t array_length(napi_env env, napi_value array, const char* name) {
  uint32_t length;
  napi_status status = napi_get_array_length(env, array, &length);
  if (status == napi_array_expected) {
    pollux_throw_expected(env, name, "an array");
    return -1;
  }
  NAPI_CHECK(env, status, return -1);
  return length;
}

/* Fills iov from chunks[0 .. min(count, IOV_CAP)); -1 with an exception pending. */
static int gather(napi_env env, napi_value chunks, napi_value count_value,
                  struct iovec* iov, size_t* niov, size_t* total) {
  int64_t length = array_length(env, chunks, "chunks"), count;
  if (length < 0 ||
      pollux_arg_int(env, count_value, "count", 0, length, &count) != 0)
    return -1;
  if (count > IOV_CAP) count = IOV_CAP;
  *total = 0;
  for (uint32_t i = 0; i < (uint32_t)count; i++) {
    napi_value chunk;
    uint8_t* data;
    size_t size;
    NAPI_CHECK(env, napi_get_element(env, chunks, i, &chunk), return -1);
    if (pollux_arg_bytes(env, chunk, "chunks[i]", &data, &size) != 0) return -1;
    iov[i].iov_base = data;
    iov[i].iov_len = size;
    *total += size;
  }
  *niov = (size_t)count;
  return 0;
}

static ssize_t send_all(int fd, struct msghdr* msg) {
  ssize_t n;
  do {
    n = sendmsg(fd, msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  /* Pipes and eventfds are not sockets: plain writev(2) does for them
   * (Node ignores SIGPIPE, so a closed pipe still reads as -EPIPE). */
  if (n < 0 && errno == ENOTSOCK && msg->msg_controllen == 0) {
    do {
      n = writev(fd, msg->msg_iov, (int)msg->msg_iovlen);
    } while (n < 0 && errno == EINTR);
  }
  return n < 0 ? -errno : n;
}

static napi_value read_js(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int fd;
  uint8_t* data;
  size_t size;
  ssize_t n;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (pollux_arg_fd(env, argv[0], &fd) != 0 ||
      pollux_arg_window(env, argv[1], argv[2], argv[3], &data, &size) != 0)
    return NULL;
  do {
    n = read(fd, data, size);
  } while (n < 0 && errno == EINTR);
  return pollux_int32(env, n < 0 ? -errno : (int32_t)n);
}

static napi_value writev_js(napi_env env, napi_callback_info info) {
  size_t argc = 3, niov, total;
  napi_value argv[3];
  int fd;
  struct iovec iov[IOV_CAP];
  struct msghdr msg;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (pollux_arg_fd(env, argv[0], &fd) != 0 ||
      gather(env, argv[1], argv[2], iov, &niov, &total) != 0)
    return NULL;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = iov;
  msg.msg_iovlen = niov;
  return pollux_int32(env, (int32_t)send_all(fd, &msg));
}

static napi_value sendmsg_js(napi_env env, napi_callback_info info) {
  size_t argc = 4, niov, total;
  napi_value argv[4];
  int fd;
  int64_t nfds;
  struct iovec iov[IOV_CAP];
  struct msghdr msg;
  fd_control control;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (pollux_arg_fd(env, argv[0], &fd) != 0 ||
      gather(env, argv[1], argv[2], iov, &niov, &total) != 0)
    return NULL;
  nfds = array_length(env, argv[3], "fds");
  if (nfds < 0) return NULL;
  if (nfds > FD_CAP) return pollux_throw_range(env, "at most 253 fds per sendmsg");
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = iov;
  msg.msg_iovlen = niov;
  if (nfds > 0) {
    /* A stream socket sends nothing, fds included, for zero data bytes. */
    if (total == 0) return pollux_int32(env, -EINVAL);
    struct cmsghdr* cmsg;
    int passed[FD_CAP];
    for (uint32_t i = 0; i < (uint32_t)nfds; i++) {
      napi_value v;
      NAPI_CALL(env, napi_get_element(env, argv[3], i, &v));
      if (pollux_arg_fd(env, v, &passed[i]) != 0) return NULL;
    }
    memset(&control, 0, sizeof(control));
    msg.msg_control = control.bytes;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
    cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
    memcpy(CMSG_DATA(cmsg), passed, sizeof(int) * (size_t)nfds);
  }
  return pollux_int32(env, (int32_t)send_all(fd, &msg));
}

/* Copies the fds carried by msg's SCM_RIGHTS messages into fds (room for
 * FD_CAP: the control buffer holds no more) and returns how many there are. */
static size_t passed_fds(struct msghdr* msg, int* fds) {
  size_t count = 0;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    memcpy(fds + count, CMSG_DATA(c), n * sizeof(int));
    count += n;
  }
  return count;
}

static void close_fds(const int* fds, size_t count) {
  for (size_t i = 0; i < count; i++) close(fds[i]);
}

/*
 * Appends fds[0 .. count) to `array`, whose length is `at`, as own data
 * properties. A define, unlike a plain set, fails instead of silently doing
 * nothing on a frozen, sealed or non-extensible array or one whose length is
 * read-only, and never runs a setter. If the first define succeeds the rest
 * do too, so the array gets all of them or none. Returns 0; 1 when the array
 * took none of them; -1 with a JS exception pending.
 */
static int append_fds(napi_env env, napi_value array, uint32_t at,
                      const int* fds, size_t count) {
  char names[FD_CAP][16];
  napi_property_descriptor props[FD_CAP];
  napi_status status;
  if (count == 0) return 0;
  /* Indices stop at 2^32 - 2; past that a "name" is no array element. */
  if ((uint64_t)at + count > UINT32_MAX - 1u) return 1;
  for (size_t i = 0; i < count; i++) {
    snprintf(names[i], sizeof(names[i]), "%u", at + (uint32_t)i);
    memset(&props[i], 0, sizeof(props[i]));
    props[i].utf8name = names[i];
    props[i].attributes = napi_writable | napi_enumerable | napi_configurable;
    props[i].value = pollux_int32(env, fds[i]);
    if (props[i].value == NULL) return -1;
  }
  status = napi_define_properties(env, array, count, props);
  if (status == napi_invalid_arg || status == napi_pending_exception) {
    /* A refusal. For a read-only length V8 throws instead of reporting false;
     * no JS ran (an array is no proxy), so the exception is that refusal. */
    bool pending;
    napi_value refusal;
    NAPI_CHECK(env, napi_is_exception_pending(env, &pending), return -1);
    if (pending) NAPI_CHECK(env, napi_get_and_clear_last_exception(env, &refusal), return -1);
    return 1;
  }
  NAPI_CHECK(env, status, return -1);
  return 0;
}

static napi_value recvmsg_js(napi_env env, napi_callback_info info) {
  size_t argc = 5, size, nfds;
  napi_value argv[5], result;
  int fd, fds[FD_CAP], appended;
  int64_t out_length;
  uint8_t* data;
  ssize_t n;
  struct iovec iov;
  struct msghdr msg;
  fd_control control;
  char message[160];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (pollux_arg_fd(env, argv[0], &fd) != 0 ||
      pollux_arg_window(env, argv[1], argv[2], argv[3], &data, &size) != 0)
    return NULL;
  /* recvmsg(2) into 0 bytes returns 0, which reads as end of stream, yet
   * takes the fds of the next message off the socket. */
  if (size == 0)
    return pollux_throw_range(env, "length must be at least 1: a 0-byte recvmsg "
                                   "cannot tell end of stream from received fds");
  out_length = array_length(env, argv[4], "fdsOut");
  if (out_length < 0) return NULL;
  iov.iov_base = data;
  iov.iov_len = size;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.bytes;
  msg.msg_controllen = sizeof(control.bytes);
  do {
    n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return pollux_int32(env, -errno);
  nfds = passed_fds(&msg, fds);
  if (msg.msg_flags & MSG_CTRUNC) {
    /* Some fds were dropped (RLIMIT_NOFILE, LSM): the message cannot be
     * delivered intact, so none of its fds are, and the caller learns the
     * stream is broken. */
    close_fds(fds, nfds);
    return pollux_int32(env, -EMSGSIZE);
  }
  /* Made before the fds are handed over: once they are, nothing may fail. */
  result = pollux_int32(env, (int32_t)n);
  appended = result == NULL ? -1 : append_fds(env, argv[4], (uint32_t)out_length, fds, nfds);
  if (appended == 0) return result;
  /* The caller never sees these fds: close them rather than leak them. */
  close_fds(fds, nfds);
  if (appended < 0) return NULL;
  snprintf(message, sizeof(message),
           "fdsOut must be an extensible array with a writable length: the %zu "
           "fds received with %zd bytes were closed",
           nfds, n);
  return pollux_throw_type(env, message);
}

/* A close-on-exec duplicate at the lowest free number: what a queued message sends in place of
 * the caller's fd, so the caller may close theirs at once. */
static napi_value duplicate_fd_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int fd, copy;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (pollux_arg_fd(env, argv[0], &fd) != 0) return NULL;
  copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  return pollux_int32(env, copy < 0 ? -errno : copy);
}

int pollux_init_io(napi_env env, napi_value exports) {
  if (pollux_export_fn(env, exports, "read", read_js) != 0 ||
      pollux_export_fn(env, exports, "writev", writev_js) != 0 ||
      pollux_export_fn(env, exports, "sendmsg", sendmsg_js) != 0 ||
      pollux_export_fn(env, exports, "recvmsg", recvmsg_js) != 0 ||
      pollux_export_fn(env, exports, "duplicateFd", duplicate_fd_js) != 0)
    return -1;
  return 0;
}
