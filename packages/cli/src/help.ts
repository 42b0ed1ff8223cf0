// The pollux command's manual page, printed by --help.
/** The manual page `pollux --help` prints. */
export const HELP = `NAME
    pollux - inspect and call a pollux IPC server

SYNOPSIS
    pollux status ADDRESS [--json] [--timeout MS]
    pollux connections ADDRESS [--json] [--timeout MS]
    pollux watch ADDRESS [--interval MS] [--count N] [--json] [--timeout MS]
    pollux call ADDRESS SERVICE COMMAND [PAYLOAD] [--hex | --file PATH] [--json] [--timeout MS]
    pollux --help

DESCRIPTION
    ADDRESS is the server's socket path, or @name for a Linux abstract socket.

    status, connections and watch read the server's built-in introspection service,
    which the server must enable: createServer({ introspection: true }). By default it
    admits root and the server's own user only.

COMMANDS
    status        The server's counters and one line per service.
    connections   One line per open connection, like ss -x: its id, service, the
                  client's pid, uid and gid, bytes queued for it, requests running,
                  whether reading it is paused, and its counters.
    watch         status and connections, refreshed every --interval ms (default
                  1000) until interrupted or --count refreshes; per-service request
                  and event rates since the previous refresh. On a terminal the
                  screen is redrawn; otherwise each refresh follows the last.
    call          Sends one request and prints the response. SERVICE is a service
                  name or id, COMMAND a command id (0-65535). PAYLOAD is UTF-8 text,
                  or hex with --hex; --file PATH sends a file's bytes (- for stdin).
                  The response's bytes are written to stdout as they are.

OPTIONS
    --json          Machine-readable output: one JSON document (for watch, one JSON
                    line per refresh). call prints {"ok", "bytes", "hex", "utf8"} or
                    {"ok": false, "code", "message"}.
    --timeout MS    Give up on connecting or on an answer after MS ms (default 5000).
    --interval MS   watch: time between refreshes (default 1000).
    --count N       watch: stop after N refreshes.
    --hex           call: PAYLOAD is hexadecimal (spaces allowed).
    --file PATH     call: send the bytes of PATH (- reads stdin).
    -h, --help      Print this page.

EXIT STATUS
    0     Done.
    1     call: the server's handler answered with an error (its code is printed).
    64    Usage error: unknown command or option, bad id, bad hex.
    66    The payload file cannot be read.
    69    Unavailable: no server at ADDRESS, no such service, or introspection off.
    75    Temporary failure: no answer within --timeout, or the server is full.
    76    The connection broke, or the server broke the protocol.
    77    The server refused this user.

EXAMPLES
    pollux status /run/app.sock
    pollux connections @app --json | jq '.[] | select(.stats.queuedBytes > 0)'
    pollux call /run/app.sock kv 1 mykey
    pollux call /run/app.sock 3 7 --hex '01 02 ff'
    pollux watch /run/app.sock --interval 500
`;
