// Tied input/output embeddings across a pipeline (Megatron's _allreduce_word_embedding_grads):
// the first stage's word embeddings and the last stage's copy (both marked
// meta.sharedEmbedding) get the sum of the two gradients, so the copies stay equal after every
// optimizer step. Call it after the data-parallel gradient sync (ddp.finishGradSync()), on every
// rank of the embedding group, every step.
//
// With the distributed optimizer the DP sync is a reduce-scatter written in place: afterwards only
// this DP rank's shard of each bucket of the gradient buffer holds the DP average, the rest of the
// buffer still holds this rank's local gradients, and the optimizer reads only the shard. The DDP
// wrapper gives the tied embedding a bucket of its own (buffer-layout.ts), starting at the bucket's
// first element, so on the first and the last stage the same DP rank owns the same elements of it;
// the embedding group pairs ranks of equal DP rank, so all-reducing the whole mainGrad sums the two
// stages' averaged shards where it matters (and mixes unread local gradients elsewhere), as
// Megatron's all-reduce of main_grad does.
import type { ProcessGroup } from '@tessera/collectives';
import { type Module, noGrad, type Parameter, zerosLike } from '@tessera/core';
import { PipelineError } from './errors.ts';

/** The tied word-embedding parameters among this rank's chunks. */
export function sharedEmbeddingParams(chunks: Module | readonly Module[]): Parameter[] {
  const list = Array.isArray(chunks) ? (chunks as readonly Module[]) : [chunks as Module];
  return list.flatMap((m) => [...m.parameters()].filter((p) => p.requiresGrad && p.meta.sharedEmbedding === true));
}

/**
 * Sums the tied embedding gradient (mainGrad when a gradient buffer gave one, else .grad) over
 * the embedding group (ParallelState's `embedding`: the first and last stage). Nothing to do
 * without a group, with one member, or when the embeddings are not tied.
 */
export async function allReduceEmbeddingGrads(chunks: Module | readonly Module[], embeddingGroup: ProcessGroup | undefined): Promise<void> {
  if (!embeddingGroup || embeddingGroup.size < 2) return;
  const shared = sharedEmbeddingParams(chunks);
  if (shared.length === 0) return;
  if (shared.length > 1) {
    throw new PipelineError(`allReduceEmbeddingGrads: this rank holds ${shared.length} tied embedding parameters; a pipeline stage holds the word embeddings (first stage) or its copy (last stage), not both`);
  }
  const p = shared[0] as Parameter;
  if (!p.mainGrad && !p.grad) p.grad = noGrad(() => zerosLike(p)); // the other stage still needs this rank's part
  await embeddingGroup.allReduce((p.mainGrad ?? p.grad) as Parameter, 'sum').wait();
}
