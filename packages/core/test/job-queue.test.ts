import { describe, expect, it } from 'vitest';
import { JobQueue, runAsMicrotask } from '../src/index.js';

describe('JobQueue', () => {
  it('runs the jobs queued before a batch, in order; those queued meanwhile wait for the next', () => {
    const jobs = new JobQueue();
    const ran: string[] = [];
    jobs.push(() => {
      ran.push('a');
      jobs.push(() => ran.push('c'));
    });
    jobs.push(() => ran.push('b'));
    jobs.run();
    expect(ran).toEqual(['a', 'b']);
    expect(jobs.size).toBe(1);
    jobs.run();
    expect(ran).toEqual(['a', 'b', 'c']);
    expect(jobs.size).toBe(0);
  });

  it('runs every job once when a job runs a batch of its own (a host pumping from inside a job)', () => {
    const jobs = new JobQueue();
    const ran: string[] = [];
    jobs.push(() => {
      ran.push('a');
      jobs.push(() => {
        ran.push('c');
        jobs.push(() => ran.push('d'));
      });
      jobs.run();
    });
    jobs.push(() => ran.push('b'));
    jobs.run();
    // d was queued by the inner batch, so it waits for the next one, like any job queued by a job.
    expect(ran).toEqual(['a', 'c', 'b']);
    expect(jobs.push(() => ran.push('e'))).toBe(false);
    jobs.run();
    expect(ran).toEqual(['a', 'c', 'b', 'd', 'e']);
    jobs.run();
    expect(ran).toEqual(['a', 'c', 'b', 'd', 'e']);
  });

  it('says when a push found it empty, batch after batch', () => {
    const jobs = new JobQueue();
    for (let round = 0; round < 3; round++) {
      expect(jobs.push(() => undefined)).toBe(true);
      expect(jobs.push(() => undefined)).toBe(false);
      jobs.run();
      expect(jobs.size).toBe(0);
    }
  });
});

describe('runAsMicrotask', () => {
  it('runs after the code running now, in order with the microtasks queued around it', async () => {
    const ran: string[] = [];
    queueMicrotask(() => ran.push('before'));
    runAsMicrotask(() => ran.push('job'));
    queueMicrotask(() => ran.push('after'));
    ran.push('now');
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(ran).toEqual(['now', 'before', 'job', 'after']);
  });
});
