/**
 * Progress of the whole bench on stderr: on a terminal one bar redrawn in place (finished runs
 * scroll above it), otherwise one plain line per finished run, which is what a log wants.
 */
const BAR_WIDTH = 30;

function clock(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

export class Progress {
  readonly #total: number;
  readonly #tty = process.stderr.isTTY === true;
  readonly #start = Date.now();
  #done = 0;
  #current = '';

  constructor(total: number) {
    this.#total = total;
  }

  /** A run begins: the bar shows what is running. */
  begin(what: string): void {
    this.#current = what;
    if (this.#tty) this.#draw();
  }

  /** A run ended with `line` as its summary. */
  end(line: string): void {
    this.#done++;
    if (!this.#tty) {
      process.stderr.write(
        `[${String(this.#done).padStart(String(this.#total).length)}/${this.#total} ${clock(Date.now() - this.#start)}] ${line}\n`,
      );
      return;
    }
    process.stderr.write(`\r\x1b[K${line}\n`);
    this.#draw();
  }

  /** A planned run will not happen (its contender failed that workload in an earlier repeat). */
  skip(): void {
    this.#done++;
  }

  /** Clears the bar so the final table starts on a clean line. */
  finish(): void {
    if (this.#tty) process.stderr.write('\r\x1b[K');
  }

  #draw(): void {
    const elapsed = Date.now() - this.#start;
    const filled = Math.round((this.#done / this.#total) * BAR_WIDTH);
    const left = this.#done === 0 ? '' : `, ~${clock((elapsed / this.#done) * (this.#total - this.#done))} left`;
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${this.#done}/${this.#total} ${clock(elapsed)}${left}  ${this.#current}`;
    process.stderr.write(`\r\x1b[K${bar.slice(0, (process.stderr.columns ?? 120) - 1)}`);
  }
}
