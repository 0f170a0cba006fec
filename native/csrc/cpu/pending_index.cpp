// TEMPORARY: placeholders until the index kernels land; delete this file when they do.
#include "core/kernels.h"
#include "core/error.h"
namespace ts::cpu {
void indexSelect(const IndexSelectParams&) { throw Error("indexSelect: not implemented yet"); }
void indexAdd(const IndexAddParams&) { throw Error("indexAdd: not implemented yet"); }
void gather(const GatherParams&) { throw Error("gather: not implemented yet"); }
void scatterAdd(const ScatterAddParams&) { throw Error("scatterAdd: not implemented yet"); }
}
