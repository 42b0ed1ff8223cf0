/**
 * Progress of the whole bench on stderr. On a terminal, cli-progress draws one bar in place and
 * finished runs scroll above it; otherwise (a log, CI) one plain line per finished run, which
 * cli-progress does not do (without a terminal it prints the bar itself every few seconds, or
 * nothing).
 */
// A CommonJS module whose exports Node cannot list for named imports: imported whole.
import cliProgress, { type MultiBar, type SingleBar } from 'cli-progress';

/** Seconds as the bar and the plain lines show them ("09s", "03m05s"), rounded to a multiple of `step`. */
function clock(seconds: number, step = 1): string {
  return cliProgress.Format.TimeFormat(seconds, { autopaddingChar: '0' }, step);
}

export class Progress {
  readonly #total: number;
  readonly #start = Date.now();
  #done = 0;
  readonly #bars: MultiBar | undefined;
  readonly #bar: SingleBar | undefined;

  constructor(total: number) {
    this.#total = total;
    if (process.stderr.isTTY !== true) return;
    this.#bars = new cliProgress.MultiBar({
      stream: process.stderr,
      format: '[{bar}] {value}/{total} {duration_formatted}, ~{eta_formatted} left  {current}',
      barsize: 30,
      barCompleteChar: '#',
      barIncompleteChar: '.',
      formatTime: (seconds, _, step) => clock(seconds, step),
      // A run takes seconds: a few redraws a second keep the clock moving without costing the
      // CPUs the measured processes run on.
      fps: 2,
      // The runs differ in length by 100x; averaging over more of them steadies the estimate.
      etaBuffer: 50,
      clearOnComplete: true,
      hideCursor: true,
      gracefulExit: true,
    });
    this.#bar = this.#bars.create(total, 0, { current: '' });
  }

  /** A run begins: the bar shows what is running. */
  begin(what: string): void {
    this.#bar?.update({ current: what });
  }

  /** A run ended with `line` as its summary. */
  end(line: string): void {
    this.#done++;
    if (this.#bars === undefined) {
      const done = String(this.#done).padStart(String(this.#total).length);
      const elapsed = clock(Math.round((Date.now() - this.#start) / 1000));
      process.stderr.write(`[${done}/${this.#total} ${elapsed}] ${line}\n`);
      return;
    }
    this.#bars.log(`${line}\n`);
    this.#bar?.increment();
  }

  /** A planned run will not happen (its contender failed that workload in an earlier repeat). */
  skip(): void {
    this.#done++;
    this.#bar?.increment();
  }

  /** Removes the bar so the final table starts on a clean line. */
  finish(): void {
    this.#bars?.stop();
  }
}
