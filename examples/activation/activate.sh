#!/bin/sh
# Plays systemd's part for a service that exits when idle, with systemd-socket-activate (from
# Debian's systemd package): holds the listening socket across the service's lifetimes and starts
# the service whenever a client knocks while none runs, as systemd does with a .socket unit.
#
#   activate.sh SOCKET_PATH COMMAND [ARGS...]
#
# The service gets the socket as fd 3 named "greeter" (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES),
# and NOTIFY_SOCKET and SYSTEMD_LOG_LEVEL when they are set here (systemd-socket-activate passes
# on only PATH, HOME, USER and TERM otherwise). systemd-socket-activate itself starts a service
# only once; holding the socket in a loop around it is what makes a second start possible.
set -eu

pass=
for name in NOTIFY_SOCKET SYSTEMD_LOG_LEVEL; do
  if [ -n "$(printenv "$name")" ]; then pass="$pass --setenv=$name"; fi
done

if [ "${1-}" = --hold ]; then
  # Started on the first client by the outer systemd-socket-activate below, with the socket as fd 3.
  shift
  while :; do
    # Waits for a client on fd 3, then runs the service with it, like systemd; again once it exits.
    sh -c 'export LISTEN_PID=$$; exec systemd-socket-activate --fdname=greeter "$@"' sh $pass "$@" || exit
  done
fi

socket=${1:?usage: activate.sh SOCKET_PATH COMMAND [ARGS...]}
shift
exec systemd-socket-activate --listen="$socket" --fdname=greeter $pass "$0" --hold "$@"
