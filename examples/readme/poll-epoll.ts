import { Ready } from '@pollux/core';
import { socketpair, writev, close } from '@pollux/sys';
import { EpollPoller } from '@pollux/poll-epoll';

const poller = new EpollPoller();
const [a, b] = socketpair();
poller.add(a, Ready.Readable, (fd, ready) => {
  console.log(`fd ${fd} ready: ${ready}`); // Ready.Readable
  poller.remove(fd); // the last fd: the process may now exit
  close(a);
  close(b);
});
writev(b, [Buffer.from('wake up')], 1);
