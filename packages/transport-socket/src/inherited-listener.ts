// Listening sockets this process did not create: those systemd passes (`systemd:<name>`) and
// any other inherited one (`fd:<n>`). One place knows the sd_listen_fds protocol and checks
// that an fd is a listening Unix stream socket before it is adopted.
import { IpcError, errnoCode } from '@pollux/core';
import * as sys from '@pollux/sys';

/** The first fd systemd passes (`SD_LISTEN_FDS_START`). */
const LISTEN_FDS_START = 3;

/** One socket systemd passed. */
interface PassedSocket {
  readonly fd: number;
  readonly name: string;
  /** Whether a listener took it; a taken fd is never handed out again, even once closed. */
  taken: boolean;
}

/** What the activation environment of this process held when it was first read. */
type Activation =
  | { readonly sockets: PassedSocket[] }
  /** None are this process's: why, for the error message. */
  | { readonly sockets?: undefined; readonly why: string };

let activation: Activation | undefined;

/** Fds that a listener of this process holds now, so that no fd is adopted twice. */
const listening = new Set<number>();

const ACTIVATION_VARIABLES = ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES'] as const;

/**
 * Reads `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES` once, then unsets them and marks every
 * passed fd close-on-exec, as `sd_listen_fds(1)` does: a child this process spawns must neither
 * believe the sockets are its own nor inherit them. Fds no listen takes stay open for a later one.
 */
function readActivation(): Activation {
  if (activation !== undefined) return activation;
  const env = process.env;
  const [count, pid, names] = ACTIVATION_VARIABLES.map((name) => env[name]);
  for (const name of ACTIVATION_VARIABLES) delete env[name];
  activation = parseActivation(count, pid, names);
  for (const socket of activation.sockets ?? []) {
    try {
      sys.setCloseOnExec(socket.fd, true);
    } catch {
      // Not open after all: taking it says so (EBADF) with the name it was passed under.
    }
  }
  return activation;
}

function parseActivation(count: string | undefined, pid: string | undefined, names: string | undefined): Activation {
  const advice =
    'start the server from a systemd .socket unit, or under systemd-socket-activate, or listen on a path instead';
  if (count === undefined) return { why: `LISTEN_FDS is not set, so systemd passed no sockets: ${advice}` };
  if (pid === undefined) {
    return {
      why: `LISTEN_FDS is set but LISTEN_PID is not, so the sockets are not known to be this process's: ${advice}`,
    };
  }
  if (!/^[1-9]\d*$/.test(count)) {
    return { why: `LISTEN_FDS is ${JSON.stringify(count)}, not a number of sockets: ${advice}` };
  }
  if (pid !== String(process.pid)) {
    return {
      why:
        `LISTEN_PID is ${JSON.stringify(pid)}, not this process (${process.pid}): the sockets were passed to another ` +
        'process, such as a wrapper that spawned this one instead of exec-ing it; exec the server, or pass LISTEN_PID of its own pid',
    };
  }
  const n = Number(count);
  // Unnamed sockets are called "unknown", as sd_listen_fds_with_names calls them.
  const nameList = names === undefined ? Array<string>(n).fill('unknown') : names.split(':');
  if (nameList.length !== n) {
    return {
      why: `LISTEN_FDNAMES has ${nameList.length} names for the ${n} sockets of LISTEN_FDS: fix the names passed (FileDescriptorName=, --fdname)`,
    };
  }
  return { sockets: nameList.map((name, i) => ({ fd: LISTEN_FDS_START + i, name, taken: false })) };
}

/** `systemd:<name>` or `fd:<n>` parsed: the fd to adopt, once checked. */
export interface InheritedAddress {
  /** What kind of address it was, for messages. */
  readonly kind: 'systemd' | 'fd';
  readonly fd: number;
  /** Marks the fd taken, once it has passed the checks. */
  readonly take: () => void;
}

/**
 * Parses an address that names an inherited socket: `systemd:<name>` takes the next socket systemd
 * passed under that name, `systemd:` the next one whatever its name; `fd:<n>` takes fd `n`.
 *
 * @returns `undefined` for any other address
 * @throws {@link IpcError} `ENOENT` when systemd passed no such socket (or none to this process),
 * `EINVAL` for a malformed `fd:`, `EBUSY` when a listener of this process already holds the fd.
 */
export function parseInheritedAddress(address: string): InheritedAddress | undefined {
  if (address.startsWith('systemd:')) return passedSocket(address, address.slice('systemd:'.length));
  if (!address.startsWith('fd:')) return undefined;
  const text = address.slice('fd:'.length);
  if (!/^\d{1,9}$/.test(text)) {
    throw new IpcError(
      'EINVAL',
      `${JSON.stringify(address)} does not name an fd: write fd:<n> with n a non-negative integer, such as fd:3`,
    );
  }
  const fd = Number(text);
  notListeningHere(fd, address);
  const passed = activation?.sockets?.find((socket) => socket.fd === fd);
  return {
    kind: 'fd',
    fd,
    take: () => {
      if (passed !== undefined) passed.taken = true;
    },
  };
}

function passedSocket(address: string, name: string): InheritedAddress {
  const found = readActivation();
  if (found.sockets === undefined) {
    throw new IpcError('ENOENT', `cannot listen on ${address}: ${found.why}`);
  }
  const socket = found.sockets.find((candidate) => !candidate.taken && (name === '' || candidate.name === name));
  if (socket === undefined) {
    const passed = found.sockets.map((candidate) => `${candidate.name}${candidate.taken ? ' (taken)' : ''}`).join(', ');
    const wanted = name === '' ? 'a socket' : `a socket named ${JSON.stringify(name)}`;
    throw new IpcError(
      'ENOENT',
      `cannot listen on ${address}: systemd passed no ${name === '' ? 'further socket' : `further socket named ${JSON.stringify(name)}`}; ` +
        `it passed: ${passed}. Listen on one of those, or have systemd pass ${wanted} (FileDescriptorName= in the .socket unit, systemd-socket-activate --fdname=)`,
    );
  }
  notListeningHere(socket.fd, address);
  return {
    kind: 'systemd',
    fd: socket.fd,
    take: () => {
      socket.taken = true;
    },
  };
}

function notListeningHere(fd: number, address: string): void {
  if (listening.has(fd)) {
    throw new IpcError(
      'EBUSY',
      `cannot listen on ${address}: fd ${fd} is already a listener of this process; close that listener first`,
    );
  }
}

/**
 * Checks that `fd` is a listening Unix stream socket, then makes it non-blocking and
 * close-on-exec.
 *
 * @throws {@link IpcError} `EBADF` when the fd is not open, `ENOTSOCK` when it is no socket,
 * `EAFNOSUPPORT` for another family (TCP), `EPROTOTYPE` for a datagram or seqpacket socket,
 * `EINVAL` when it does not listen.
 */
export function checkListeningSocket({ fd, kind }: InheritedAddress, address: string): void {
  const from = kind === 'systemd' ? `the socket systemd passed as fd ${fd}` : `fd ${fd}`;
  let info: sys.SocketInfo;
  try {
    info = sys.socketInfo(fd);
  } catch (error) {
    const code = IpcError.from(error, 'EIO').code;
    const what =
      code === 'EBADF'
        ? 'is not open in this process: pass the socket to it (e.g. in the stdio array of spawn) or name another fd'
        : code === 'ENOTSOCK'
          ? 'is not a socket: pass a listening Unix stream socket'
          : `cannot be inspected (${code})`;
    throw new IpcError(code, `cannot listen on ${address}: ${from} ${what}`, { cause: error });
  }
  const shown = info.address === '' ? '' : ` (${info.address})`;
  if (info.family !== 'unix') {
    throw new IpcError(
      errnoCode('EAFNOSUPPORT'),
      `cannot listen on ${address}: ${from} is a socket of family ${info.family}, not a Unix one: pollux serves Unix stream sockets (ListenStream=/path in the .socket unit)`,
    );
  }
  if (info.type !== 'stream') {
    throw new IpcError(
      errnoCode('EPROTOTYPE'),
      `cannot listen on ${address}: ${from}${shown} is a ${info.type} socket, not a stream one: use ListenStream=, not ListenDatagram= or ListenSequentialPacket=`,
    );
  }
  if (!info.listening) {
    throw new IpcError(
      'EINVAL',
      `cannot listen on ${address}: ${from}${shown} is a Unix stream socket that does not listen (a connection, or not yet listening): pass a listening one`,
    );
  }
  sys.setNonBlocking(fd, true);
  sys.setCloseOnExec(fd, true);
}

/** Notes that a listener holds `fd` from now on. */
export function holdListeningFd(fd: number): void {
  listening.add(fd);
}

/** Notes that the listener holding `fd` closed it. */
export function releaseListeningFd(fd: number): void {
  listening.delete(fd);
}
