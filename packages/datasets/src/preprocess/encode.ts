// One input line -> token ids per JSON key, as Megatron's preprocess_data.py `Encoder.encode`:
// a text (or a list of sentences) per key, empty sentences dropped, EOD appended to non-empty
// documents (counted in the last sentence).
import type { Tokenizer } from '../tokenizers/tokenizer.ts';

export type InputFormat = 'json' | 'text';

export interface EncodedDoc {
  /** Per key: the document's ids and its sentence lengths. */
  ids: number[][];
  lengths: number[][];
}

export class InputLineError extends Error {
  constructor(file: string, line: number, problem: string) {
    super(`${file}:${line}: ${problem}`);
    this.name = 'InputLineError';
  }
}

export function encodeLine(line: string, lineNo: number, file: string, format: InputFormat, keys: string[], tokenizer: Tokenizer, appendEod: boolean): EncodedDoc {
  let texts: (string | string[])[];
  if (format === 'text') {
    texts = [line];
  } else {
    let data: unknown;
    try {
      data = JSON.parse(line);
    } catch (err) {
      throw new InputLineError(file, lineNo, `malformed JSON (${(err as Error).message}); each line must be one JSON object, e.g. {"text": "..."}`);
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new InputLineError(file, lineNo, 'expected a JSON object');
    texts = keys.map((k) => {
      const v = (data as Record<string, unknown>)[k];
      if (typeof v === 'string' || (Array.isArray(v) && v.every((s) => typeof s === 'string'))) return v as string | string[];
      throw new InputLineError(file, lineNo, v === undefined ? `no key "${k}" (from --json-keys)` : `key "${k}" is neither a string nor a list of strings`);
    });
  }
  const ids: number[][] = [];
  const lengths: number[][] = [];
  for (const text of texts) {
    const doc: number[] = [];
    const lens: number[] = [];
    for (const sentence of Array.isArray(text) ? text : [text]) {
      const s = tokenizer.tokenize(sentence);
      if (s.length === 0) continue;
      for (const id of s) doc.push(id);
      lens.push(s.length);
    }
    if (doc.length > 0 && appendEod) {
      doc.push(tokenizer.eod);
      lens[lens.length - 1]! += 1;
    }
    ids.push(doc);
    lengths.push(lens);
  }
  return { ids, lengths };
}
