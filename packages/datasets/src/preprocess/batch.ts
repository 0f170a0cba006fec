// Encodes a batch of lines into flat arrays (cheap to move between threads).
import type { Tokenizer } from '../tokenizers/tokenizer.ts';
import { encodeLine } from './encode.ts';
import type { BatchRequest, BatchResult, WorkerConfig } from './protocol.ts';

export function encodeBatch(req: BatchRequest, config: WorkerConfig, tokenizer: Tokenizer): BatchResult {
  const perKey = config.keys.map(() => ({ ids: [] as number[], lengths: [] as number[], sentencesPerDoc: [] as number[] }));
  let docs = 0;
  let tokens = 0;
  try {
    req.lines.forEach((line, k) => {
      if (config.format === 'text' && line.trim() === '') return; // blank lines separate nothing in text mode
      const doc = encodeLine(line, req.firstLine + k, config.file, config.format, config.keys, tokenizer, config.appendEod);
      docs++;
      doc.ids.forEach((ids, i) => {
        const out = perKey[i]!;
        for (const id of ids) out.ids.push(id);
        for (const l of doc.lengths[i]!) out.lengths.push(l);
        out.sentencesPerDoc.push(doc.lengths[i]!.length);
        tokens += ids.length;
      });
    });
  } catch (err) {
    return { seq: req.seq, keys: [], docs, tokens, error: (err as Error).message };
  }
  return {
    seq: req.seq,
    docs,
    tokens,
    keys: perKey.map((k) => ({ ids: Int32Array.from(k.ids), lengths: Int32Array.from(k.lengths), sentencesPerDoc: Int32Array.from(k.sentencesPerDoc) })),
  };
}
