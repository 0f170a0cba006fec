// Reads a text file as batches of lines, with the byte position for progress reporting.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export interface LineBatch {
  firstLine: number;
  lines: string[];
  bytesRead: number;
}

export function* readLineBatches(path: string, batchLines: number, chunkBytes = 4 << 20): Generator<LineBatch> {
  const fd = openSync(path, 'r');
  try {
    const decoder = new TextDecoder('utf-8', { fatal: false });
    const buf = new Uint8Array(chunkBytes);
    let rest = '';
    let lineNo = 1;
    let bytesRead = 0;
    let batch: string[] = [];
    let first = 1;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      bytesRead += n;
      const text = rest + decoder.decode(buf.subarray(0, n), { stream: n > 0 });
      const parts = text.split('\n');
      rest = n > 0 ? parts.pop()! : '';
      if (n === 0 && parts[parts.length - 1] === '') parts.pop(); // a final newline ends the last line
      for (const p of parts) {
        batch.push(p.endsWith('\r') ? p.slice(0, -1) : p);
        lineNo++;
        if (batch.length >= batchLines) {
          yield { firstLine: first, lines: batch, bytesRead };
          batch = [];
          first = lineNo;
        }
      }
      if (n === 0) break;
    }
    if (batch.length) yield { firstLine: first, lines: batch, bytesRead };
  } finally {
    closeSync(fd);
  }
}

export function fileSize(path: string): number {
  const fd = openSync(path, 'r');
  try {
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}
