// FrameLink and a channel that can wait for the peer's answer (Channel.awaitReadable, shared memory's spin).
import { describe, expect, it } from 'vitest';
import { IpcError, Ready, type Channel, type ReadyMask } from '@pollux/core';
import { ManualPoller, type ReadinessSource } from '@pollux/core/testing';
import { FrameLink, type LinkOwner } from '../../src/link/frame-link.js';
import { EAGAIN } from '../../src/errors.js';
import { FrameKind } from '../../src/protocol/frame.js';
import { frame, frames } from './memory-bed.js';

const FD = 7;

/**
 * A peer that answers every write within the wait, for as long as the test lets it: each awaited
 * read finds one request there, numbered on. Readable to the poller while a request waits.
 */
class AnsweringChannel implements Channel {
  readonly fd = FD;
  readonly credentials = { pid: 1, uid: 0, gid: 0 };
  readonly written: Buffer[] = [];
  /** The requests the peer still has in it: each wait that finds one returns true. */
  answersLeft: number;
  awaited = 0;
  private waiting: Buffer | undefined;
  private sent = 0;

  constructor(answers: number) {
    this.answersLeft = answers;
    this.arrive();
  }

  /** What the poller sees of it. */
  readonly source: ReadinessSource = {
    readiness: (fd: number, interest: ReadyMask): ReadyMask | undefined => {
      if (fd !== FD) return undefined;
      return this.waiting !== undefined ? interest & Ready.Readable : 0;
    },
    version: 0,
  };

  read(buffer: Uint8Array, offset: number, length: number): number {
    const waiting = this.waiting;
    if (waiting === undefined) return EAGAIN;
    const n = Math.min(length, waiting.length);
    buffer.set(waiting.subarray(0, n), offset);
    this.waiting = n === waiting.length ? undefined : waiting.subarray(n);
    return n;
  }

  writev(chunks: readonly Uint8Array[], count: number): number {
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      this.written.push(Buffer.from(chunks[i]!));
      bytes += chunks[i]!.length;
    }
    return bytes;
  }

  awaitReadable(): boolean {
    this.awaited++;
    if (this.waiting === undefined && this.answersLeft > 0) {
      this.answersLeft--;
      this.arrive();
    }
    return this.waiting !== undefined;
  }

  close(): void {}

  /** The peer writes its next request. */
  arrive(): void {
    this.waiting = frame(FrameKind.Request, 1, this.sent++, Buffer.from('ping'));
  }
}

/** An owner that answers each request at once, and counts what it handled; it expects a request after each answer. */
function answeringOwner(link: () => FrameLink, handled: number[]): LinkOwner {
  let answered = false;
  return {
    frame: (_kind, _code, id, payload) => {
      handled.push(id);
      answered = true;
      link().send(FrameKind.Response, 0, id, Buffer.from(payload));
    },
    expectsPeer: () => {
      const expects = answered;
      answered = false;
      return expects;
    },
    admitsNext: () => true,
    readLimit: () => Number.POSITIVE_INFINITY,
    inputChanged: () => {},
    flushed: () => undefined,
    outputBlocked: () => undefined,
    ended: () => undefined,
  };
}

/** A started link over `channel` whose owner answers each request at once, on a manual poller. */
function startAnswering(channel: AnsweringChannel): { poller: ManualPoller; handled: number[]; link: FrameLink } {
  const poller = new ManualPoller(channel.source);
  const handled: number[] = [];
  const link: FrameLink = new FrameLink(
    channel,
    poller,
    answeringOwner(() => link, handled),
    { bytesIn: 0, bytesOut: 0 },
    1 << 20,
    Number.POSITIVE_INFINITY,
  );
  link.start();
  return { poller, handled, link };
}

describe('reads of answers a channel waited for', () => {
  it('go back to the poller after a bounded run, however fast the peer answers, and hand each frame over once', () => {
    const channel = new AnsweringChannel(1000);
    const { poller, handled, link } = startAnswering(channel);
    // One readiness: the request that was there, then awaited answers up to the bound, then the
    // turn ends although the peer would answer on; nothing read is left unanswered.
    poller.turn();
    const firstTurn = handled.length;
    // The request the readiness found, and one per awaited read: MAX_AWAITED_READS of them.
    expect(firstTurn).toBe(1 + 32);
    expect(frames(Buffer.concat(channel.written)).map((f) => f.id)).toEqual(handled);
    // Asleep, it is woken by the peer's next request: another bounded run.
    expect(poller.turn()).toBe(false);
    channel.arrive();
    poller.turn();
    expect(handled.length).toBe(2 * firstTurn);
    expect(handled).toEqual(Array.from({ length: handled.length }, (_, i) => i));
    link.destroy(new IpcError('ECONNRESET', 'test over'));
  });

  it('are not waited for after a write the owner expects no answer to, such as an event', () => {
    // A peer that sends one request and then nothing.
    const channel = new AnsweringChannel(0);
    const { poller, handled, link } = startAnswering(channel);
    poller.turn();
    // The answer was awaited, once: nothing came.
    expect(handled).toEqual([0]);
    expect(channel.awaited).toBe(1);
    link.send(FrameKind.Event, 1, 0, Buffer.from('news'));
    poller.turn();
    expect(frames(Buffer.concat(channel.written)).map((f) => f.kind)).toEqual([FrameKind.Response, FrameKind.Event]);
    expect(channel.awaited).toBe(1);
    link.destroy(new IpcError('ECONNRESET', 'test over'));
  });

  it('are not waited for while reading is paused, or once the link is closing', () => {
    const channel = new AnsweringChannel(1000);
    const poller = new ManualPoller(channel.source);
    const handled: number[] = [];
    const owner = answeringOwner(() => link, handled);
    const link: FrameLink = new FrameLink(
      channel,
      poller,
      {
        ...owner,
        frame: (kind, code, id, payload, fds) => {
          owner.frame(kind, code, id, payload, fds);
          link.pause(true);
        },
      },
      { bytesIn: 0, bytesOut: 0 },
      1 << 20,
      Number.POSITIVE_INFINITY,
    );
    link.start();
    poller.turn();
    // The answer went out; the paused link did not wait for the next request.
    expect(handled).toEqual([0]);
    expect(channel.awaited).toBe(0);
    expect(frames(Buffer.concat(channel.written)).map((f) => f.id)).toEqual([0]);
    link.send(FrameKind.Event, 1, 0, Buffer.from('news'));
    link.close(new IpcError('ESHUTDOWN', 'test over'), undefined);
    expect(channel.awaited).toBe(0);
    expect(frames(Buffer.concat(channel.written)).map((f) => f.kind)).toEqual([FrameKind.Response, FrameKind.Event]);
  });
});
