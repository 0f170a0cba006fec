// The training loss from per-token losses, as Megatron's GPT loss_func: the mean over the tokens
// whose loss mask is set (padding and, with eod-mask-loss, end-of-document tokens are 0).
import { scope, type Tensor } from '@tessera/core';

/** sum(loss * mask) / sum(mask) over a micro-batch (loss [b, s] fp32, mask [b, s] of any dtype). */
export function maskedMeanLoss(perToken: Tensor, lossMask: Tensor): Tensor {
  if (perToken.shape.join() !== lossMask.shape.join()) {
    throw new Error(`maskedMeanLoss: the loss [${perToken.shape.join(', ')}] and the loss mask [${lossMask.shape.join(', ')}] differ in shape`);
  }
  return scope(() => {
    const mask = lossMask.to('f32');
    return perToken.mul(mask).sum().div(mask.sum().maximum(1));
  });
}
