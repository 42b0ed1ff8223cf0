/*
 * Module init, the napi failure path behind NAPI_CHECK, errno naming and
 * SysError construction, and the argument parsers every concern shares.
 */
#include "pollux_sys.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

void pollux_napi_failed(napi_env env, napi_status status, const char* call) {
  /* Read the error info first: every later napi call overwrites it. */
  const napi_extended_error_info* info = NULL;
  const char* reason = NULL;
  if (napi_get_last_error_info(env, &info) == napi_ok && info != NULL)
    reason = info->error_message;
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || pending) return;
  char message[256];
  snprintf(message, sizeof(message), "%s failed: %s (napi_status %d)", call,
           reason != NULL ? reason : "unknown", (int)status);
  napi_throw_error(env, "ERR_POLLUX_NAPI", message);
}

/* Writes the symbolic name of positive errno `err` into buf. */
static void errno_name(int err, char* buf, size_t size) {
  uv_err_name_r(-err, buf, size);
  if (strncmp(buf, "Unknown", 7) != 0) return;
  /* libuv only names the errnos it maps; glibc knows the rest. */
  const char* name = err > 0 ? strerrorname_np(err) : NULL;
  snprintf(buf, size, "%s", name != NULL ? name : "EUNKNOWN");
}

static const char* errno_message(int err, char* buf, size_t size) {
  return strerror_r(err, buf, size); /* GNU variant: returns the text */
}

static napi_value make_string(napi_env env, const char* text) {
  napi_value value;
  NAPI_CALL(env, napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value));
  return value;
}

static int set_prop(napi_env env, napi_value obj, const char* key, napi_value v) {
  if (v == NULL) return -1;
  NAPI_CHECK(env, napi_set_named_property(env, obj, key, v), return -1);
  return 0;
}

napi_value pollux_throw_errno(napi_env env, int err, const char* syscall) {
  pollux_instance* inst = NULL;
  napi_value ctor = NULL;
  NAPI_CALL(env, napi_get_instance_data(env, (void**)&inst));
  if (inst != NULL && inst->sys_error != NULL)
    NAPI_CALL(env, napi_get_reference_value(env, inst->sys_error, &ctor));
  if (ctor != NULL) {
    napi_value argv[2], error;
    argv[0] = make_string(env, syscall);
    if (argv[0] == NULL) return NULL;
    NAPI_CALL(env, napi_create_int32(env, err, &argv[1]));
    NAPI_CALL(env, napi_new_instance(env, ctor, 2, argv, &error));
    NAPI_CALL(env, napi_throw(env, error));
    return NULL;
  }
  /* Fallback before index.ts registered SysError: a plain Error, same fields. */
  char name[64], text[128], message[256];
  errno_name(err, name, sizeof(name));
  snprintf(message, sizeof(message), "%s: %s, %s", name,
           errno_message(err, text, sizeof(text)), syscall);
  napi_value error, code = make_string(env, name), msg = make_string(env, message);
  if (code == NULL || msg == NULL) return NULL;
  NAPI_CALL(env, napi_create_error(env, code, msg, &error));
  if (set_prop(env, error, "code", code) != 0 ||
      set_prop(env, error, "errno", pollux_int32(env, err)) != 0 ||
      set_prop(env, error, "syscall", make_string(env, syscall)) != 0)
    return NULL;
  NAPI_CALL(env, napi_throw(env, error));
  return NULL;
}

napi_value pollux_throw_type(napi_env env, const char* message) {
  NAPI_CALL(env, napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message));
  return NULL;
}

napi_value pollux_throw_expected(napi_env env, const char* name, const char* what) {
  char message[128];
  snprintf(message, sizeof(message), "%s must be %s", name, what);
  return pollux_throw_type(env, message);
}

napi_value pollux_throw_range(napi_env env, const char* message) {
  NAPI_CALL(env, napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message));
  return NULL;
}

int pollux_arg_int(napi_env env, napi_value value, const char* name,
                   int64_t min, int64_t max, int64_t* out) {
  double d;
  char message[128];
  napi_status status = napi_get_value_double(env, value, &d);
  if (status == napi_number_expected) {
    snprintf(message, sizeof(message), "%s must be a number", name);
    pollux_throw_type(env, message);
    return -1;
  }
  NAPI_CHECK(env, status, return -1);
  /* NaN fails both comparisons, so it lands here too. */
  if (!(d >= (double)min && d <= (double)max) || d != trunc(d)) {
    snprintf(message, sizeof(message),
             "%s must be an integer in [%lld, %lld]", name, (long long)min,
             (long long)max);
    pollux_throw_range(env, message);
    return -1;
  }
  *out = (int64_t)d;
  return 0;
}

int pollux_arg_fd(napi_env env, napi_value value, int* fd) {
  int64_t v;
  if (pollux_arg_int(env, value, "fd", 0, INT32_MAX, &v) != 0) return -1;
  *fd = (int)v;
  return 0;
}

int pollux_arg_bool(napi_env env, napi_value value, const char* name, int* out) {
  bool b;
  napi_status status = napi_get_value_bool(env, value, &b);
  if (status == napi_boolean_expected) {
    pollux_throw_expected(env, name, "a boolean");
    return -1;
  }
  NAPI_CHECK(env, status, return -1);
  *out = b ? 1 : 0;
  return 0;
}

int pollux_arg_bytes(napi_env env, napi_value value, const char* name,
                     uint8_t** data, size_t* length) {
  napi_typedarray_type type;
  void* base = NULL;
  /* napi_invalid_arg (no exception pending) means "not a typed array". */
  napi_status status =
      napi_get_typedarray_info(env, value, &type, length, &base, NULL, NULL);
  if (status == napi_invalid_arg ||
      (status == napi_ok && type != napi_uint8_array &&
       type != napi_uint8_clamped_array)) {
    pollux_throw_expected(env, name, "a Uint8Array");
    return -1;
  }
  NAPI_CHECK(env, status, return -1);
  /* `base` already has byteOffset applied. */
  *data = base;
  return 0;
}

int pollux_arg_window(napi_env env, napi_value buffer, napi_value offset,
                      napi_value length, uint8_t** data, size_t* size) {
  uint8_t* base;
  size_t total;
  int64_t off, len;
  if (pollux_arg_bytes(env, buffer, "buffer", &base, &total) != 0 ||
      pollux_arg_int(env, offset, "offset", 0, (int64_t)total, &off) != 0 ||
      pollux_arg_int(env, length, "length", 0, (int64_t)total - off, &len) != 0)
    return -1;
  *data = base + off;
  *size = (size_t)len;
  return 0;
}

int pollux_arg_int32_array(napi_env env, napi_value value, const char* name,
                           int32_t** data, size_t* length) {
  napi_typedarray_type type;
  void* base = NULL;
  napi_status status =
      napi_get_typedarray_info(env, value, &type, length, &base, NULL, NULL);
  if (status == napi_invalid_arg || (status == napi_ok && type != napi_int32_array)) {
    pollux_throw_expected(env, name, "an Int32Array");
    return -1;
  }
  NAPI_CHECK(env, status, return -1);
  *data = base;
  return 0;
}

int64_t pollux_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

napi_value pollux_int32(napi_env env, int32_t value) {
  napi_value result;
  NAPI_CALL(env, napi_create_int32(env, value, &result));
  return result;
}

int pollux_export_fn(napi_env env, napi_value exports, const char* name,
                     napi_callback cb) {
  napi_value fn;
  NAPI_CHECK(env, napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn),
             return -1);
  return set_prop(env, exports, name, fn);
}

int pollux_export_int(napi_env env, napi_value exports, const char* name,
                      int32_t value) {
  return set_prop(env, exports, name, pollux_int32(env, value));
}

/* errno arguments may be given as 11 or -11. */
static int arg_errno(napi_env env, napi_callback_info info, int* err) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t v;
  NAPI_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL), return -1);
  if (argc < 1) {
    pollux_throw_type(env, "errno must be a number");
    return -1;
  }
  if (pollux_arg_int(env, argv[0], "errno", -INT32_MAX, INT32_MAX, &v) != 0)
    return -1;
  *err = (int)(v < 0 ? -v : v);
  return 0;
}

static napi_value errno_name_js(napi_env env, napi_callback_info info) {
  int err;
  char name[64];
  if (arg_errno(env, info, &err) != 0) return NULL;
  errno_name(err, name, sizeof(name));
  return make_string(env, name);
}

static napi_value errno_message_js(napi_env env, napi_callback_info info) {
  int err;
  char text[256];
  if (arg_errno(env, info, &err) != 0) return NULL;
  return make_string(env, errno_message(err, text, sizeof(text)));
}

static void instance_finalize(napi_env env, void* data, void* hint) {
  (void)hint;
  pollux_instance* inst = data;
  if (inst->sys_error != NULL) napi_delete_reference(env, inst->sys_error);
  if (inst->watcher_dispatch != NULL) napi_delete_reference(env, inst->watcher_dispatch);
  free(inst);
}

napi_value pollux_keep_function(napi_env env, napi_callback_info info, napi_ref* slot,
                                const char* message) {
  size_t argc = 1;
  napi_value argv[1];
  napi_valuetype type;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 1) return pollux_throw_type(env, message);
  NAPI_CALL(env, napi_typeof(env, argv[0], &type));
  if (type != napi_function) return pollux_throw_type(env, message);
  if (*slot != NULL) {
    NAPI_CALL(env, napi_delete_reference(env, *slot));
    *slot = NULL;
  }
  NAPI_CALL(env, napi_create_reference(env, argv[0], 1, slot));
  return NULL;
}

/* setErrorClass(SysError): called once by index.ts so C can throw SysErrors. */
static napi_value set_error_class(napi_env env, napi_callback_info info) {
  pollux_instance* inst;
  NAPI_CALL(env, napi_get_instance_data(env, (void**)&inst));
  return pollux_keep_function(env, info, &inst->sys_error, "SysError must be a class");
}

NAPI_MODULE_INIT() {
  pollux_instance* inst = calloc(1, sizeof(*inst));
  if (inst == NULL) {
    napi_throw_error(env, "ENOMEM", "pollux_sys: out of memory");
    return NULL;
  }
  NAPI_CHECK(env, napi_set_instance_data(env, inst, instance_finalize, NULL),
             free(inst); return NULL);
  if (pollux_export_fn(env, exports, "setErrorClass", set_error_class) != 0 ||
      pollux_export_fn(env, exports, "errnoName", errno_name_js) != 0 ||
      pollux_export_fn(env, exports, "errnoMessage", errno_message_js) != 0 ||
      pollux_init_unix_socket(env, exports) != 0 ||
      pollux_init_io(env, exports) != 0 ||
      pollux_init_eventfd(env, exports) != 0 ||
      pollux_init_poll(env, exports) != 0 ||
      pollux_init_fd_watcher(env, exports) != 0 ||
      pollux_init_shared_memory(env, exports) != 0 ||
      pollux_init_epoll_set(env, exports) != 0)
    return NULL;
  return exports;
}
