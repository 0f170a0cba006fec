// A one-line progress bar on stderr (when it is a terminal), else a line every `every` steps.
export class Progress {
  readonly total: number;
  readonly label: string;
  readonly enabled: boolean;
  #start = performance.now();
  #last = performance.now();

  constructor(total: number, label: string, enabled: boolean) {
    this.total = total;
    this.label = label;
    this.enabled = enabled;
  }

  update(done: number, info: string): void {
    if (!this.enabled) return;
    const now = performance.now();
    const stepMs = now - this.#last;
    this.#last = now;
    const width = 24;
    const filled = Math.round((width * done) / this.total);
    const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
    const text = `${this.label} [${bar}] ${done}/${this.total} ${info} ${stepMs.toFixed(0)} ms/step`;
    if (process.stderr.isTTY) {
      process.stderr.write(`\r${text}`);
      if (done === this.total) process.stderr.write('\n');
    } else if (done % Math.max(1, Math.floor(this.total / 10)) === 0 || done === this.total) {
      process.stderr.write(`${text}\n`);
    }
  }

  get elapsedSeconds(): number {
    return (performance.now() - this.#start) / 1000;
  }
}
