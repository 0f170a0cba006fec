// CUDA binary ops on i32, i64 and bool (cuda/binary.cuh); binary.cu dispatches here.
#include "cuda/binary.cuh"

namespace ts::cuda::binary_detail {

void binaryIntegral(const BinaryParams& p) {
  switch (p.dtype) {
    case DType::I32: return binaryTyped<int32_t>(p);
    case DType::I64: return binaryTyped<int64_t>(p);
    case DType::Bool: return binaryTyped<uint8_t>(p);
    default: throw Error(strcat("binary: unsupported dtype ", dtypeName(p.dtype)));
  }
}

}  // namespace ts::cuda::binary_detail
