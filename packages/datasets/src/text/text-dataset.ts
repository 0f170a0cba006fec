// The quick path for fine-tuning on a small text file: tokenize it in memory, concatenate the
// documents (each ended with EOD) and cut blocks of blockSize + 1 tokens that share their
// boundary token, like GPT samples. No files, no caches.
import { readFileSync } from 'node:fs';
import type { GPTSample } from '../gpt/gpt-dataset.ts';
import { ltorMasks } from '../gpt/masks.ts';
import { RandomState } from '../random/random-state.ts';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';

export interface TextDatasetOptions {
  blockSize: number;
  /** Documents are lines (default) or paragraphs separated by blank lines. */
  documents?: 'lines' | 'paragraphs';
  appendEod?: boolean;
  /** Shuffle the blocks with this seed (numpy RandomState); unshuffled when undefined. */
  seed?: number;
  createAttentionMask?: boolean;
}

export class TextDataset {
  readonly tokens: Int32Array;
  readonly blockSize: number;
  readonly order: Uint32Array;
  private readonly eod: number;
  private readonly createAttentionMask: boolean;

  constructor(tokens: Int32Array, eod: number, options: TextDatasetOptions) {
    if (!(Number.isInteger(options.blockSize) && options.blockSize > 0)) throw new RangeError(`blockSize must be a positive integer, got ${options.blockSize}`);
    this.tokens = tokens;
    this.eod = eod;
    this.blockSize = options.blockSize;
    this.createAttentionMask = options.createAttentionMask ?? false;
    const n = Math.max(0, Math.floor((tokens.length - 1) / this.blockSize));
    if (n === 0) throw new Error(`the text has ${tokens.length} tokens, too few for one block of ${this.blockSize} + 1`);
    this.order = new Uint32Array(n).map((_, i) => i);
    if (options.seed !== undefined) new RandomState(options.seed).shuffle(this.order);
  }

  static fromText(text: string, tokenizer: Tokenizer, options: TextDatasetOptions): TextDataset {
    const docs = options.documents === 'paragraphs' ? text.split(/\n\s*\n/) : text.split('\n');
    const ids: number[] = [];
    for (const doc of docs) {
      if (doc.trim() === '') continue;
      for (const id of tokenizer.tokenize(doc)) ids.push(id);
      if (options.appendEod ?? true) ids.push(tokenizer.eod);
    }
    return new TextDataset(Int32Array.from(ids), tokenizer.eod, options);
  }

  static fromFile(path: string, tokenizer: Tokenizer, options: TextDatasetOptions): TextDataset {
    return TextDataset.fromText(readFileSync(path, 'utf8'), tokenizer, options);
  }

  get length(): number {
    return this.order.length;
  }

  get(i: number): GPTSample {
    if (!(i >= 0 && i < this.length)) throw new RangeError(`TextDataset: block ${i} is outside [0, ${this.length})`);
    const at = this.order[i]! * this.blockSize;
    const tokens = this.tokens.slice(at, at + this.blockSize);
    const labels = this.tokens.slice(at + 1, at + this.blockSize + 1);
    const m = ltorMasks(tokens, { eod: this.eod, resetPositionIds: false, resetAttentionMask: false, eodMaskLoss: false, createAttentionMask: this.createAttentionMask });
    return { tokens, labels, lossMask: m.lossMask, positionIds: m.positionIds, attentionMask: m.attentionMask };
  }
}
