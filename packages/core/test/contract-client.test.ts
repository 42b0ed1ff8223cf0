import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { contractClient, defineContract, jsonCodec, type ContractTarget } from '../src/index.js';

const feed = defineContract({
  id: 3,
  name: 'feed',
  commands: {},
  events: { tick: { id: 1, payload: jsonCodec<number>() }, tock: { id: 2, payload: jsonCodec<number>() } },
});

/** A client that only carries events, emitted by the test. */
class EventTarget extends EventEmitter implements ContractTarget {
  readonly serviceId = feed.id;
  readonly serviceName = feed.name;
  request(): Promise<Buffer> {
    return Promise.reject(new Error('no commands here'));
  }
  send(event: number, value: number): void {
    this.emit('event', event, Buffer.from(JSON.stringify(value)));
  }
}

describe('contractClient subscriptions', () => {
  it('hand each event to the subscriptions made before it came, as EventEmitter listeners would', () => {
    const target = new EventTarget();
    const typed = contractClient(target, feed);
    const seen: string[] = [];
    // A listener that subscribes the next one and disposes itself gets each event once.
    const arm = (n: number): void => {
      const subscription = typed.on('tick', (value) => {
        seen.push(`${n}:${value}`);
        if (n < 3) arm(n + 1);
        subscription.dispose();
      });
    };
    arm(1);
    target.send(1, 10);
    target.send(1, 20);
    expect(seen).toEqual(['1:10', '2:20']);

    // Disposed from inside an earlier one, a later subscription still gets the event under way.
    let later: { dispose(): void } | undefined;
    typed.on('tock', () => later?.dispose());
    later = typed.on('tock', (value) => seen.push(`later:${value}`));
    target.send(2, 1);
    target.send(2, 2);
    expect(seen.slice(2)).toEqual(['later:1']);
  });

  it('keep one listener on the client while any subscription lives', () => {
    const target = new EventTarget();
    const typed = contractClient(target, feed);
    const values: number[] = [];
    const subscriptions = [typed.on('tick', (v) => values.push(v)), typed.on('tock', (v) => values.push(-v))];
    expect(target.listenerCount('event')).toBe(1);
    subscriptions[0]!.dispose();
    subscriptions[0]!.dispose();
    expect(target.listenerCount('event')).toBe(1);
    target.send(1, 1);
    target.send(2, 2);
    subscriptions[1]!.dispose();
    expect(target.listenerCount('event')).toBe(0);
    target.send(2, 3);
    typed.on('tick', (v) => values.push(v));
    target.send(1, 4);
    expect(values).toEqual([-2, 4]);
  });
});
