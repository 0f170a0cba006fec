// Which transformer layers each pipeline stage (and each of its virtual chunks) holds. Virtual
// stages are numbered chunk-major, vs = chunk * pp + rank, and own contiguous layer blocks in that
// order (Megatron's get_transformer_layer_offset): with 8 layers, pp = 2, v = 2, rank 0 holds
// [0, 2) and [4, 6), rank 1 [2, 4) and [6, 8). By default every virtual stage gets the same
// number of layers; firstStageLayers / lastStageLayers (Megatron's
// --decoder-first/last-pipeline-num-layers) set the first and last rank's share and the middle
// ranks split the rest evenly.
import { PipelineConfigError, positiveInteger } from './errors.ts';

export interface LayerSplitOptions {
  numLayers: number;
  pipelineSize: number;
  /** Model chunks per rank (interleaved schedule); default 1. */
  virtualPipelineSize?: number;
  /** Layers on the first rank (all its chunks together); default: an even share. */
  firstStageLayers?: number;
  /** Layers on the last rank (all its chunks together); default: an even share. */
  lastStageLayers?: number;
}

/** What one model chunk builds: GPTModel's preProcess, postProcess and layerRange options. */
export interface StageLayers {
  /** Holds the embedding (virtual stage 0). */
  preProcess: boolean;
  /** Holds the final norm, output layer and loss (the last virtual stage). */
  postProcess: boolean;
  /** Global layers [start, end). */
  layerRange: [number, number];
}

/** Layers per rank (all chunks), checked against the rules. */
function layersPerRank(o: LayerSplitOptions, pp: number, v: number): number[] {
  const L = o.numLayers;
  const { firstStageLayers: first, lastStageLayers: last } = o;
  if (first === undefined && last === undefined) {
    if (L % (pp * v) !== 0) {
      throw new PipelineConfigError('layers-divisible', `the number of layers (${L}) must be divisible by pipeline size x virtual pipeline size (${pp} x ${v} = ${pp * v}) for an even split; or set firstStageLayers / lastStageLayers`);
    }
    return Array.from({ length: pp }, () => L / pp);
  }
  if (pp < 2) throw new PipelineConfigError('uneven-needs-pipeline', 'firstStageLayers / lastStageLayers need a pipeline size of at least 2');
  const set = [first, last].filter((x) => x !== undefined);
  for (const [name, x] of [['firstStageLayers', first], ['lastStageLayers', last]] as const) {
    if (x === undefined) continue;
    positiveInteger('uneven-split', name, x);
    if (x % v !== 0) throw new PipelineConfigError('uneven-split', `${name} (${x}) must be divisible by the virtual pipeline size (${v}): each chunk of the stage gets the same number of layers`);
  }
  const middle = pp - set.length;
  const rest = L - set.reduce((a, b) => a + (b as number), 0);
  if (middle === 0) {
    if (rest !== 0) throw new PipelineConfigError('uneven-split', `firstStageLayers + lastStageLayers must equal the number of layers (${L}) with 2 stages, got ${L - rest}`);
  } else if (rest < middle * v || rest % (middle * v) !== 0) {
    throw new PipelineConfigError('uneven-split', `the ${rest} layers left after firstStageLayers / lastStageLayers must split evenly, at least one per chunk, over the other ${middle} stage(s) x ${v} chunk(s)`);
  }
  return Array.from({ length: pp }, (_, r) => {
    if (r === 0 && first !== undefined) return first;
    if (r === pp - 1 && last !== undefined) return last;
    return rest / middle;
  });
}

/** Every rank's chunks: result[rank][chunk]. */
export function splitLayers(o: LayerSplitOptions): StageLayers[][] {
  positiveInteger('layers', 'numLayers', o.numLayers);
  const pp = positiveInteger('pipeline-size', 'pipelineSize', o.pipelineSize);
  const v = positiveInteger('virtual-size', 'virtualPipelineSize', o.virtualPipelineSize ?? 1);
  if (v > 1 && pp < 2) throw new PipelineConfigError('virtual-needs-pipeline', `a virtual pipeline size of ${v} needs a pipeline size of at least 2, got ${pp}`);
  const perRank = layersPerRank(o, pp, v);
  const out: StageLayers[][] = Array.from({ length: pp }, () => []);
  let at = 0;
  for (let c = 0; c < v; c++) {
    for (let r = 0; r < pp; r++) {
      const n = (perRank[r] as number) / v;
      (out[r] as StageLayers[])[c] = { preProcess: r === 0 && c === 0, postProcess: r === pp - 1 && c === v - 1, layerRange: [at, at + n] };
      at += n;
    }
  }
  return out;
}

/** One rank's chunks (the model options it builds with). */
export function stageLayers(o: LayerSplitOptions & { pipelineRank: number }): StageLayers[] {
  const all = splitLayers(o);
  const mine = all[o.pipelineRank];
  if (!mine) throw new PipelineConfigError('pipeline-rank', `pipelineRank ${o.pipelineRank} is outside 0..${all.length - 1}`);
  return mine;
}
