// CUDA binary ops on the floating dtypes, and the dispatch of every dtype (cuda/binary.cuh).
#include "cuda/binary.cuh"

namespace ts::cuda {

void binaryOp(const BinaryParams& p) {
  switch (p.dtype) {
    case DType::F32: return binary_detail::binaryTyped<float>(p);
    case DType::F64: return binary_detail::binaryTyped<double>(p);
    case DType::F16: return binary_detail::binaryTyped<__half>(p);
    case DType::BF16: return binary_detail::binaryTyped<__nv_bfloat16>(p);
    default: return binary_detail::binaryIntegral(p);
  }
}

}  // namespace ts::cuda
