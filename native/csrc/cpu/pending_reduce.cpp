// TEMPORARY: placeholders until the reduce kernels land; delete this file when they do.
#include "core/kernels.h"
#include "core/error.h"
namespace ts::cpu {
void reduce(const ReduceParams&) { throw Error("reduce: not implemented yet"); }
void softmax(const SoftmaxParams&) { throw Error("softmax: not implemented yet"); }
void softmaxBackward(const SoftmaxBackwardParams&) { throw Error("softmaxBackward: not implemented yet"); }
void norm(const NormParams&) { throw Error("norm: not implemented yet"); }
void normBackward(const NormBackwardParams&) { throw Error("normBackward: not implemented yet"); }
void crossEntropy(const CrossEntropyParams&) { throw Error("crossEntropy: not implemented yet"); }
void crossEntropyBackward(const CrossEntropyBackwardParams&) { throw Error("crossEntropyBackward: not implemented yet"); }
}
