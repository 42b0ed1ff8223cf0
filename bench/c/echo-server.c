/*
 * The C reference echo server: this machine's floor for the node:net framing (4-byte length,
 * 4-byte id, both little-endian, then the payload; see src/framing.ts), so the node:net client
 * drives it unchanged. Single-threaded poll(2) loop with blocking sockets: a request frame is
 * echoed by writing its bytes back as they are (an echo's response frame is byte-for-byte the
 * request), all complete frames of one read(2) in one write(2). A frame with id CONTROL_ID asks
 * for `count` events of `size` bytes (two u32 in its payload) on every open connection.
 *
 * Usage: echo-server <socket path>. Prints "ready" once listening; exits on SIGTERM or when
 * stdin closes, and prints "settled" on SIGUSR2, like the Node servers (src/server-lifecycle.ts).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define HEADER_SIZE 8
#define MAX_PAYLOAD (1024 * 1024)
#define READ_SIZE (64 * 1024)
#define MAX_CONNECTIONS 4096
#define CONTROL_ID 0xffffffffu
#define EVENT_BATCH (64 * 1024)

struct conn {
  int fd;
  /* Bytes read and not yet handled: at most one partial frame between reads. Allocated on the
   * first read, so an idle connection costs only its fd and this struct. */
  unsigned char *buf;
  size_t len, cap;
};

static volatile sig_atomic_t settle_requested;
static void on_sigusr2(int signo) { (void)signo; settle_requested = 1; }

static struct pollfd fds[MAX_CONNECTIONS + 2];
static struct conn conns[MAX_CONNECTIONS + 2];
static nfds_t nfds;

static uint32_t get_u32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static void put_u32(unsigned char *p, uint32_t v) { p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24; }

/* Blocking write of everything; the client always reads, so this never deadlocks. */
static int write_all(int fd, const unsigned char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Every connection gets `count` events of `size` bytes, written in batches of whole frames. */
static void push_events(uint32_t count, uint32_t size) {
  size_t frame = HEADER_SIZE + size;
  size_t per_batch = frame >= EVENT_BATCH ? 1 : EVENT_BATCH / frame;
  unsigned char *batch = malloc(per_batch * frame);
  if (batch == NULL) return;
  for (size_t i = 0; i < per_batch; i++) {
    unsigned char *f = batch + i * frame;
    put_u32(f, size);
    put_u32(f + 4, CONTROL_ID);
    for (uint32_t b = 0; b < size; b++) f[HEADER_SIZE + b] = (unsigned char)b;
  }
  for (uint32_t sent = 0; sent < count;) {
    size_t n = count - sent < per_batch ? count - sent : per_batch;
    for (nfds_t i = 2; i < nfds; i++) write_all(fds[i].fd, batch, n * frame);
    sent += (uint32_t)n;
  }
  free(batch);
}

static void drop(nfds_t i) {
  close(fds[i].fd);
  free(conns[i].buf);
  nfds--;
  fds[i] = fds[nfds];
  conns[i] = conns[nfds];
}

/* Reads once and answers every complete frame; returns -1 when the connection is gone. */
static int serve(struct conn *c) {
  if (c->buf == NULL) {
    c->cap = READ_SIZE;
    c->buf = malloc(c->cap);
    if (c->buf == NULL) return -1;
  }
  ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
  if (r <= 0) return r < 0 && errno == EINTR ? 0 : -1;
  c->len += (size_t)r;
  size_t done = 0, echo_from = 0;
  while (c->len - done >= HEADER_SIZE) {
    uint32_t length = get_u32(c->buf + done);
    if (length > MAX_PAYLOAD) return -1;
    size_t end = done + HEADER_SIZE + length;
    if (end > c->len) {
      if (end - done > c->cap) {
        /* A frame larger than the buffer: grow it to hold the frame whole. */
        c->cap = end - done;
        unsigned char *grown = realloc(c->buf, c->cap > c->len ? c->cap : c->len);
        if (grown == NULL) return -1;
        c->buf = grown;
      }
      break;
    }
    if (get_u32(c->buf + done + 4) == CONTROL_ID && length == 8) {
      if (write_all(c->fd, c->buf + echo_from, done - echo_from) < 0) return -1;
      push_events(get_u32(c->buf + done + HEADER_SIZE), get_u32(c->buf + done + HEADER_SIZE + 4));
      echo_from = end;
    }
    done = end;
  }
  if (write_all(c->fd, c->buf + echo_from, done - echo_from) < 0) return -1;
  memmove(c->buf, c->buf + done, c->len - done);
  c->len -= done;
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: echo-server <socket path>\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  /* No SA_RESTART: the signal interrupts poll(2), so it is answered at once. */
  struct sigaction settle = {.sa_handler = on_sigusr2};
  sigaction(SIGUSR2, &settle, NULL);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(argv[1]) >= sizeof addr.sun_path) {
    fprintf(stderr, "socket path too long: %s\n", argv[1]);
    return 2;
  }
  strcpy(addr.sun_path, argv[1]);
  unlink(argv[1]);
  int listener = socket(AF_UNIX, SOCK_STREAM, 0);
  if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 1024) < 0) {
    perror("listen");
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  fds[0] = (struct pollfd){.fd = listener, .events = POLLIN};
  fds[1] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
  nfds = 2;
  for (;;) {
    int ready = poll(fds, nfds, -1);
    if (settle_requested) {
      /* Nothing to collect in C: the answer only says the signal was seen. */
      settle_requested = 0;
      printf("settled\n");
      fflush(stdout);
    }
    if (ready < 0) {
      if (errno == EINTR) continue;
      perror("poll");
      return 1;
    }
    if (fds[1].revents) {
      char scratch[64];
      if (read(STDIN_FILENO, scratch, sizeof scratch) <= 0) break;
    }
    for (nfds_t i = nfds; i-- > 2;) {
      if (fds[i].revents == 0) continue;
      if (serve(&conns[i]) < 0) drop(i);
    }
    if (fds[0].revents & POLLIN) {
      int fd = accept(listener, NULL, NULL);
      if (fd >= 0 && nfds < MAX_CONNECTIONS + 2) {
        fds[nfds] = (struct pollfd){.fd = fd, .events = POLLIN};
        conns[nfds] = (struct conn){.fd = fd};
        nfds++;
      } else if (fd >= 0) {
        close(fd);
      }
    }
  }
  unlink(argv[1]);
  return 0;
}
