/*
 * Unix sockets: the setup calls Node's `net` does not expose as raw fds
 * (abstract names, SO_PEERCRED, socketpair, accept4 into a caller-owned fd),
 * what an inherited socket is (systemd socket activation), and one datagram
 * to a Unix address (sd_notify). Setup calls throw SysError; accept, connect
 * and sendto are expected-outcome calls and return -errno instead.
 */
#include "pollux_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_ARGS 4

/* Fetches up to MAX_ARGS arguments; missing ones read as undefined. */
#define GET_ARGS(env, info, n, argv)                                      \
  size_t argc_ = (n);                                                     \
  napi_value argv[MAX_ARGS];                                              \
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc_, argv, NULL, NULL))

/*
 * Fills a sockaddr_un for a filesystem path or an abstract name.
 * Returns 0, a positive errno for a name the kernel cannot take, or -1 with a
 * JS exception pending. The length is exact: for abstract names every byte
 * after the leading NUL is part of the name, so padding would change it.
 */
static int unix_address(napi_env env, napi_value name, int abstract,
                        struct sockaddr_un* addr, socklen_t* addrlen) {
  char bytes[sizeof(addr->sun_path) + 1];
  size_t length, copied;
  napi_status status = napi_get_value_string_utf8(env, name, NULL, 0, &length);
  if (status == napi_string_expected) {
    pollux_throw_type(env, "name must be a string");
    return -1;
  }
  NAPI_CHECK(env, status, return -1);
  /* A path needs its terminating NUL inside sun_path; an abstract name needs
   * the leading one. Either way at most sizeof(sun_path) - 1 name bytes. */
  if (length > sizeof(addr->sun_path) - 1) return ENAMETOOLONG;
  NAPI_CHECK(env, napi_get_value_string_utf8(env, name, bytes, sizeof(bytes), &copied),
             return -1);
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (abstract) {
    memcpy(addr->sun_path + 1, bytes, copied);
    *addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + copied);
    return 0;
  }
  /* An empty path would silently become the (empty) abstract name. */
  if (copied == 0) return ENOENT;
  if (memchr(bytes, 0, copied) != NULL) {
    pollux_throw_type(env, "a filesystem socket path must not contain NUL bytes");
    return -1;
  }
  memcpy(addr->sun_path, bytes, copied);
  *addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + copied + 1);
  return 0;
}

/* Parses the (fd, name, abstract) arguments of bindUnix and connectUnix, with
 * unix_address's return convention. */
static int fd_and_address(napi_env env, napi_value* argv, int* fd,
                          struct sockaddr_un* addr, socklen_t* addrlen) {
  int abstract;
  if (pollux_arg_fd(env, argv[0], fd) != 0 ||
      pollux_arg_bool(env, argv[2], "abstract", &abstract) != 0)
    return -1;
  return unix_address(env, argv[1], abstract, addr, addrlen);
}

/* A new fd as a JS number; closes it if even that fails, so no fd outlives a throw. */
static napi_value new_fd_value(napi_env env, int fd) {
  napi_value value = pollux_int32(env, fd);
  if (value == NULL) close(fd);
  return value;
}

static napi_value socket_unix(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return pollux_throw_errno(env, errno, "socket");
  return new_fd_value(env, fd);
}

static napi_value bind_unix(napi_env env, napi_callback_info info) {
  GET_ARGS(env, info, 3, argv);
  int fd, err;
  struct sockaddr_un addr;
  socklen_t addrlen;
  err = fd_and_address(env, argv, &fd, &addr, &addrlen);
  if (err < 0) return NULL;
  if (err == 0 && bind(fd, (struct sockaddr*)&addr, addrlen) != 0) err = errno;
  if (err != 0) return pollux_throw_errno(env, err, "bind");
  return NULL;
}

static napi_value listen_js(napi_env env, napi_callback_info info) {
  GET_ARGS(env, info, 2, argv);
  int fd;
  int64_t backlog;
  if (pollux_arg_fd(env, argv[0], &fd) != 0 ||
      pollux_arg_int(env, argv[1], "backlog", 0, INT32_MAX, &backlog) != 0)
    return NULL;
  if (listen(fd, (int)backlog) != 0) return pollux_throw_errno(env, errno, "listen");
  return NULL;
}

static napi_value accept_js(napi_env env, napi_callback_info info) {
  GET_ARGS(env, info, 1, argv);
  int fd, conn;
  if (pollux_arg_fd(env, argv[0], &fd) != 0) return NULL;
  do {
    conn = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  } while (conn < 0 && errno == EINTR);
  return conn < 0 ? pollux_int32(env, -errno) : new_fd_value(env, conn);
}

static napi_value connect_unix(napi_env env, napi_callback_info info) {
  GET_ARGS(env, info, 3, argv);
  int fd, err, rc;
  struct sockaddr_un addr;
  socklen_t addrlen;
  err = fd_and_address(env, argv, &fd, &addr, &addrlen);
  if (err < 0) return NULL;
  if (err > 0) return pollux_int32(env, -err);
  /* AF_UNIX connect only sleeps while the listener's backlog is full, before
   * anything is set up, so EINTR means "nothing happened": retry. */
  do {
    rc = connect(fd, (struct sockaddr*)&addr, addrlen);
  } while (rc != 0 && errno == EINTR);
  return pollux_int32(env, rc != 0 ? -errno : 0);
}

static napi_value socketpair_js(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  napi_value pair;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
    return pollux_throw_errno(env, errno, "socketpair");
  NAPI_CHECK(env, napi_create_array_with_length(env, 2, &pair), goto fail);
  for (uint32_t i = 0; i < 2; i++) {
    napi_value v = pollux_int32(env, fds[i]);
    if (v == NULL) goto fail;
    NAPI_CHECK(env, napi_set_element(env, pair, i, v), goto fail);
  }
  return pair;
fail:
  close(fds[0]);
  close(fds[1]);
  return NULL;
}

static napi_value peer_credentials(napi_env env, napi_callback_info info) {
  GET_ARGS(env, info, 1, argv);
  int fd;
  struct ucred cred;
  socklen_t len = sizeof(cred);
  napi_value result, pid, uid, gid;
  if (pollux_arg_fd(env, argv[0], &fd) != 0) return NULL;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return pollux_throw_errno(env, errno, "getsockopt");
  NAPI_CALL(env, napi_create_object(env, &result));
  NAPI_CALL(env, napi_create_int32(env, cred.pid, &pid));
  NAPI_CALL(env, napi_create_uint32(env, cred.uid, &uid));
  NAPI_CALL(env, napi_create_uint32(env, cred.gid, &gid));
  NAPI_CALL(env, napi_set_named_property(env, result, "pid", pid));
  NAPI_CALL(env, napi_set_named_property(env, result, "uid", uid));
  NAPI_CALL(env, napi_set_named_property(env, result, "gid", gid));
  return result;
}

static napi_value shutdown_js(napi_env env, napi_callback_info info) {
  GET_ARGS(env, info, 2, argv);
  int fd, how;
  char text[8];
  size_t len;
  if (pollux_arg_fd(env, argv[0], &fd) != 0) return NULL;
  napi_status status = napi_get_value_string_utf8(env, argv[1], text, sizeof(text), &len);
  if (status != napi_string_expected) NAPI_CALL(env, status);
  if (status == napi_string_expected) how = -1;
  else if (strcmp(text, "read") == 0) how = SHUT_RD;
  else if (strcmp(text, "write") == 0) how = SHUT_WR;
  else if (strcmp(text, "both") == 0) how = SHUT_RDWR;
  else how = -1;
  if (how < 0) return pollux_throw_type(env, "how must be 'read', 'write' or 'both'");
  /* A socket that is not connected has nothing to shut down: the outcome the
   * caller wants already holds. (AF_UNIX never reports ENOTCONN anyway.) */
  if (shutdown(fd, how) != 0 && errno != ENOTCONN)
    return pollux_throw_errno(env, errno, "shutdown");
  return NULL;
}

static napi_value close_js(napi_env env, napi_callback_info info) {
  GET_ARGS(env, info, 1, argv);
  int fd;
  if (pollux_arg_fd(env, argv[0], &fd) != 0) return NULL;
  /* On Linux the fd is released even when close reports EINTR; retrying
   * could close an fd another thread just got. */
  if (close(fd) != 0 && errno != EINTR) return pollux_throw_errno(env, errno, "close");
  return NULL;
}

static napi_value set_non_blocking(napi_env env, napi_callback_info info) {
  GET_ARGS(env, info, 2, argv);
  int fd, on, flags;
  if (pollux_arg_fd(env, argv[0], &fd) != 0 ||
      pollux_arg_bool(env, argv[1], "on", &on) != 0)
    return NULL;
  flags = fcntl(fd, F_GETFL);
  if (flags < 0) return pollux_throw_errno(env, errno, "fcntl");
  int wanted = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (wanted != flags && fcntl(fd, F_SETFL, wanted) != 0)
    return pollux_throw_errno(env, errno, "fcntl");
  return NULL;
}

static napi_value socket_error(napi_env env, napi_callback_info info) {
  GET_ARGS(env, info, 1, argv);
  int fd, err = 0;
  socklen_t len = sizeof(err);
  if (pollux_arg_fd(env, argv[0], &fd) != 0) return NULL;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
    return pollux_throw_errno(env, errno, "getsockopt");
  return pollux_int32(env, err);
}

static napi_value set_close_on_exec(napi_env env, napi_callback_info info) {
  GET_ARGS(env, info, 2, argv);
  int fd, on, flags;
  if (pollux_arg_fd(env, argv[0], &fd) != 0 ||
      pollux_arg_bool(env, argv[1], "on", &on) != 0)
    return NULL;
  flags = fcntl(fd, F_GETFD);
  if (flags < 0) return pollux_throw_errno(env, errno, "fcntl");
  int wanted = on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
  if (wanted != flags && fcntl(fd, F_SETFD, wanted) != 0)
    return pollux_throw_errno(env, errno, "fcntl");
  return NULL;
}

static const char* family_name(int family) {
  switch (family) {
    case AF_UNIX: return "unix";
    case AF_INET: return "inet";
    case AF_INET6: return "inet6";
    case AF_NETLINK: return "netlink";
    default: return "other";
  }
}

static const char* type_name(int type) {
  switch (type) {
    case SOCK_STREAM: return "stream";
    case SOCK_DGRAM: return "dgram";
    case SOCK_SEQPACKET: return "seqpacket";
    case SOCK_RAW: return "raw";
    default: return "other";
  }
}

/* The local address of a Unix socket as pollux spells it: a path, `@name`
 * for an abstract one, "" when unbound. Other families get "". */
static napi_value local_unix_address(napi_env env, int fd, int family) {
  struct sockaddr_un addr;
  socklen_t len = sizeof(addr);
  char text[sizeof(addr.sun_path) + 2];
  size_t length = 0;
  napi_value value;
  memset(&addr, 0, sizeof(addr));
  if (family == AF_UNIX && getsockname(fd, (struct sockaddr*)&addr, &len) == 0 &&
      len > offsetof(struct sockaddr_un, sun_path)) {
    size_t name_len = len - offsetof(struct sockaddr_un, sun_path);
    if (addr.sun_path[0] == '\0') {
      text[0] = '@';
      memcpy(text + 1, addr.sun_path + 1, name_len - 1);
      length = name_len;
    } else {
      length = strnlen(addr.sun_path, name_len);
      memcpy(text, addr.sun_path, length);
    }
  }
  NAPI_CALL(env, napi_create_string_utf8(env, text, length, &value));
  return value;
}

/*
 * socketInfo(fd): what an fd handed to this process is, before adopting it.
 * getpeername, not SO_PEERCRED, tells "connected": an unconnected AF_UNIX
 * socket answers SO_PEERCRED with pid 0 and uid -1.
 */
static napi_value socket_info(napi_env env, napi_callback_info info) {
  GET_ARGS(env, info, 1, argv);
  int fd, family, type, listening, connected;
  socklen_t len;
  struct sockaddr_storage peer;
  socklen_t peer_len = sizeof(peer);
  napi_value result, value;
  if (pollux_arg_fd(env, argv[0], &fd) != 0) return NULL;
  len = sizeof(family);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) != 0)
    return pollux_throw_errno(env, errno, "getsockopt");
  len = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
    return pollux_throw_errno(env, errno, "getsockopt");
  len = sizeof(listening);
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0)
    return pollux_throw_errno(env, errno, "getsockopt");
  connected = getpeername(fd, (struct sockaddr*)&peer, &peer_len) == 0;
  if (!connected && errno != ENOTCONN) return pollux_throw_errno(env, errno, "getpeername");
  NAPI_CALL(env, napi_create_object(env, &result));
  NAPI_CALL(env, napi_create_string_utf8(env, family_name(family), NAPI_AUTO_LENGTH, &value));
  NAPI_CALL(env, napi_set_named_property(env, result, "family", value));
  NAPI_CALL(env, napi_create_string_utf8(env, type_name(type), NAPI_AUTO_LENGTH, &value));
  NAPI_CALL(env, napi_set_named_property(env, result, "type", value));
  NAPI_CALL(env, napi_get_boolean(env, listening != 0, &value));
  NAPI_CALL(env, napi_set_named_property(env, result, "listening", value));
  NAPI_CALL(env, napi_get_boolean(env, connected, &value));
  NAPI_CALL(env, napi_set_named_property(env, result, "connected", value));
  value = local_unix_address(env, fd, family);
  if (value == NULL) return NULL;
  NAPI_CALL(env, napi_set_named_property(env, result, "address", value));
  return result;
}

static napi_value socket_unix_datagram(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return pollux_throw_errno(env, errno, "socket");
  return new_fd_value(env, fd);
}

/* sendToUnix(fd, name, abstract, bytes): one datagram, never blocking, never SIGPIPE. */
static napi_value send_to_unix(napi_env env, napi_callback_info info) {
  GET_ARGS(env, info, 4, argv);
  int fd, err;
  ssize_t sent;
  struct sockaddr_un addr;
  socklen_t addrlen;
  uint8_t* data;
  size_t length;
  err = fd_and_address(env, argv, &fd, &addr, &addrlen);
  if (err < 0 || pollux_arg_bytes(env, argv[3], "bytes", &data, &length) != 0) return NULL;
  if (err > 0) return pollux_int32(env, -err);
  do {
    sent = sendto(fd, data, length, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr*)&addr, addrlen);
  } while (sent < 0 && errno == EINTR);
  return pollux_int32(env, sent < 0 ? -errno : (int32_t)sent);
}

int pollux_init_unix_socket(napi_env env, napi_value exports) {
  if (pollux_export_fn(env, exports, "socketUnix", socket_unix) != 0 ||
      pollux_export_fn(env, exports, "bindUnix", bind_unix) != 0 ||
      pollux_export_fn(env, exports, "listen", listen_js) != 0 ||
      pollux_export_fn(env, exports, "accept", accept_js) != 0 ||
      pollux_export_fn(env, exports, "connectUnix", connect_unix) != 0 ||
      pollux_export_fn(env, exports, "socketpair", socketpair_js) != 0 ||
      pollux_export_fn(env, exports, "peerCredentials", peer_credentials) != 0 ||
      pollux_export_fn(env, exports, "shutdown", shutdown_js) != 0 ||
      pollux_export_fn(env, exports, "close", close_js) != 0 ||
      pollux_export_fn(env, exports, "setNonBlocking", set_non_blocking) != 0 ||
      pollux_export_fn(env, exports, "socketError", socket_error) != 0 ||
      pollux_export_fn(env, exports, "setCloseOnExec", set_close_on_exec) != 0 ||
      pollux_export_fn(env, exports, "socketInfo", socket_info) != 0 ||
      pollux_export_fn(env, exports, "socketUnixDatagram", socket_unix_datagram) != 0 ||
      pollux_export_fn(env, exports, "sendToUnix", send_to_unix) != 0)
    return -1;
  return 0;
}
