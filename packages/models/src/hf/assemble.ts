// Executes a read plan: copies each piece from the checkpoint straight into its place in one
// buffer holding this rank's slice (in the checkpoint's orientation), reading nothing else.
import { dtypeBytes, type SafetensorsDType } from '../safetensors/dtypes.ts';
import type { RawTensor, TensorSource } from '../safetensors/source.ts';
import type { ReadPlan } from './plan.ts';

export function assemble(source: TensorSource, plan: ReadPlan): RawTensor {
  const shape = plan.transposed ? [...plan.shape].reverse() : [...plan.shape];
  const dim = plan.transposed ? 1 - plan.dim : plan.dim;
  const names = [...plan.sources.keys()];
  const dtype = source.info(names[0] as string).dtype;
  const mixed = names.filter((n) => source.info(n).dtype !== dtype);
  if (mixed.length) {
    throw new Error(`${plan.tessera}: its checkpoint tensors have different dtypes (${names.map((n) => `${n}: ${source.info(n).dtype}`).join(', ')}); convert them to one dtype`);
  }
  const [only] = plan.pieces;
  if (plan.pieces.length === 1 && only?.source) {
    // One range of one tensor: the reader returns a view of the mapping when it is contiguous.
    return source.read(only.source, { dim, ranges: [only.range] });
  }
  const bytes = new Uint8Array(shape.reduce((a, b) => a * b, dtypeBytes(dtype as SafetensorsDType)));
  let at = 0;
  for (const piece of plan.pieces) {
    // Zero pieces (vocab padding) are left as the buffer's zeros.
    if (piece.source) source.copyAlongDim(piece.source, dim, piece.range, bytes, shape[dim] as number, at);
    at += piece.range[1] - piece.range[0];
  }
  if (at !== shape[dim]) throw new Error(`internal: the pieces of ${plan.tessera} cover ${at} of ${shape[dim]} indices of dimension ${dim}`);
  return { dtype, shape, bytes };
}
