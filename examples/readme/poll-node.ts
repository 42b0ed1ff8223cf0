import { Ready } from '@pollux/core';
import { socketpair, writev, close } from '@pollux/sys';
import { NodePoller } from '@pollux/poll-node';

const poller = new NodePoller();
const [a, b] = socketpair();
poller.add(a, Ready.Readable, (fd, ready) => {
  console.log(`fd ${fd} ready: ${ready}`); // Ready.Readable
  poller.remove(fd);
  close(a);
  close(b);
});
writev(b, [Buffer.from('wake up')], 1);
