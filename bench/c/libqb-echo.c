/*
 * libqb's IPC as a bench contender, over its shared-memory or its Unix-socket transport: an echo
 * server on libqb's server API (qb/qbipcs.h, run by libqb's own main loop) and a client on its
 * client API (qb/qbipcc.h). libqb has no Node binding, so the client is this program too: it times
 * the bench's workloads with the same loops as src/workloads.ts (warm-up by count and time, the
 * time cap, `in_flight` requests outstanding, rounds of events) and prints each result as one JSON
 * line, { "result": ... } or { "error": ... }, as the Node client process does.
 *
 * Requests carry a qb_ipc_request_header and the payload; REQUEST_ECHO is answered with a
 * qb_ipc_response_header and the same payload, REQUEST_PUSH (u32 count, u32 size) is not answered:
 * the server pushes `count` events of `size` bytes to every connection, with qb_ipcs_event_send.
 *
 * Usage: libqb-echo server <shm|socket> <name>
 *        libqb-echo client <name> <workload>...
 * A workload is `kind,size,warmup,warmupMs,count,maxMs,n` (src/libqb.ts writes them): kind is
 * latency, throughput (n requests in flight), events (n clients) or connect. The server prints
 * "ready" once clients can connect and exits on SIGTERM or when stdin closes.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <qb/qbipcc.h>
#include <qb/qbipcs.h>
#include <qb/qbloop.h>

#define REQUEST_ECHO 0
#define REQUEST_PUSH 1
#define MAX_PAYLOAD (64 * 1024)
#define MAX_CLIENTS 64
/* Replies between two readings of the clock in a pipeline, as in src/workloads.ts. */
#define CLOCK_EVERY 16
/* A reply or event not here within this long is reported as an error, not waited for. */
#define REPLY_TIMEOUT_MS 10000
/* How long one qb_ipcc_recv may block before the connection's liveness is checked again. */
#define RECV_SLICE_MS 1000

struct request {
  struct qb_ipc_request_header header;
  unsigned char payload[MAX_PAYLOAD];
};

struct reply {
  struct qb_ipc_response_header header;
  unsigned char payload[MAX_PAYLOAD];
};

/* ---------------------------------------------------------------------------------------------
 * Server
 * ------------------------------------------------------------------------------------------- */

static qb_loop_t *loop;
static qb_ipcs_service_t *service;
/* Every pushed event: a response header and `size` bytes of i & 0xff (src/echo-client.ts). */
static struct reply event;
static int retry_scheduled;

/* Events a connection is still owed; libqb holds it as the connection's context. */
struct owed {
  uint32_t count;
  uint32_t size;
};

static int retryable(ssize_t res) { return res == -EAGAIN || res == -ENOBUFS; }

/* Calls `visit` with every connection of the service and its owed events (libqb lends each one referenced). */
static void each_connection(void (*visit)(qb_ipcs_connection_t *c, struct owed *owed, void *arg), void *arg) {
  for (qb_ipcs_connection_t *c = qb_ipcs_connection_first_get(service); c != NULL;) {
    struct owed *owed = qb_ipcs_context_get(c);
    if (owed != NULL) visit(c, owed, arg);
    qb_ipcs_connection_t *next = qb_ipcs_connection_next_get(service, c);
    qb_ipcs_connection_unref(c);
    c = next;
  }
}

/* Sends what `c` is owed until its event queue is full, which it notes in `*blocked`. */
static void send_owed(qb_ipcs_connection_t *c, struct owed *owed, void *blocked) {
  event.header.size = (int32_t)(sizeof event.header + owed->size);
  while (owed->count > 0) {
    ssize_t res = qb_ipcs_event_send(c, &event, (size_t)event.header.size);
    if (retryable(res)) {
      *(int *)blocked = 1;
      return;
    }
    /* Any other failure is a connection going away: it is owed nothing more. */
    owed->count = res < 0 ? 0 : owed->count - 1;
  }
}

/*
 * Sends every connection the events it is owed; what a full queue leaves is sent again on the
 * next turn of libqb's loop (it has no drain signal), as pollux's server does.
 */
static void send_owed_events(void *unused) {
  (void)unused;
  retry_scheduled = 0;
  int blocked = 0;
  each_connection(send_owed, &blocked);
  if (blocked && !retry_scheduled) {
    retry_scheduled = 1;
    qb_loop_job_add(loop, QB_LOOP_LOW, NULL, send_owed_events);
  }
}

static void owe(qb_ipcs_connection_t *c, struct owed *owed, void *asked) {
  (void)c;
  const uint32_t *numbers = asked;
  owed->count += numbers[0];
  owed->size = numbers[1];
}

static int32_t on_request(qb_ipcs_connection_t *c, void *data, size_t size) {
  struct request *request = data;
  if (size < sizeof request->header) return 0;
  size_t payload = size - sizeof request->header;
  if (request->header.id == REQUEST_PUSH && payload == 2 * sizeof(uint32_t)) {
    uint32_t numbers[2];
    memcpy(numbers, request->payload, sizeof numbers);
    if (numbers[1] <= MAX_PAYLOAD) {
      each_connection(owe, numbers);
      send_owed_events(NULL);
    }
    return 0;
  }
  struct qb_ipc_response_header header = {
      .id = request->header.id, .size = (int32_t)(sizeof header + payload), .error = 0};
  struct iovec iov[2] = {{&header, sizeof header}, {request->payload, payload}};
  /* A full response queue empties as the client reads: it always reads when it cannot send. */
  while (retryable(qb_ipcs_response_sendv(c, iov, 2))) sched_yield();
  return 0;
}

static void on_created(qb_ipcs_connection_t *c) { qb_ipcs_context_set(c, calloc(1, sizeof(struct owed))); }

static void on_destroyed(qb_ipcs_connection_t *c) {
  free(qb_ipcs_context_get(c));
  qb_ipcs_context_set(c, NULL);
}

/* The libqb loop behind qb_ipcs_poll_handlers: libqb's own, as its examples run it. */
static int32_t job_add(enum qb_loop_priority p, void *data, qb_loop_job_dispatch_fn fn) {
  return qb_loop_job_add(loop, p, data, fn);
}
static int32_t dispatch_add(enum qb_loop_priority p, int32_t fd, int32_t events, void *data,
                            qb_ipcs_dispatch_fn_t fn) {
  return qb_loop_poll_add(loop, p, fd, events, data, fn);
}
static int32_t dispatch_mod(enum qb_loop_priority p, int32_t fd, int32_t events, void *data,
                            qb_ipcs_dispatch_fn_t fn) {
  return qb_loop_poll_mod(loop, p, fd, events, data, fn);
}
static int32_t dispatch_del(int32_t fd) { return qb_loop_poll_del(loop, fd); }

static int32_t on_sigterm(int32_t signal, void *data) {
  (void)signal;
  (void)data;
  qb_loop_stop(loop);
  return 0;
}

static int32_t on_stdin(int32_t fd, int32_t revents, void *data) {
  (void)revents;
  (void)data;
  char scratch[64];
  ssize_t r = read(fd, scratch, sizeof scratch);
  if (r > 0 || (r < 0 && errno == EINTR)) return 0;
  qb_loop_stop(loop);
  return -1;
}

static int serve(const char *transport, const char *name) {
  enum qb_ipc_type type;
  if (strcmp(transport, "shm") == 0) {
    type = QB_IPC_SHM;
  } else if (strcmp(transport, "socket") == 0) {
    type = QB_IPC_SOCKET;
  } else {
    fprintf(stderr, "unknown transport %s: expected shm or socket\n", transport);
    return 2;
  }
  for (uint32_t i = 0; i < MAX_PAYLOAD; i++) event.payload[i] = (unsigned char)i;
  loop = qb_loop_create();
  struct qb_ipcs_service_handlers handlers = {
      .connection_created = on_created, .msg_process = on_request, .connection_destroyed = on_destroyed};
  service = qb_ipcs_create(name, 0, type, &handlers);
  if (loop == NULL || service == NULL) {
    perror("qb_ipcs_create");
    return 1;
  }
  struct qb_ipcs_poll_handlers poll_handlers = {
      .job_add = job_add, .dispatch_add = dispatch_add, .dispatch_mod = dispatch_mod, .dispatch_del = dispatch_del};
  qb_ipcs_poll_handlers_set(service, &poll_handlers);
  /* libqb's fastest setting: up to 50 requests per wake-up instead of 5, at the loop's high priority. */
  qb_ipcs_request_rate_limit(service, QB_IPCS_RATE_FAST);
  int32_t res = qb_ipcs_run(service);
  if (res < 0) {
    fprintf(stderr, "qb_ipcs_run: %s\n", strerror(-res));
    return 1;
  }
  qb_loop_signal_handle sigterm;
  qb_loop_signal_add(loop, QB_LOOP_HIGH, SIGTERM, NULL, on_sigterm, &sigterm);
  qb_loop_poll_add(loop, QB_LOOP_LOW, STDIN_FILENO, POLLIN, NULL, on_stdin);
  printf("ready\n");
  fflush(stdout);
  qb_loop_run(loop);
  qb_ipcs_destroy(service);
  qb_loop_destroy(loop);
  return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Client
 * ------------------------------------------------------------------------------------------- */

struct workload {
  char kind[16];
  uint32_t size, warmup, warmup_ms, count, max_ms;
  /* Requests in flight (throughput) or clients (events); 1 otherwise. */
  uint32_t n;
};

/* What went wrong in the current workload, printed as its { "error" } line. */
static char failure[256];

static int fail(const char *what, ssize_t res) {
  snprintf(failure, sizeof failure, "%s: %s", what, strerror(res < 0 ? (int)-res : errno));
  return -1;
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static double elapsed_ms(uint64_t start) { return (double)(now_ns() - start) / 1e6; }

/* The warm-up rule of src/workloads.ts: both the count and the time floor, never past twice the floor or max_ms. */
static int warming_up(uint64_t start, uint64_t done, uint64_t count, double floor_ms, double max_ms) {
  double elapsed = elapsed_ms(start);
  double cap = 2 * floor_ms < max_ms ? 2 * floor_ms : max_ms;
  return elapsed < cap && (done < count || elapsed < floor_ms);
}

/*
 * The buffer size a connection asks for: libqb sizes each direction's ring (shm) or socket buffer
 * by it, and creating and mapping the rings is most of an shm connect's cost, so it is no larger
 * than a workload needs: every request it keeps in flight, at least 64 KiB (corosync's size when
 * built for a small footprint); for events corosync's usual 1 MiB (about 11,000 events of 64 B
 * before the server has to retry).
 */
static size_t buffer_size(const struct workload *w) {
  if (strcmp(w->kind, "events") == 0) return 1024 * 1024;
  size_t in_flight = strcmp(w->kind, "throughput") == 0 ? w->n : 1;
  size_t needed = in_flight * (sizeof(struct reply) - MAX_PAYLOAD + w->size + 64);
  return needed > 64 * 1024 ? needed : 64 * 1024;
}

static struct request request;
static struct reply reply;

static struct iovec request_iov(int32_t id, size_t payload) {
  request.header.id = id;
  request.header.size = (int32_t)(sizeof request.header + payload);
  return (struct iovec){&request, (size_t)request.header.size};
}

static int check_reply(ssize_t res, const struct workload *w) {
  if (res < 0) return fail("qb_ipcc_recv", res);
  if ((size_t)res != sizeof reply.header + w->size) {
    snprintf(failure, sizeof failure, "echo of %" PRIu32 " bytes came back as %zd", w->size,
             res - (ssize_t)sizeof reply.header);
    return -1;
  }
  return 0;
}

static int round_trip(qb_ipcc_connection_t *c, const struct workload *w) {
  struct iovec iov = request_iov(REQUEST_ECHO, w->size);
  return check_reply(qb_ipcc_sendv_recv(c, &iov, 1, &reply, sizeof reply, REPLY_TIMEOUT_MS), w);
}

/* One reply, waiting in slices so that a server gone away is noticed rather than waited for. */
static ssize_t receive_reply(qb_ipcc_connection_t *c) {
  for (int waited = 0;; waited += RECV_SLICE_MS) {
    ssize_t res = qb_ipcc_recv(c, &reply, sizeof reply, RECV_SLICE_MS);
    if (res != -ETIMEDOUT && res != -EAGAIN) return res;
    if (!qb_ipcc_is_connected(c)) return -ENOTCONN;
    if (waited >= REPLY_TIMEOUT_MS) return -ETIMEDOUT;
  }
}

static qb_ipcc_connection_t *open_client(const char *name, const struct workload *w) {
  qb_ipcc_connection_t *c = qb_ipcc_connect(name, buffer_size(w));
  if (c == NULL) fail("qb_ipcc_connect", -errno);
  return c;
}

static int compare_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static int latency(qb_ipcc_connection_t *c, const struct workload *w) {
  uint64_t warm_start = now_ns();
  for (uint64_t i = 0; warming_up(warm_start, i, w->warmup, w->warmup_ms, w->max_ms); i++)
    if (round_trip(c, w) < 0) return -1;
  uint64_t *samples = malloc((w->count > 0 ? w->count : 1) * sizeof *samples);
  if (samples == NULL) return fail("malloc", -ENOMEM);
  struct iovec iov = request_iov(REQUEST_ECHO, w->size);
  uint32_t n = 0;
  uint64_t timed_start = now_ns();
  while (n < w->count && elapsed_ms(timed_start) < w->max_ms) {
    uint64_t start = now_ns();
    ssize_t res = qb_ipcc_sendv_recv(c, &iov, 1, &reply, sizeof reply, REPLY_TIMEOUT_MS);
    samples[n++] = now_ns() - start;
    /* Checked after the clock stops: the check is ours, not libqb's cost. */
    if (check_reply(res, w) < 0) {
      free(samples);
      return -1;
    }
  }
  if (n == 0) {
    free(samples);
    return fail("no round trip within the time cap", -ETIMEDOUT);
  }
  qsort(samples, n, sizeof *samples, compare_u64);
  double sum = 0;
  for (uint32_t i = 0; i < n; i++) sum += (double)samples[i];
  /* Nearest rank: the smallest sample with at least p% of the samples at or below it. */
  uint64_t p50 = samples[(n + 1) / 2 - 1], p99 = samples[(99 * (uint64_t)n + 99) / 100 - 1];
  printf("{\"result\":{\"kind\":\"latency\",\"p50\":%.3f,\"p99\":%.3f,\"mean\":%.3f,\"min\":%.3f,\"max\":%.3f,"
         "\"count\":%" PRIu32 "}}\n",
         p50 / 1e3, p99 / 1e3, sum / n / 1e3, samples[0] / 1e3, samples[n - 1] / 1e3, n);
  free(samples);
  return 0;
}

/*
 * Sends up to `count` requests keeping `in_flight` outstanding (qb_ipcc_sendv, then qb_ipcc_recv
 * of the oldest reply, then the next request), and stops issuing after max_ms: the replies done.
 * A full request queue (EAGAIN) is met by reading a reply first.
 */
static int64_t pipeline(qb_ipcc_connection_t *c, const struct workload *w, uint64_t count, double max_ms) {
  struct iovec iov = request_iov(REQUEST_ECHO, w->size);
  uint64_t start = now_ns(), issued = 0, replies = 0;
  int stop = 0;
  while (replies < issued || (issued < count && !stop)) {
    while (!stop && issued < count && issued - replies < w->n) {
      ssize_t res = qb_ipcc_sendv(c, &iov, 1);
      if (res == -EAGAIN && issued > replies) break;
      if (res == -EAGAIN) continue;
      if (res < 0) return fail("qb_ipcc_sendv", res);
      issued++;
    }
    if (issued == replies) continue;
    if (check_reply(receive_reply(c), w) < 0) return -1;
    if (++replies % CLOCK_EVERY == 0 && elapsed_ms(start) >= max_ms) stop = 1;
  }
  return (int64_t)replies;
}

static int throughput(qb_ipcc_connection_t *c, const struct workload *w) {
  uint64_t warm_start = now_ns();
  uint64_t slice = w->warmup < 1 ? 1 : w->warmup > 10000 ? 10000 : w->warmup;
  for (uint64_t sent = 0; warming_up(warm_start, sent, w->warmup, w->warmup_ms, w->max_ms); sent += slice)
    if (pipeline(c, w, slice, w->max_ms - elapsed_ms(warm_start)) < 0) return -1;
  uint64_t start = now_ns();
  int64_t count = pipeline(c, w, w->count, w->max_ms);
  if (count < 0) return -1;
  double seconds = (double)(now_ns() - start) / 1e9, rate = (double)count / seconds;
  printf("{\"result\":{\"kind\":\"throughput\",\"count\":%" PRId64 ",\"seconds\":%.6f,\"requestsPerSecond\":%.1f,"
         "\"megabytesPerSecond\":%.3f}}\n",
         count, seconds, rate, rate * w->size / 1e6);
  return 0;
}

/*
 * Asks (through the first client) for `count` events to every connection and reads until each
 * client has them all: its seconds, or -1. Each client's fd (qb_ipcc_fd_get) is polled, and a
 * ready one drained with qb_ipcc_event_recv.
 */
static double push_round(qb_ipcc_connection_t **clients, uint32_t n, uint32_t count, const struct workload *w) {
  struct pollfd fds[MAX_CLIENTS];
  uint32_t received[MAX_CLIENTS] = {0};
  for (uint32_t i = 0; i < n; i++) {
    qb_ipcc_fd_get(clients[i], &fds[i].fd);
    fds[i].events = POLLIN;
  }
  struct {
    struct qb_ipc_request_header header;
    uint32_t numbers[2];
  } ask = {{REQUEST_PUSH, sizeof ask}, {count, w->size}};
  struct iovec iov = {&ask, sizeof ask};
  uint64_t start = now_ns();
  ssize_t sent;
  while ((sent = qb_ipcc_sendv(clients[0], &iov, 1)) == -EAGAIN) sched_yield();
  if (sent < 0) return fail("qb_ipcc_sendv", sent);
  for (uint32_t waiting = n; waiting > 0;) {
    int ready = poll(fds, n, REPLY_TIMEOUT_MS);
    if (ready == 0) return fail("events stopped coming", -ETIMEDOUT);
    if (ready < 0 && errno != EINTR) return fail("poll", -errno);
    for (uint32_t i = 0; i < n; i++) {
      if (fds[i].revents == 0) continue;
      while (received[i] < count) {
        ssize_t res = qb_ipcc_event_recv(clients[i], &reply, sizeof reply, 0);
        /* Drained (the socket transport says so with ETIMEDOUT): back to poll. */
        if (res == -EAGAIN || res == -ETIMEDOUT) break;
        if (res < 0) return fail("qb_ipcc_event_recv", res);
        if ((size_t)res != sizeof reply.header + w->size) {
          snprintf(failure, sizeof failure, "event of %" PRIu32 " bytes came as %zd", w->size,
                   res - (ssize_t)sizeof reply.header);
          return -1;
        }
        if (++received[i] == count) {
          waiting--;
          fds[i].fd = -1;
        }
      }
    }
  }
  return (double)(now_ns() - start) / 1e9;
}

static int events(qb_ipcc_connection_t **clients, const struct workload *w) {
  /* Subscribed, as for the other stacks, by a round trip each: the server then knows the connection. */
  for (uint32_t i = 1; i < w->n; i++)
    if (round_trip(clients[i], w) < 0) return -1;
  uint32_t round = w->warmup < 1 ? 1 : w->warmup;
  uint64_t warm_start = now_ns();
  for (uint64_t rounds = 0; rounds == 0 || warming_up(warm_start, rounds, 1, w->warmup_ms, w->max_ms); rounds++)
    if (push_round(clients, w->n, round, w) < 0) return -1;
  double seconds = 0;
  uint64_t per_client = 0;
  while (per_client < w->count && seconds * 1000 < w->max_ms) {
    double took = push_round(clients, w->n, round, w);
    if (took < 0) return -1;
    seconds += took;
    per_client += round;
  }
  uint64_t count = per_client * w->n;
  printf("{\"result\":{\"kind\":\"events\",\"eventsPerSecond\":%.1f,\"count\":%" PRIu64 ",\"seconds\":%.6f}}\n",
         (double)count / seconds, count, seconds);
  return 0;
}

/* Connect, one round trip, close, in sequence. */
static int connections(const char *name, const struct workload *w) {
  uint64_t warm_start = now_ns(), start = 0, count = 0;
  int timed = 0;
  for (uint64_t i = 0;; i++) {
    if (!timed && !warming_up(warm_start, i, w->warmup, w->warmup_ms, w->max_ms)) {
      timed = 1;
      start = now_ns();
    }
    if (timed && (count >= w->count || elapsed_ms(start) >= w->max_ms)) break;
    qb_ipcc_connection_t *c = open_client(name, w);
    if (c == NULL) return -1;
    int res = round_trip(c, w);
    qb_ipcc_disconnect(c);
    if (res < 0) return -1;
    if (timed) count++;
  }
  double seconds = (double)(now_ns() - start) / 1e9;
  printf("{\"result\":{\"kind\":\"connect\",\"connectionsPerSecond\":%.1f,\"count\":%" PRIu64 ",\"seconds\":%.6f}}\n",
         (double)count / seconds, count, seconds);
  return 0;
}

static int run(const char *name, const struct workload *w) {
  if (strcmp(w->kind, "connect") == 0) return connections(name, w);
  uint32_t n = strcmp(w->kind, "events") == 0 ? w->n : 1;
  qb_ipcc_connection_t *clients[MAX_CLIENTS] = {0};
  uint32_t opened = 0;
  int res = 0;
  while (opened < n && res == 0) {
    clients[opened] = open_client(name, w);
    if (clients[opened] == NULL) res = -1;
    else opened++;
  }
  if (res == 0) res = round_trip(clients[0], w);
  if (res == 0 && memcmp(reply.payload, request.payload, w->size) != 0) {
    snprintf(failure, sizeof failure, "echo returned different bytes than were sent");
    res = -1;
  }
  if (res == 0) {
    if (strcmp(w->kind, "latency") == 0) res = latency(clients[0], w);
    else if (strcmp(w->kind, "throughput") == 0) res = throughput(clients[0], w);
    else res = events(clients, w);
  }
  while (opened > 0) qb_ipcc_disconnect(clients[--opened]);
  return res;
}

static int parse(const char *spec, struct workload *w) {
  int end = 0;
  int fields = sscanf(spec, "%15[a-z],%" SCNu32 ",%" SCNu32 ",%" SCNu32 ",%" SCNu32 ",%" SCNu32 ",%" SCNu32 "%n",
                      w->kind, &w->size, &w->warmup, &w->warmup_ms, &w->count, &w->max_ms, &w->n, &end);
  int known = strcmp(w->kind, "latency") == 0 || strcmp(w->kind, "throughput") == 0 ||
              strcmp(w->kind, "events") == 0 || strcmp(w->kind, "connect") == 0;
  return fields == 7 && spec[end] == '\0' && known && w->size <= MAX_PAYLOAD && w->n >= 1 && w->n <= MAX_CLIENTS
             ? 0
             : -1;
}

static int client(const char *name, int count, char **specs) {
  for (uint32_t i = 0; i < MAX_PAYLOAD; i++) request.payload[i] = (unsigned char)i;
  for (int i = 0; i < count; i++) {
    struct workload w;
    if (parse(specs[i], &w) < 0) {
      fprintf(stderr, "bad workload %s: expected kind,size,warmup,warmupMs,count,maxMs,n\n", specs[i]);
      return 2;
    }
    failure[0] = '\0';
    /* The messages are ours (strerror and fixed text): no character in them needs escaping. */
    if (run(name, &w) < 0) printf("{\"error\":\"%s\"}\n", failure);
    fflush(stdout);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "server") == 0) return serve(argv[2], argv[3]);
  if (argc >= 3 && strcmp(argv[1], "client") == 0) return client(argv[2], argc - 3, argv + 3);
  fprintf(stderr, "usage: libqb-echo server <shm|socket> <name>\n       libqb-echo client <name> <workload>...\n");
  return 2;
}
