{
  "targets": [
    {
      "target_name": "pollux_sys",
      "sources": [
        "native/addon.c",
        "native/unix_socket.c",
        "native/io.c",
        "native/poll.c",
        "native/fd_watcher.c"
      ],
      "defines": ["_GNU_SOURCE", "NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-O2"],
      "cflags!": ["-O3", "-Wno-unused-parameter"],
      "cflags_c": ["-std=gnu11"]
    }
  ]
}
