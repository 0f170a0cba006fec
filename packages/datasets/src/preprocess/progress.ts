// Progress for long preprocessing runs: a redrawn bar on a terminal, else a log line every
// `logInterval` documents (like Megatron's "Processed N documents (x docs/s, y MB/s).").
export class Progress {
  private readonly total: number;
  private readonly start = performance.now();
  private readonly tty: boolean;
  private readonly logInterval: number;
  private readonly out: NodeJS.WriteStream;
  private lastDraw = 0;
  private nextLog: number;
  private enabled: boolean;

  constructor(totalBytes: number, options: { logInterval?: number; enabled?: boolean; out?: NodeJS.WriteStream } = {}) {
    this.total = totalBytes;
    this.out = options.out ?? process.stderr;
    this.tty = Boolean(this.out.isTTY);
    this.logInterval = options.logInterval ?? 1000;
    this.nextLog = this.logInterval;
    this.enabled = options.enabled ?? true;
  }

  update(bytes: number, docs: number, tokens: number): void {
    if (!this.enabled) return;
    const now = performance.now();
    const secs = (now - this.start) / 1000;
    const rate = `${(docs / Math.max(secs, 1e-9)).toFixed(0)} docs/s, ${(bytes / 2 ** 20 / Math.max(secs, 1e-9)).toFixed(2)} MB/s, ${(tokens / 1e6 / Math.max(secs, 1e-9)).toFixed(2)}M tokens/s`;
    if (this.tty) {
      if (now - this.lastDraw < 200) return;
      this.lastDraw = now;
      const frac = this.total > 0 ? Math.min(1, bytes / this.total) : 1;
      const width = 30;
      const filled = Math.round(frac * width);
      this.out.write(`\r[${'='.repeat(filled)}${filled < width ? '>' : ''}${' '.repeat(Math.max(0, width - filled - 1))}] ${(frac * 100).toFixed(1)}% ${docs} docs (${rate})`);
    } else if (docs >= this.nextLog) {
      while (this.nextLog <= docs) this.nextLog += this.logInterval;
      this.out.write(`Processed ${docs} documents (${rate}).\n`);
    }
  }

  done(docs: number, tokens: number): void {
    if (!this.enabled) return;
    const secs = (performance.now() - this.start) / 1000;
    if (this.tty) this.out.write('\n');
    this.out.write(`Done: ${docs} documents, ${tokens} tokens in ${secs.toFixed(2)} s (${(tokens / 1e6 / Math.max(secs, 1e-9)).toFixed(2)}M tokens/s).\n`);
  }
}
