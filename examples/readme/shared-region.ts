import { SharedRegion, SharedRegionView } from '@pollux/shared-region';
import { close, recvmsg, sendmsg, socketpair } from '@pollux/sys';

// The writer: a region of one 16-byte record, sealed so that only this mapping can write it.
const region = SharedRegion.create({ name: 'pose', size: 16 });
region.write(new Uint8Array(new Float64Array([1.5, 2.5]).buffer));

// The hand-over: the fd travels over a Unix socket (SCM_RIGHTS), as a connection will carry it.
const [server, client] = socketpair();
sendmsg(server, [new Uint8Array([0])], 1, [region.fd]);
const received: number[] = [];
recvmsg(client, new Uint8Array(1), 0, 1, received);
close(server);
close(client);

// The reader: a read-only mapping, and a consistent copy of the record on every read.
const view = SharedRegionView.open(received[0]!, { size: 16 });
close(received[0]!); // the mapping needs no fd
const pose = new Float64Array(2);
const writes = view.read(new Uint8Array(pose.buffer));
console.log(writes, pose); // 1 Float64Array(2) [ 1.5, 2.5 ]
view.close();
region.close();
