// Each parallel layer against its dense counterpart on the full weight (which TP-invariant
// initialization makes from the same seed), forward and backward: outputs, input gradients and
// parameter gradients, on this rank's part. With sequence parallelism activations outside the TP
// region are split along the sequence (dimension 0).
import { F, Generator, noGrad, randint, scope, type Tensor } from '@tessera/core';
import {
  allReduceSequenceParallelGrads, ColumnParallelLinear, RowParallelLinear, type TensorParallel, tensorParallel, VocabParallelEmbedding,
} from '../../src/index.ts';
import { chunkOf, maxDiff, shared } from './common.ts';

const S = 8;
const B = 2;
const single = tensorParallel(undefined);

/** Backward of sum(out * probe); returns the gradients of `wrt` (then clears them). */
function grads(out: Tensor, probe: Tensor, wrt: Tensor[]): Tensor[] {
  out.mul(probe).sum().backward();
  return wrt.map((t) => {
    const g = t.grad as Tensor;
    t.grad = null;
    return g;
  });
}

/** The activation this rank feeds a layer: all of it, or its sequence chunk with SP. */
function local(full: Tensor, tp: TensorParallel): Tensor {
  return tp.sequenceParallel ? chunkOf(full, 0, tp.rank, tp.size).clone() : full.clone();
}

type Diffs = Record<string, number>;

function column(tp: TensorParallel, gatherOutput: boolean): Diffs {
  const layer = new ColumnParallelLinear(6, 4 * tp.size, { tp, generator: new Generator(11), gatherOutput });
  const dense = new ColumnParallelLinear(6, 4 * tp.size, { tp: single, generator: new Generator(11) });
  noGrad(() => {
    dense.bias?.copy_(shared([4 * tp.size], 12));
    layer.bias?.copy_(chunkOf(shared([4 * tp.size], 12), 0, tp.rank, tp.size));
  });
  const xFull = shared([S, B, 6], 13, true);
  const probe = shared([S, B, 4 * tp.size], 14);
  const ref = F.linear(xFull, dense.weight as Tensor, dense.bias);
  const [gxRef, gwRef, gbRef] = grads(ref, probe, [xFull, dense.weight as Tensor, dense.bias as Tensor]) as [Tensor, Tensor, Tensor];
  const x = local(xFull.detach(), tp).requiresGrad_();
  const out = layer.forward(x).output;
  const myProbe = gatherOutput ? probe : chunkOf(probe, 2, tp.rank, tp.size);
  const [gx, gw, gb] = grads(out, myProbe, [x, layer.weight as Tensor, layer.bias as Tensor]) as [Tensor, Tensor, Tensor];
  return {
    output: maxDiff(out, gatherOutput ? ref : chunkOf(ref, 2, tp.rank, tp.size)),
    inputGrad: maxDiff(gx, tp.sequenceParallel ? chunkOf(gxRef, 0, tp.rank, tp.size) : gxRef),
    weightGrad: maxDiff(gw, chunkOf(gwRef, 0, tp.rank, tp.size)),
    biasGrad: maxDiff(gb, chunkOf(gbRef, 0, tp.rank, tp.size)),
  };
}

async function row(tp: TensorParallel, inputIsParallel: boolean): Promise<Diffs> {
  const layer = new RowParallelLinear(4 * tp.size, 6, { tp, generator: new Generator(21), inputIsParallel });
  const dense = new RowParallelLinear(4 * tp.size, 6, { tp: single, generator: new Generator(21) });
  noGrad(() => {
    dense.bias?.copy_(shared([6], 22));
    layer.bias?.copy_(shared([6], 22));
  });
  const xFull = shared([S, B, 4 * tp.size], 23, true);
  const probe = shared([S, B, 6], 24);
  const ref = F.linear(xFull, dense.weight, dense.bias);
  const [gxRef, gwRef, gbRef] = grads(ref, probe, [xFull, dense.weight, dense.bias as Tensor]) as [Tensor, Tensor, Tensor];
  const x = (inputIsParallel ? chunkOf(xFull.detach(), 2, tp.rank, tp.size).clone() : xFull.detach().clone()).requiresGrad_();
  const out = layer.forward(x).output;
  const [gx, gw] = grads(out, tp.sequenceParallel ? chunkOf(probe, 0, tp.rank, tp.size) : probe, [x, layer.weight]) as [Tensor, Tensor];
  const bias = layer.bias as Tensor;
  const d: Diffs = {
    output: maxDiff(out, tp.sequenceParallel ? chunkOf(ref, 0, tp.rank, tp.size) : ref),
    inputGrad: maxDiff(gx, inputIsParallel ? chunkOf(gxRef, 2, tp.rank, tp.size) : gxRef),
    weightGrad: maxDiff(gw, chunkOf(gwRef, 1, tp.rank, tp.size)),
  };
  if (tp.sequenceParallel) {
    // The bias saw only this rank's sequence chunk: partial until the TP all-reduce that the training step runs.
    d.biasGradPartialGap = maxDiff(bias.grad as Tensor, gbRef);
    await allReduceSequenceParallelGrads(layer, tp);
  }
  d.biasGrad = maxDiff(bias.grad as Tensor, gbRef);
  return d;
}

function embedding(tp: TensorParallel, reduceScatter: boolean): Diffs {
  const vocab = 8 * tp.size;
  const layer = new VocabParallelEmbedding(vocab, 5, { tp, generator: new Generator(31), reduceScatterEmbeddings: reduceScatter });
  const dense = new VocabParallelEmbedding(vocab, 5, { tp: single, generator: new Generator(31) });
  const ids = randint(0, vocab, [B, S], { generator: new Generator(32) });
  const probe = shared([B, S, 5], 33);
  const ref = F.embedding(ids, dense.weight);
  const [gwRef] = grads(ref, probe, [dense.weight]) as [Tensor];
  const out = layer.forward(ids);
  const myProbe = reduceScatter ? chunkOf(probe.transpose(0, 1), 0, tp.rank, tp.size) : probe;
  const [gw] = grads(out, myProbe, [layer.weight]) as [Tensor];
  return {
    output: maxDiff(out, reduceScatter ? chunkOf(ref.transpose(0, 1), 0, tp.rank, tp.size) : ref),
    weightGrad: maxDiff(gw, chunkOf(gwRef, 0, tp.rank, tp.size)),
  };
}

export async function layers(tp: TensorParallel): Promise<Record<string, Diffs>> {
  const out: Record<string, Diffs> = {};
  out.column = scope(() => column(tp, false));
  if (!tp.sequenceParallel) out.columnGatherOutput = scope(() => column(tp, true));
  out.row = await scope(() => row(tp, true));
  if (!tp.sequenceParallel) out.rowScatterInput = await scope(() => row(tp, false));
  out.embedding = scope(() => embedding(tp, false));
  if (tp.sequenceParallel) out.embeddingReduceScatter = scope(() => embedding(tp, true));
  return out;
}
