// TEMPORARY: placeholders until the gemm kernels land; delete this file when they do.
#include "core/kernels.h"
#include "core/error.h"
namespace ts::cpu {
void matmul(const MatmulParams&) { throw Error("matmul: not implemented yet"); }
}
