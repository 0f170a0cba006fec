// Binding: one wrapper per kernel. Each reads its positional arguments (documented in
// src/binding.ts), checks them, and runs the CPU or CUDA kernel on the tensors' device.
#include "binding/args.h"
#include "core/ops.h"

namespace ts::binding {
namespace {

Napi::Value undef(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }

void checkCount(const char* op, int64_t n) { TS_CHECK(n >= 0, op, ": negative element count ", n); }

void checkFloat(const char* op, DType d) {
  TS_CHECK(isFloating(d), op, ": needs a floating dtype (f32, f64, f16, bf16), got ", dtypeName(d));
}

void checkIndexDtype(const char* op, DType d) {
  TS_CHECK(d == DType::I32 || d == DType::I64, op, ": indices must be i32 or i64, got ", dtypeName(d));
}

// fill(out, outOff, n, dtype, value)
Napi::Value fill(const Napi::CallbackInfo& info) {
  Args a(info, "fill", 5);
  FillParams p;
  p.n = a.i64(2);
  checkCount(a.op, p.n);
  p.dtype = a.dtype(3);
  p.value = a.num(4);
  p.out = a.tensor(0, p.dtype, p.n);
  TS_RUN(fill, a, p);
  return undef(info);
}

// arange(out, outOff, n, dtype, start, step)
Napi::Value arange(const Napi::CallbackInfo& info) {
  Args a(info, "arange", 6);
  ArangeParams p;
  p.n = a.i64(2);
  checkCount(a.op, p.n);
  p.dtype = a.dtype(3);
  p.start = a.num(4);
  p.step = a.num(5);
  p.out = a.tensor(0, p.dtype, p.n);
  TS_RUN(arange, a, p);
  return undef(info);
}

// random(out, outOff, n, dtype, kind, a, b, seed, counter): kind 0 uniform [a, b), 1 normal(a, b)
Napi::Value random(const Napi::CallbackInfo& info) {
  Args a(info, "random", 9);
  RandomParams p;
  p.n = a.i64(2);
  checkCount(a.op, p.n);
  p.dtype = a.dtype(3);
  checkFloat(a.op, p.dtype);
  p.kind = a.i32(4);
  TS_CHECK(p.kind == 0 || p.kind == 1, a.op, ": unknown distribution ", p.kind);
  p.a = a.num(5);
  p.b = a.num(6);
  p.seed = a.u64(7);
  p.counter = a.u64(8);
  p.out = a.tensor(0, p.dtype, p.n);
  TS_RUN(random, a, p);
  return undef(info);
}

// cast(src, srcOff, srcDtype, out, outOff, outDtype, n)
Napi::Value cast(const Napi::CallbackInfo& info) {
  Args a(info, "cast", 7);
  CastParams p;
  p.srcDtype = a.dtype(2);
  p.outDtype = a.dtype(5);
  p.n = a.i64(6);
  checkCount(a.op, p.n);
  p.src = a.tensor(0, p.srcDtype, p.n);
  p.out = a.tensor(3, p.outDtype, p.n);
  TS_RUN(cast, a, p);
  return undef(info);
}

void checkUnaryOp(const char* op, int code, DType d) {
  TS_CHECK(code >= 0 && code < unary::Count, op, ": unknown unary op ", code);
  TS_CHECK(isFloating(d) || unaryIntegerOk(code), op, ": this unary op needs a floating dtype, got ",
           dtypeName(d), "; cast with .to('f32') first");
  TS_CHECK(d != DType::Bool, op, ": unary math on bool tensors is not supported; cast first");
}

// unary(op, x, xOff, out, outOff, n, dtype, alpha, beta)
Napi::Value unaryOp(const Napi::CallbackInfo& info) {
  Args a(info, "unary", 9);
  UnaryParams p;
  p.op = a.i32(0);
  p.n = a.i64(5);
  checkCount(a.op, p.n);
  p.dtype = a.dtype(6);
  checkUnaryOp(a.op, p.op, p.dtype);
  p.alpha = a.num(7);
  p.beta = a.num(8);
  p.x = a.tensor(1, p.dtype, p.n);
  p.out = a.tensor(3, p.dtype, p.n);
  TS_RUN(unaryOp, a, p);
  return undef(info);
}

// unaryBackward(op, x, xOff, gy, gyOff, gx, gxOff, n, dtype, alpha, beta)
Napi::Value unaryBackward(const Napi::CallbackInfo& info) {
  Args a(info, "unaryBackward", 11);
  UnaryBackwardParams p;
  p.op = a.i32(0);
  p.n = a.i64(7);
  checkCount(a.op, p.n);
  p.dtype = a.dtype(8);
  checkUnaryOp(a.op, p.op, p.dtype);
  checkFloat(a.op, p.dtype);
  p.alpha = a.num(9);
  p.beta = a.num(10);
  p.x = a.tensor(1, p.dtype, p.n);
  p.gy = a.tensor(3, p.dtype, p.n);
  p.gx = a.tensor(5, p.dtype, p.n);
  TS_RUN(unaryBackward, a, p);
  return undef(info);
}

void readShape(Args& a, size_t i, int* ndim, int64_t* shape) { *ndim = a.dims(i, shape); }
void readStrides(Args& a, size_t i, int ndim, int64_t* strides) {
  int n = a.dims(i, strides);
  TS_CHECK(n == ndim, a.op, ": ", n, " strides given for ", ndim, " dimensions");
}

// binary(op, a, aOff, aStrides, b, bOff, bStrides, out, outOff, shape, dtype)
Napi::Value binaryOp(const Napi::CallbackInfo& info) {
  Args a(info, "binary", 11);
  BinaryParams p;
  p.op = a.i32(0);
  TS_CHECK(p.op >= 0 && p.op < binary::Count, a.op, ": unknown binary op ", p.op);
  p.dtype = a.dtype(10);
  TS_CHECK(isFloating(p.dtype) || binaryIntegerOk(p.op), a.op,
           ": division and pow need a floating dtype, got ", dtypeName(p.dtype), "; cast with .to('f32') first");
  p.outDtype = binary::isComparison(p.op) ? DType::Bool : p.dtype;
  readShape(a, 9, &p.ndim, p.shape);
  readStrides(a, 3, p.ndim, p.aStrides);
  readStrides(a, 6, p.ndim, p.bStrides);
  p.n = numel(p.ndim, p.shape);
  p.a = a.tensor(1, p.dtype, stridedExtent(p.ndim, p.shape, p.aStrides));
  p.b = a.tensor(4, p.dtype, stridedExtent(p.ndim, p.shape, p.bStrides));
  p.out = a.tensor(7, p.outDtype, p.n);
  TS_RUN(binaryOp, a, p);
  return undef(info);
}

// where(cond, cOff, cStrides, a, aOff, aStrides, b, bOff, bStrides, out, outOff, shape, dtype)
Napi::Value where(const Napi::CallbackInfo& info) {
  Args a(info, "where", 13);
  WhereParams p;
  p.dtype = a.dtype(12);
  readShape(a, 11, &p.ndim, p.shape);
  readStrides(a, 2, p.ndim, p.condStrides);
  readStrides(a, 5, p.ndim, p.aStrides);
  readStrides(a, 8, p.ndim, p.bStrides);
  p.n = numel(p.ndim, p.shape);
  p.cond = a.tensor(0, DType::Bool, stridedExtent(p.ndim, p.shape, p.condStrides));
  p.a = a.tensor(3, p.dtype, stridedExtent(p.ndim, p.shape, p.aStrides));
  p.b = a.tensor(6, p.dtype, stridedExtent(p.ndim, p.shape, p.bStrides));
  p.out = a.tensor(9, p.dtype, p.n);
  TS_RUN(where, a, p);
  return undef(info);
}

// copyStrided(src, srcOff, srcStrides, out, outOff, outStrides, shape, dtype)
Napi::Value copyStrided(const Napi::CallbackInfo& info) {
  Args a(info, "copyStrided", 8);
  CopyParams p;
  p.dtype = a.dtype(7);
  readShape(a, 6, &p.ndim, p.shape);
  readStrides(a, 2, p.ndim, p.srcStrides);
  readStrides(a, 5, p.ndim, p.outStrides);
  p.n = numel(p.ndim, p.shape);
  p.src = a.tensor(0, p.dtype, stridedExtent(p.ndim, p.shape, p.srcStrides));
  p.out = a.tensor(3, p.dtype, stridedExtent(p.ndim, p.shape, p.outStrides));
  TS_RUN(copyStrided, a, p);
  return undef(info);
}

// accumulate(dst, dstOff, dstDtype, src, srcOff, srcDtype, n, alpha)
Napi::Value accumulate(const Napi::CallbackInfo& info) {
  Args a(info, "accumulate", 8);
  AccumulateParams p;
  p.dstDtype = a.dtype(2);
  p.srcDtype = a.dtype(5);
  checkFloat(a.op, p.dstDtype);
  checkFloat(a.op, p.srcDtype);
  p.n = a.i64(6);
  checkCount(a.op, p.n);
  p.alpha = a.num(7);
  p.dst = a.tensor(0, p.dstDtype, p.n);
  p.src = a.tensor(3, p.srcDtype, p.n);
  TS_RUN(accumulate, a, p);
  return undef(info);
}

void checkOuterSizeInner(const char* op, int64_t outer, int64_t size, int64_t inner) {
  TS_CHECK(outer >= 0 && size >= 0 && inner >= 0, op, ": negative dimension");
}

// reduce(op, x, xOff, outer, size, inner, dtype, out, outOff, outDtype, indices, indicesOff)
Napi::Value reduceOp(const Napi::CallbackInfo& info) {
  Args a(info, "reduce", 12);
  ReduceParams p;
  p.op = a.i32(0);
  TS_CHECK(p.op >= 0 && p.op < reduce::Count, a.op, ": unknown reduction ", p.op);
  p.outer = a.i64(3);
  p.size = a.i64(4);
  p.inner = a.i64(5);
  checkOuterSizeInner(a.op, p.outer, p.size, p.inner);
  p.dtype = a.dtype(6);
  p.outDtype = a.dtype(9);
  TS_CHECK(p.dtype != DType::Bool || p.op == reduce::Sum || p.op == reduce::Max || p.op == reduce::Min, a.op,
           ": mean of a bool tensor is not supported; cast first");
  TS_CHECK(p.op != reduce::Mean || isFloating(p.outDtype), a.op, ": mean needs a floating output dtype");
  TS_CHECK(p.size > 0 || p.op == reduce::Sum, a.op, ": max/min/mean over an empty dimension");
  p.x = a.tensor(1, p.dtype, p.outer * p.size * p.inner);
  p.out = a.tensor(7, p.outDtype, p.outer * p.inner);
  p.indices = static_cast<int64_t*>(a.optionalTensor(10, DType::I64, p.outer * p.inner));
  TS_CHECK(p.indices == nullptr || p.op == reduce::Max || p.op == reduce::Min, a.op,
           ": indices are only produced by max and min");
  TS_RUN(reduce, a, p);
  return undef(info);
}

// softmax(x, xOff, out, outOff, outer, size, inner, dtype, log)
Napi::Value softmax(const Napi::CallbackInfo& info) {
  Args a(info, "softmax", 9);
  SoftmaxParams p;
  p.outer = a.i64(4);
  p.size = a.i64(5);
  p.inner = a.i64(6);
  checkOuterSizeInner(a.op, p.outer, p.size, p.inner);
  p.dtype = a.dtype(7);
  checkFloat(a.op, p.dtype);
  p.log = a.flag(8);
  int64_t n = p.outer * p.size * p.inner;
  p.x = a.tensor(0, p.dtype, n);
  p.out = a.tensor(2, p.dtype, n);
  TS_RUN(softmax, a, p);
  return undef(info);
}

// softmaxBackward(y, yOff, gy, gyOff, gx, gxOff, outer, size, inner, dtype, log)
Napi::Value softmaxBackward(const Napi::CallbackInfo& info) {
  Args a(info, "softmaxBackward", 11);
  SoftmaxBackwardParams p;
  p.outer = a.i64(6);
  p.size = a.i64(7);
  p.inner = a.i64(8);
  checkOuterSizeInner(a.op, p.outer, p.size, p.inner);
  p.dtype = a.dtype(9);
  checkFloat(a.op, p.dtype);
  p.log = a.flag(10);
  int64_t n = p.outer * p.size * p.inner;
  p.y = a.tensor(0, p.dtype, n);
  p.gy = a.tensor(2, p.dtype, n);
  p.gx = a.tensor(4, p.dtype, n);
  TS_RUN(softmaxBackward, a, p);
  return undef(info);
}

// Reads the attention-mask arguments of maskedSoftmax(Backward) at positions i..i+7:
// mask, maskOff, sq, heads, maskBatchStride, maskRowStride, causal (mask handle 0 = none).
AttentionMask attentionMask(Args& a, size_t i, int64_t rows, int64_t cols) {
  AttentionMask m;
  m.sq = a.i64(i + 2);
  m.heads = a.i64(i + 3);
  m.maskBatchStride = a.i64(i + 4);
  m.maskRowStride = a.i64(i + 5);
  m.causal = a.flag(i + 6);
  TS_CHECK(rows >= 0 && cols >= 0 && m.sq > 0 && m.heads > 0 && rows % (m.sq * m.heads) == 0, a.op, ": rows (", rows,
           ") must be a multiple of sq * heads (", m.sq, " * ", m.heads, ")");
  TS_CHECK(!m.causal || cols >= m.sq, a.op, ": a causal mask needs at least as many keys (", cols, ") as queries (", m.sq, ")");
  TS_CHECK(m.maskBatchStride >= 0 && m.maskRowStride >= 0, a.op, ": negative mask strides");
  const int64_t batches = rows / (m.sq * m.heads);
  const int64_t extent = rows * cols == 0 ? 0 : (batches - 1) * m.maskBatchStride + (m.sq - 1) * m.maskRowStride + cols;
  m.mask = static_cast<const uint8_t*>(a.optionalTensor(i, DType::Bool, extent));
  return m;
}

// maskedSoftmax(x, xOff, out, outOff, rows, cols, scale, dtype,
//               mask, maskOff, sq, heads, maskBatchStride, maskRowStride, causal)
Napi::Value maskedSoftmax(const Napi::CallbackInfo& info) {
  Args a(info, "maskedSoftmax", 15);
  MaskedSoftmaxParams p;
  p.rows = a.i64(4);
  p.cols = a.i64(5);
  p.scale = a.num(6);
  p.dtype = a.dtype(7);
  checkFloat(a.op, p.dtype);
  p.m = attentionMask(a, 8, p.rows, p.cols);
  p.x = a.tensor(0, p.dtype, p.rows * p.cols);
  p.out = a.tensor(2, p.dtype, p.rows * p.cols);
  TS_RUN(maskedSoftmax, a, p);
  return undef(info);
}

// maskedSoftmaxBackward(y, yOff, gy, gyOff, gx, gxOff, rows, cols, scale, dtype,
//                       mask, maskOff, sq, heads, maskBatchStride, maskRowStride, causal)
Napi::Value maskedSoftmaxBackward(const Napi::CallbackInfo& info) {
  Args a(info, "maskedSoftmaxBackward", 17);
  MaskedSoftmaxBackwardParams p;
  p.rows = a.i64(6);
  p.cols = a.i64(7);
  p.scale = a.num(8);
  p.dtype = a.dtype(9);
  checkFloat(a.op, p.dtype);
  p.m = attentionMask(a, 10, p.rows, p.cols);
  const int64_t n = p.rows * p.cols;
  p.y = a.tensor(0, p.dtype, n);
  p.gy = a.tensor(2, p.dtype, n);
  p.gx = a.tensor(4, p.dtype, n);
  TS_RUN(maskedSoftmaxBackward, a, p);
  return undef(info);
}

// norm(x, xOff, w, wOff, b, bOff, out, outOff, mean, meanOff, rstd, rstdOff, rows, cols, eps, dtype, wDtype, rms)
Napi::Value norm(const Napi::CallbackInfo& info) {
  Args a(info, "norm", 18);
  NormParams p;
  p.rows = a.i64(12);
  p.cols = a.i64(13);
  TS_CHECK(p.rows >= 0 && p.cols > 0, a.op, ": invalid shape [", p.rows, ", ", p.cols, "]");
  p.eps = a.num(14);
  p.dtype = a.dtype(15);
  p.wDtype = a.dtype(16);
  p.rms = a.flag(17);
  checkFloat(a.op, p.dtype);
  checkFloat(a.op, p.wDtype);
  p.x = a.tensor(0, p.dtype, p.rows * p.cols);
  p.w = a.optionalTensor(2, p.wDtype, p.cols);
  p.b = a.optionalTensor(4, p.wDtype, p.cols);
  p.out = a.tensor(6, p.dtype, p.rows * p.cols);
  p.mean = static_cast<float*>(a.optionalTensor(8, DType::F32, p.rows));
  p.rstd = static_cast<float*>(a.tensor(10, DType::F32, p.rows));
  TS_CHECK(p.rms || p.mean, a.op, ": LayerNorm needs a mean buffer");
  TS_RUN(norm, a, p);
  return undef(info);
}

// normBackward(gy, gyOff, x, xOff, w, wOff, mean, meanOff, rstd, rstdOff, gx, gxOff, gw, gwOff, gb, gbOff,
//              rows, cols, dtype, wDtype, rms)
Napi::Value normBackward(const Napi::CallbackInfo& info) {
  Args a(info, "normBackward", 21);
  NormBackwardParams p;
  p.rows = a.i64(16);
  p.cols = a.i64(17);
  TS_CHECK(p.rows >= 0 && p.cols > 0, a.op, ": invalid shape [", p.rows, ", ", p.cols, "]");
  p.dtype = a.dtype(18);
  p.wDtype = a.dtype(19);
  p.rms = a.flag(20);
  checkFloat(a.op, p.dtype);
  checkFloat(a.op, p.wDtype);
  int64_t n = p.rows * p.cols;
  p.gy = a.tensor(0, p.dtype, n);
  p.x = a.tensor(2, p.dtype, n);
  p.w = a.optionalTensor(4, p.wDtype, p.cols);
  p.mean = static_cast<const float*>(a.optionalTensor(6, DType::F32, p.rows));
  p.rstd = static_cast<const float*>(a.tensor(8, DType::F32, p.rows));
  p.gx = a.tensor(10, p.dtype, n);
  p.gw = static_cast<float*>(a.optionalTensor(12, DType::F32, p.cols));
  p.gb = static_cast<float*>(a.optionalTensor(14, DType::F32, p.cols));
  TS_CHECK(p.rms || p.mean, a.op, ": LayerNorm backward needs the saved mean");
  TS_RUN(normBackward, a, p);
  return undef(info);
}

// crossEntropy(logits, lOff, labels, labOff, labelDtype, loss, lossOff, lse, lseOff, rows, vocab, dtype,
//              ignoreIndex, labelSmoothing)
Napi::Value crossEntropy(const Napi::CallbackInfo& info) {
  Args a(info, "crossEntropy", 14);
  CrossEntropyParams p;
  p.labelDtype = a.dtype(4);
  checkIndexDtype(a.op, p.labelDtype);
  p.rows = a.i64(9);
  p.vocab = a.i64(10);
  TS_CHECK(p.rows >= 0 && p.vocab > 0, a.op, ": invalid logits shape [", p.rows, ", ", p.vocab, "]");
  p.dtype = a.dtype(11);
  checkFloat(a.op, p.dtype);
  p.ignoreIndex = a.i64(12);
  p.labelSmoothing = a.num(13);
  TS_CHECK(p.labelSmoothing >= 0 && p.labelSmoothing < 1, a.op, ": label smoothing must be in [0, 1), got ",
           p.labelSmoothing);
  p.logits = a.tensor(0, p.dtype, p.rows * p.vocab);
  p.labels = a.tensor(2, p.labelDtype, p.rows);
  p.loss = static_cast<float*>(a.tensor(5, DType::F32, p.rows));
  p.lse = static_cast<float*>(a.tensor(7, DType::F32, p.rows));
  TS_RUN(crossEntropy, a, p);
  return undef(info);
}

// crossEntropyBackward(logits, lOff, labels, labOff, labelDtype, lse, lseOff, gloss, glossOff, glogits, gOff,
//                      rows, vocab, dtype, ignoreIndex, labelSmoothing)
Napi::Value crossEntropyBackward(const Napi::CallbackInfo& info) {
  Args a(info, "crossEntropyBackward", 16);
  CrossEntropyBackwardParams p;
  p.labelDtype = a.dtype(4);
  checkIndexDtype(a.op, p.labelDtype);
  p.rows = a.i64(11);
  p.vocab = a.i64(12);
  TS_CHECK(p.rows >= 0 && p.vocab > 0, a.op, ": invalid logits shape [", p.rows, ", ", p.vocab, "]");
  p.dtype = a.dtype(13);
  checkFloat(a.op, p.dtype);
  p.ignoreIndex = a.i64(14);
  p.labelSmoothing = a.num(15);
  p.logits = a.tensor(0, p.dtype, p.rows * p.vocab);
  p.labels = a.tensor(2, p.labelDtype, p.rows);
  p.lse = static_cast<const float*>(a.tensor(5, DType::F32, p.rows));
  p.gloss = static_cast<const float*>(a.tensor(7, DType::F32, p.rows));
  p.glogits = a.tensor(9, p.dtype, p.rows * p.vocab);
  TS_RUN(crossEntropyBackward, a, p);
  return undef(info);
}

// indexSelect(src, srcOff, outer, size, inner, dtype, index, idxOff, indexDtype, nIndex, out, outOff)
Napi::Value indexSelect(const Napi::CallbackInfo& info) {
  Args a(info, "indexSelect", 12);
  IndexSelectParams p;
  p.outer = a.i64(2);
  p.size = a.i64(3);
  p.inner = a.i64(4);
  checkOuterSizeInner(a.op, p.outer, p.size, p.inner);
  p.dtype = a.dtype(5);
  p.indexDtype = a.dtype(8);
  checkIndexDtype(a.op, p.indexDtype);
  p.nIndex = a.i64(9);
  checkCount(a.op, p.nIndex);
  p.src = a.tensor(0, p.dtype, p.outer * p.size * p.inner);
  p.index = a.tensor(6, p.indexDtype, p.nIndex);
  p.out = a.tensor(10, p.dtype, p.outer * p.nIndex * p.inner);
  TS_RUN(indexSelect, a, p);
  return undef(info);
}

// indexAdd(src, srcOff, srcDtype, outer, nIndex, inner, index, idxOff, indexDtype, out, outOff, size, outDtype)
Napi::Value indexAdd(const Napi::CallbackInfo& info) {
  Args a(info, "indexAdd", 13);
  IndexAddParams p;
  p.srcDtype = a.dtype(2);
  p.outer = a.i64(3);
  p.nIndex = a.i64(4);
  p.inner = a.i64(5);
  checkOuterSizeInner(a.op, p.outer, p.nIndex, p.inner);
  p.indexDtype = a.dtype(8);
  checkIndexDtype(a.op, p.indexDtype);
  p.size = a.i64(11);
  checkCount(a.op, p.size);
  p.outDtype = a.dtype(12);
  checkFloat(a.op, p.srcDtype);
  checkFloat(a.op, p.outDtype);
  p.src = a.tensor(0, p.srcDtype, p.outer * p.nIndex * p.inner);
  p.index = a.tensor(6, p.indexDtype, p.nIndex);
  p.out = a.tensor(9, p.outDtype, p.outer * p.size * p.inner);
  TS_RUN(indexAdd, a, p);
  return undef(info);
}

// gather(src, srcOff, outer, size, inner, dtype, index, idxOff, indexDtype, nIndex, out, outOff)
Napi::Value gather(const Napi::CallbackInfo& info) {
  Args a(info, "gather", 12);
  GatherParams p;
  p.outer = a.i64(2);
  p.size = a.i64(3);
  p.inner = a.i64(4);
  checkOuterSizeInner(a.op, p.outer, p.size, p.inner);
  p.dtype = a.dtype(5);
  p.indexDtype = a.dtype(8);
  checkIndexDtype(a.op, p.indexDtype);
  p.nIndex = a.i64(9);
  checkCount(a.op, p.nIndex);
  p.src = a.tensor(0, p.dtype, p.outer * p.size * p.inner);
  p.index = a.tensor(6, p.indexDtype, p.outer * p.nIndex * p.inner);
  p.out = a.tensor(10, p.dtype, p.outer * p.nIndex * p.inner);
  TS_RUN(gather, a, p);
  return undef(info);
}

// scatterAdd(src, srcOff, srcDtype, outer, nIndex, inner, index, idxOff, indexDtype, out, outOff, size, outDtype)
Napi::Value scatterAdd(const Napi::CallbackInfo& info) {
  Args a(info, "scatterAdd", 13);
  ScatterAddParams p;
  p.srcDtype = a.dtype(2);
  p.outer = a.i64(3);
  p.nIndex = a.i64(4);
  p.inner = a.i64(5);
  checkOuterSizeInner(a.op, p.outer, p.nIndex, p.inner);
  p.indexDtype = a.dtype(8);
  checkIndexDtype(a.op, p.indexDtype);
  p.size = a.i64(11);
  checkCount(a.op, p.size);
  p.outDtype = a.dtype(12);
  checkFloat(a.op, p.srcDtype);
  checkFloat(a.op, p.outDtype);
  p.src = a.tensor(0, p.srcDtype, p.outer * p.nIndex * p.inner);
  p.index = a.tensor(6, p.indexDtype, p.outer * p.nIndex * p.inner);
  p.out = a.tensor(9, p.outDtype, p.outer * p.size * p.inner);
  TS_RUN(scatterAdd, a, p);
  return undef(info);
}

// dropout(x, xOff, out, outOff, mask, maskOff, n, dtype, p, seed, counter)
Napi::Value dropout(const Napi::CallbackInfo& info) {
  Args a(info, "dropout", 11);
  DropoutParams p;
  p.n = a.i64(6);
  checkCount(a.op, p.n);
  p.dtype = a.dtype(7);
  checkFloat(a.op, p.dtype);
  p.p = a.num(8);
  TS_CHECK(p.p >= 0 && p.p < 1, a.op, ": the drop probability must be in [0, 1), got ", p.p);
  p.seed = a.u64(9);
  p.counter = a.u64(10);
  p.x = a.tensor(0, p.dtype, p.n);
  p.out = a.tensor(2, p.dtype, p.n);
  p.mask = static_cast<uint8_t*>(a.tensor(4, DType::Bool, p.n));
  TS_RUN(dropout, a, p);
  return undef(info);
}

// maskedScale(gy, gyOff, mask, maskOff, gx, gxOff, n, dtype, scale)
Napi::Value maskedScale(const Napi::CallbackInfo& info) {
  Args a(info, "maskedScale", 9);
  MaskedScaleParams p;
  p.n = a.i64(6);
  checkCount(a.op, p.n);
  p.dtype = a.dtype(7);
  checkFloat(a.op, p.dtype);
  p.scale = a.num(8);
  p.gy = a.tensor(0, p.dtype, p.n);
  p.mask = static_cast<const uint8_t*>(a.tensor(2, DType::Bool, p.n));
  p.gx = a.tensor(4, p.dtype, p.n);
  TS_RUN(maskedScale, a, p);
  return undef(info);
}

// An array argument of exactly n integers.
void intArray(Args& a, size_t i, int64_t* out, uint32_t n) {
  Napi::Value v = a.info[i];
  TS_CHECK(v.IsArray() && v.As<Napi::Array>().Length() == n, a.op, ": argument ", i, " must be an array of ", n, " integers");
  Napi::Array arr = v.As<Napi::Array>();
  for (uint32_t k = 0; k < n; ++k) out[k] = int64_t(arr.Get(k).As<Napi::Number>().DoubleValue());
}

// Elements spanned by a [b, s, h, d] view with strides {batch, seq, head} and a contiguous d.
int64_t bshdExtent(int64_t b, int64_t s, int64_t h, int64_t d, const int64_t* st) {
  const int64_t shape[4] = {b, s, h, d}, strides[4] = {st[0], st[1], st[2], 1};
  return stridedExtent(4, shape, strides);
}

// The forward's tensors and sizes at positions 0..9 (q, k, v, o, lse handle/offset pairs),
// dims at `dimsAt` ([batch, heads, seqQ, seqK, headDim]) and the first 12 strides at `stridesAt`.
AttentionParams attentionArgs(Args& a, size_t dimsAt, const int64_t* st) {
  AttentionParams p;
  int64_t dims[5];
  intArray(a, dimsAt, dims, 5);
  p.batch = dims[0];
  p.heads = dims[1];
  p.seqQ = dims[2];
  p.seqK = dims[3];
  p.headDim = dims[4];
  for (int64_t d : dims) TS_CHECK(d > 0, a.op, ": sizes must be positive, got [", dims[0], ", ", dims[1], ", ", dims[2], ", ", dims[3], ", ", dims[4], "]");
  for (int k = 0; k < 3; ++k) {
    p.qStrides[k] = st[k];
    p.kStrides[k] = st[3 + k];
    p.vStrides[k] = st[6 + k];
    p.oStrides[k] = st[9 + k];
  }
  p.q = a.tensor(0, DType::BF16, bshdExtent(p.batch, p.seqQ, p.heads, p.headDim, p.qStrides));
  p.k = a.tensor(2, DType::BF16, bshdExtent(p.batch, p.seqK, p.heads, p.headDim, p.kStrides));
  p.v = a.tensor(4, DType::BF16, bshdExtent(p.batch, p.seqK, p.heads, p.headDim, p.vStrides));
  p.o = a.tensor(6, DType::BF16, bshdExtent(p.batch, p.seqQ, p.heads, p.headDim, p.oStrides));
  p.lse = static_cast<float*>(a.tensor(8, DType::F32, p.batch * p.heads * p.seqQ));
  return p;
}

void requireCuda(const Args& a) {
  TS_CHECK(a.device() != kCpu, a.op, ": the fused attention kernels run on CUDA only (bf16); on the CPU, F.attention composes matmuls and the fused softmax instead");
}

// attention(q, qOff, k, kOff, v, vOff, o, oOff, lse, lseOff, [batch, heads, seqQ, seqK, headDim],
//           [12 strides: batch, seq, head of q, k, v, o], scale, causal)
Napi::Value attention(const Napi::CallbackInfo& info) {
  Args a(info, "attention", 14);
  int64_t st[12];
  intArray(a, 11, st, 12);
  AttentionParams p = attentionArgs(a, 10, st);
  p.scale = a.num(12);
  p.causal = a.flag(13);
  requireCuda(a);
#ifdef TESSERA_CUDA
  cuda::setDevice(a.device());
  cuda::attention(p);
#else
  (void)p;
#endif
  return undef(info);
}

// attentionBackward(q, qOff, k, kOff, v, vOff, o, oOff, lse, lseOff, dO, dOOff, dq, dqOff, dk, dkOff,
//                   dv, dvOff, workspace, workspaceOff, [batch, heads, seqQ, seqK, headDim],
//                   [24 strides: q, k, v, o, dO, dq, dk, dv], scale, causal)
Napi::Value attentionBackward(const Napi::CallbackInfo& info) {
  Args a(info, "attentionBackward", 24);
  int64_t st[24];
  intArray(a, 21, st, 24);
  AttentionBackwardParams p;
  p.fwd = attentionArgs(a, 20, st);
  p.fwd.scale = a.num(22);
  p.fwd.causal = a.flag(23);
  const AttentionParams& f = p.fwd;
  for (int k = 0; k < 3; ++k) {
    p.dOStrides[k] = st[12 + k];
    p.dqStrides[k] = st[15 + k];
    p.dkStrides[k] = st[18 + k];
    p.dvStrides[k] = st[21 + k];
  }
  p.dO = a.tensor(10, DType::BF16, bshdExtent(f.batch, f.seqQ, f.heads, f.headDim, p.dOStrides));
  p.dq = a.tensor(12, DType::BF16, bshdExtent(f.batch, f.seqQ, f.heads, f.headDim, p.dqStrides));
  p.dk = a.tensor(14, DType::BF16, bshdExtent(f.batch, f.seqK, f.heads, f.headDim, p.dkStrides));
  p.dv = a.tensor(16, DType::BF16, bshdExtent(f.batch, f.seqK, f.heads, f.headDim, p.dvStrides));
  requireCuda(a);
#ifdef TESSERA_CUDA
  p.workspace = a.tensor(18, DType::Bool, cuda::attentionWorkspaceBytes(f.batch, f.heads, f.seqQ, f.headDim));
  cuda::setDevice(a.device());
  cuda::attentionBackward(p);
#else
  (void)p;
#endif
  return undef(info);
}

// attentionWorkspaceBytes(batch, heads, seqQ, headDim): bytes the backward's workspace needs (0 without CUDA).
Napi::Value attentionWorkspaceBytes(const Napi::CallbackInfo& info) {
  Args a(info, "attentionWorkspaceBytes", 4);
#ifdef TESSERA_CUDA
  return Napi::Number::New(info.Env(), double(cuda::attentionWorkspaceBytes(a.i64(0), a.i64(1), a.i64(2), a.i64(3))));
#else
  return Napi::Number::New(info.Env(), 0);
#endif
}

// The epilogue arguments of matmul (22..27), checked against the rules in kernels.h.
void readEpilogue(Args& a, MatmulParams& p) {
  const int e = a.i32(22);
  TS_CHECK(e >= 0 && e <= int(GemmEpilogue::BiasGradA), a.op, ": unknown epilogue code ", e);
  p.epilogue = GemmEpilogue(e);
  if (p.epilogue == GemmEpilogue::None) return;
  const char* name = p.epilogue == GemmEpilogue::GeluAux ? "gelu" : p.epilogue == GemmEpilogue::DGelu ? "gelu backward" : "bias gradient";
  TS_CHECK(p.batch == 1, a.op, ": the ", name, " epilogue needs an unbatched product (batch 1), got batch ", p.batch);
  p.biasGradDtype = a.dtype(27);
  checkFloat(a.op, p.biasGradDtype);
  if (p.epilogue == GemmEpilogue::BiasGradA) {
    TS_CHECK(!p.bias, a.op, ": the bias gradient epilogue takes no bias");
    TS_CHECK(a.handle(25) != 0, a.op, ": the bias gradient epilogue needs a biasGrad tensor of ", p.m, " elements");
    p.biasGrad = a.tensor(25, p.biasGradDtype, p.m);
    return;
  }
  TS_CHECK(p.beta == 0, a.op, ": the ", name, " epilogue needs beta = 0 (it does not accumulate into C)");
  TS_CHECK(p.cDtype == p.abDtype, a.op, ": the ", name, " epilogue needs the output in the inputs' dtype (",
           dtypeName(p.abDtype), "), got ", dtypeName(p.cDtype));
  TS_CHECK(a.handle(23) != 0, a.op, ": the ", name, " epilogue needs an aux tensor [", p.m, ", ", p.n, "] of ", dtypeName(p.cDtype));
  p.aux = a.tensor(23, p.cDtype, p.m * p.n);
  if (p.epilogue == GemmEpilogue::DGelu) {
    TS_CHECK(!p.bias, a.op, ": the gelu backward epilogue takes no bias");
    p.biasGrad = a.optionalTensor(25, p.biasGradDtype, p.n);
  }
}

// matmul(a, aOff, b, bOff, c, cOff, bias, biasOff, m, n, k, transA, transB, batch, strideA, strideB, strideC,
//        abDtype, cDtype, biasDtype, alpha, beta, epilogue, aux, auxOff, biasGrad, biasGradOff, biasGradDtype)
Napi::Value matmul(const Napi::CallbackInfo& info) {
  Args a(info, "matmul", 28);
  MatmulParams p;
  p.m = a.i64(8);
  p.n = a.i64(9);
  p.k = a.i64(10);
  TS_CHECK(p.m >= 0 && p.n >= 0 && p.k >= 0, a.op, ": negative matrix size");
  p.transA = a.flag(11);
  p.transB = a.flag(12);
  p.batch = a.i64(13);
  TS_CHECK(p.batch >= 1, a.op, ": batch must be at least 1");
  p.strideA = a.i64(14);
  p.strideB = a.i64(15);
  p.strideC = a.i64(16);
  p.abDtype = a.dtype(17);
  p.cDtype = a.dtype(18);
  p.biasDtype = a.dtype(19);
  checkFloat(a.op, p.abDtype);
  checkFloat(a.op, p.cDtype);
  TS_CHECK(p.cDtype == p.abDtype || p.cDtype == DType::F32, a.op, ": the output must have the inputs' dtype or be f32, got ",
           dtypeName(p.abDtype), " inputs and ", dtypeName(p.cDtype), " output");
  p.alpha = a.num(20);
  p.beta = a.num(21);
  int64_t lastA = (p.batch - 1) * p.strideA, lastB = (p.batch - 1) * p.strideB, lastC = (p.batch - 1) * p.strideC;
  p.a = a.tensor(0, p.abDtype, lastA + p.m * p.k);
  p.b = a.tensor(2, p.abDtype, lastB + p.k * p.n);
  p.c = a.tensor(4, p.cDtype, lastC + p.m * p.n);
  p.bias = a.optionalTensor(6, p.biasDtype, p.n);
  readEpilogue(a, p);
  TS_RUN(matmul, a, p);
  return undef(info);
}

}  // namespace

void registerKernels(Napi::Env env, Napi::Object exports) {
  using Fn = Napi::Value (*)(const Napi::CallbackInfo&);
  struct Entry { const char* name; Fn fn; };
  const Entry entries[] = {
      {"fill", fill}, {"arange", arange}, {"random", random}, {"cast", cast},
      {"unary", unaryOp}, {"unaryBackward", unaryBackward}, {"binary", binaryOp}, {"where", where},
      {"copyStrided", copyStrided}, {"accumulate", accumulate}, {"reduce", reduceOp},
      {"softmax", softmax}, {"softmaxBackward", softmaxBackward},
      {"maskedSoftmax", maskedSoftmax}, {"maskedSoftmaxBackward", maskedSoftmaxBackward},
      {"attention", attention}, {"attentionBackward", attentionBackward}, {"attentionWorkspaceBytes", attentionWorkspaceBytes}, {"norm", norm}, {"normBackward", normBackward},
      {"crossEntropy", crossEntropy}, {"crossEntropyBackward", crossEntropyBackward},
      {"indexSelect", indexSelect}, {"indexAdd", indexAdd}, {"gather", gather}, {"scatterAdd", scatterAdd},
      {"dropout", dropout}, {"maskedScale", maskedScale}, {"matmul", matmul},
  };
  for (const Entry& e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
}

}  // namespace ts::binding
