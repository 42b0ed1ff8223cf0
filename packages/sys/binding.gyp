{
  "variables": {
    # The project's own CI sets POLLUX_WERROR=1: warnings fail CI there, but a newer compiler's
    # new warning never fails a user's install.
    "pollux_werror%": "<!(echo ${POLLUX_WERROR:-0})"
  },
  "targets": [
    {
      "target_name": "pollux_sys",
      "sources": [
        "native/addon.c",
        "native/unix_socket.c",
        "native/io.c",
        "native/poll.c",
        "native/fd_watcher.c",
        "native/shared_memory.c",
        "native/epoll_set.c"
      ],
      "defines": ["_GNU_SOURCE", "NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "cflags!": ["-O3", "-Wno-unused-parameter"],
      "cflags_c": ["-std=gnu11"],
      "conditions": [
        ["pollux_werror==1", { "cflags": ["-Werror"] }]
      ]
    }
  ]
}
