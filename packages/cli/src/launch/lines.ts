// Prefixes every line of a child's output stream, keeping lines whole even when the stream cuts
// them: a partial line waits for its end (or for flush() when the stream closes).

export class LinePrefixer {
  readonly #prefix: string;
  readonly #write: (text: string) => void;
  #partial = '';

  constructor(prefix: string, write: (text: string) => void) {
    this.#prefix = prefix;
    this.#write = write;
  }

  push(chunk: Buffer | string): void {
    const text = this.#partial + chunk.toString();
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      this.#partial = text;
      return;
    }
    this.#partial = text.slice(end + 1);
    const lines = text.slice(0, end).split('\n');
    this.#write(lines.map((l) => `${this.#prefix}${l}\n`).join(''));
  }

  /** Writes a last line that had no newline. */
  flush(): void {
    if (this.#partial) this.#write(`${this.#prefix}${this.#partial}\n`);
    this.#partial = '';
  }
}
