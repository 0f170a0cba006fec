// Read plans: for one Tessera parameter on one tensor-parallel rank, which ranges of which
// checkpoint tensors to read, in order, to build exactly that rank's slice. Plans are computed
// from the name map, the sizes and the rank alone, before any tensor data is touched.
import type { Range } from '../safetensors/selection.ts';
import { evenSplit, type GptDims, qkvRows, type TpRank, vocabRows } from './layout.ts';
import type { NameMap, NameMapEntry } from './names/types.ts';
import { fullShape } from './shapes.ts';

/** A range of one checkpoint tensor, or (without a source) rows of zeros (vocab padding). */
export interface Piece {
  readonly source?: string;
  readonly range: Range;
}

export interface ReadPlan {
  readonly tessera: string;
  /** This rank's shape, in Tessera's [out, in] orientation. */
  readonly shape: readonly number[];
  /** The dimension (Tessera orientation) the pieces are ranges of; they are concatenated along it. */
  readonly dim: number;
  readonly pieces: readonly Piece[];
  /** Sources are stored [in, out] and the result is transposed. */
  readonly transposed: boolean;
  /** Each source's full shape as the checkpoint must store it. */
  readonly sources: ReadonlyMap<string, readonly number[]>;
  /** The dimension Megatron partitions (undefined when replicated). */
  readonly partitionDim: number | undefined;
}

export interface PlanContext {
  readonly map: NameMap;
  readonly dims: GptDims;
  readonly gated: boolean;
  readonly tied: boolean;
  readonly tp: TpRank;
  /** The body prefix the checkpoint uses ('transformer.', 'model.', ''). */
  readonly prefix: string;
}

const patternCache = new WeakMap<NameMapEntry, RegExp>();
function pattern(entry: NameMapEntry): RegExp {
  let re = patternCache.get(entry);
  if (!re) {
    re = new RegExp(`^${entry.tessera.replaceAll('.', '\\.').replace('{i}', '(\\d+)')}$`);
    patternCache.set(entry, re);
  }
  return re;
}

/** The map entry for a Tessera name and its layer number, if any. */
function findEntry(ctx: PlanContext, name: string): { entry: NameMapEntry; layer: string } | undefined {
  const entries = ctx.tied ? [...ctx.map.entries.filter((e) => e.tessera !== ctx.map.tiedOutput.tessera), ctx.map.tiedOutput] : ctx.map.entries;
  for (const entry of entries) {
    const m = pattern(entry).exec(name);
    if (m) return { entry, layer: m[1] ?? '' };
  }
  return undefined;
}

/** The checkpoint names an entry reads, for a layer. */
export function checkpointNames(ctx: PlanContext, entry: NameMapEntry, layer: string): string[] {
  const names = typeof entry.hf === 'string' ? [entry.hf] : [...entry.hf];
  return names.map((n) => (entry.root ? '' : ctx.prefix) + n.replace('{i}', layer));
}

const orient = (shape: readonly number[], transposed: boolean) => (transposed && shape.length === 2 ? [shape[1] as number, shape[0] as number] : [...shape]);

/**
 * The plan for Tessera parameter `name` on this rank, or a string saying why there is none
 * (a name the map does not cover, or a layer beyond numLayers).
 */
export function planFor(ctx: PlanContext, name: string): ReadPlan | string {
  const found = findEntry(ctx, name);
  if (!found) return `no entry in the ${ctx.map.family} name map`;
  const { entry, layer } = found;
  if (layer !== '' && Number(layer) >= ctx.dims.numLayers) return `layer ${layer} is beyond the config's ${ctx.dims.numLayers} layers`;
  const full = fullShape(name, ctx.dims, ctx.gated);
  if (!full) return 'not a parameter of the GPT layout in docs/design/tensor-parallel-api.md';
  const srcs = checkpointNames(ctx, entry, layer);
  const rest = full.slice(1);
  const { dims, tp } = ctx;
  const t = entry.transposed ?? false;
  const sources = new Map<string, readonly number[]>();
  const local = [...full];
  let dim = 0;
  let partitionDim: number | undefined = 0;
  let pieces: Piece[];
  const one = srcs[0] as string;
  const expectSources = (...count: number[]) => {
    if (!count.includes(srcs.length)) throw new Error(`name map ${ctx.map.family}: '${entry.tessera}' (${entry.split}) needs ${count.join(' or ')} source name(s), has ${srcs.length}`);
  };
  switch (entry.split) {
    case 'replicated':
      expectSources(1);
      sources.set(one, orient(full, t));
      pieces = [{ source: one, range: [0, full[0] as number] }];
      partitionDim = undefined;
      break;
    case 'column':
    case 'row': {
      expectSources(1);
      dim = entry.split === 'column' ? 0 : 1;
      partitionDim = dim;
      sources.set(one, orient(full, t));
      const range = evenSplit(full[dim] as number, tp, `${name} dimension ${dim}`);
      local[dim] = range[1] - range[0];
      pieces = [{ source: one, range }];
      break;
    }
    case 'vocab': {
      expectSources(1);
      sources.set(one, orient([dims.vocabSize, ...rest], t));
      const { real, padding } = vocabRows(dims, tp);
      local[0] = real[1] - real[0] + padding;
      pieces = [{ source: one, range: real }];
      if (padding) pieces.push({ range: [0, padding] });
      break;
    }
    case 'qkv': {
      expectSources(1, 3);
      const { numAttentionHeads: nq, numQueryGroups: g, kvChannels: d } = dims;
      const rows = qkvRows(dims, tp);
      local[0] = (full[0] as number) / tp.size;
      if (srcs.length === 1) {
        // One packed [q; k; v] tensor: the parts start at 0, nq*d and (nq+g)*d.
        sources.set(one, orient(full, t));
        const base = { q: 0, k: nq * d, v: (nq + g) * d };
        pieces = rows.map((r) => ({ source: one, range: [base[r.part] + r.rows[0], base[r.part] + r.rows[1]] as const }));
      } else {
        const [q, k, v] = srcs as [string, string, string];
        sources.set(q, orient([nq * d, ...rest], t));
        sources.set(k, orient([g * d, ...rest], t));
        sources.set(v, orient([g * d, ...rest], t));
        const by = { q, k, v };
        pieces = rows.map((r) => ({ source: by[r.part], range: r.rows }));
      }
      break;
    }
    case 'glu': {
      expectSources(2);
      const [gate, up] = srcs as [string, string];
      const f = dims.ffnHiddenSize;
      sources.set(gate, orient([f, ...rest], t));
      sources.set(up, orient([f, ...rest], t));
      const range = evenSplit(f, tp, 'the FFN hidden size');
      local[0] = 2 * (range[1] - range[0]);
      pieces = [{ source: gate, range }, { source: up, range }];
      break;
    }
  }
  return { tessera: name, shape: local, dim, pieces, transposed: t && full.length === 2, sources, partitionDim };
}
