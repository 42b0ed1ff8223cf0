import { close, read, socketpair, writev } from '@pollux/sys';

const [a, b] = socketpair();
const encoder = new TextEncoder();
const sent = writev(a, [encoder.encode('hello, '), encoder.encode('world')], 2);
const buffer = new Uint8Array(64);
const got = read(b, buffer, 0, buffer.length);
console.log(sent, got, new TextDecoder().decode(buffer.subarray(0, got))); // 12 12 hello, world
console.log(read(b, buffer, 0, buffer.length)); // -11: -EAGAIN, nothing left
close(a);
close(b);
