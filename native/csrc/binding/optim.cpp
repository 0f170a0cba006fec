// Binding: the multi-tensor optimizer kernels (core/optim_kernels.h). A tensor list crosses as
// parallel arrays of storage handles, element offsets and element counts (plain arrays or
// Float64Arrays); every entry is checked like a single tensor argument: a live handle, one device
// for the whole call, and an extent inside its storage.
#include <vector>

#include "binding/args.h"
#include "core/optim_kernels.h"

namespace ts::binding {
namespace {

// The numbers of argument i: a Float64Array or an array of numbers.
std::vector<double> numbers(const Args& a, size_t i) {
  Napi::Value v = a.info[i];
  std::vector<double> out;
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array) {
    Napi::Float64Array f = v.As<Napi::Float64Array>();
    out.assign(f.Data(), f.Data() + f.ElementLength());
    return out;
  }
  TS_CHECK(v.IsArray(), a.op, ": argument ", i, " must be a Float64Array or an array of numbers");
  Napi::Array arr = v.As<Napi::Array>();
  out.resize(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value e = arr.Get(k);
    TS_CHECK(e.IsNumber(), a.op, ": argument ", i, " holds a non-number at index ", k);
    out[k] = e.As<Napi::Number>().DoubleValue();
  }
  return out;
}

// Entry k of a tensor list: checked like Args::tensor, with the list's name in every message.
void* listTensor(Args& a, const char* list, size_t k, double handle, double offset, DType dt, int64_t extent) {
  TS_CHECK(handle >= 1 && offset >= 0, a.op, ": ", list, "[", k, "] has handle ", handle, " and offset ", offset,
           "; both must be valid (handles start at 1, offsets at 0)");
  const Storage& st = storage(uint32_t(handle));
  a.sameDevice(st.device);
  size_t es = elemSize(dt);
  TS_CHECK(size_t(int64_t(offset) + extent) * es <= st.bytes, a.op, ": ", list, "[", k, "] reaches past its storage (offset ",
           int64_t(offset), " + ", extent, " elements of ", dtypeName(dt), " > ", st.bytes, " bytes)");
  return static_cast<char*>(st.ptr) + size_t(offset) * es;
}

void checkFloatDtype(const char* op, const char* what, DType d) {
  TS_CHECK(isFloating(d), op, ": ", what, " must be floating (f32, f64, f16, bf16), got ", dtypeName(d));
}

std::vector<int64_t> counts(const Args& a, size_t i) {
  std::vector<double> raw = numbers(a, i);
  std::vector<int64_t> n(raw.size());
  for (size_t k = 0; k < raw.size(); ++k) {
    TS_CHECK(raw[k] >= 0 && raw[k] == double(int64_t(raw[k])), a.op, ": size ", k, " must be a non-negative integer, got ", raw[k]);
    n[k] = int64_t(raw[k]);
  }
  return n;
}

// multiTensorAdam(handles, offsets, sizes, paramDtype, gradDtype, hasMain, lr, beta1, beta2, eps,
//                 weightDecay, step, decoupled, gradScale)
// handles/offsets hold five lists of sizes.length entries: params, mains, grads, expAvgs, expAvgSqs.
Napi::Value multiTensorAdam(const Napi::CallbackInfo& info) {
  Args a(info, "multiTensorAdam", 14);
  std::vector<double> handles = numbers(a, 0), offsets = numbers(a, 1);
  std::vector<int64_t> sizes = counts(a, 2);
  size_t count = sizes.size();
  TS_CHECK(handles.size() == 5 * count && offsets.size() == 5 * count, a.op, ": handles and offsets must hold 5 lists of ",
           count, " entries (params, mains, grads, expAvgs, expAvgSqs), got ", handles.size(), " and ", offsets.size());
  MultiTensorAdamParams p;
  p.paramDtype = a.dtype(3);
  p.gradDtype = a.dtype(4);
  checkFloatDtype(a.op, "the parameters", p.paramDtype);
  checkFloatDtype(a.op, "the gradients", p.gradDtype);
  bool hasMain = a.flag(5);
  double step = a.num(11);
  TS_CHECK(step >= 1, a.op, ": step counts from 1, got ", step);
  double beta1 = a.num(7), beta2 = a.num(8);
  TS_CHECK(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, a.op, ": betas must be in [0, 1), got ", beta1, " and ", beta2);
  p.s = adamScalars(a.num(6), beta1, beta2, a.num(9), a.num(10), step, a.num(13), a.flag(12));
  std::vector<AdamTensor> tensors(count);
  for (size_t k = 0; k < count; ++k) {
    AdamTensor& t = tensors[k];
    t.n = sizes[k];
    t.param = listTensor(a, "params", k, handles[k], offsets[k], p.paramDtype, t.n);
    t.main = hasMain ? static_cast<float*>(listTensor(a, "mains", k, handles[count + k], offsets[count + k], DType::F32, t.n)) : nullptr;
    t.grad = listTensor(a, "grads", k, handles[2 * count + k], offsets[2 * count + k], p.gradDtype, t.n);
    t.expAvg = static_cast<float*>(listTensor(a, "expAvgs", k, handles[3 * count + k], offsets[3 * count + k], DType::F32, t.n));
    t.expAvgSq = static_cast<float*>(listTensor(a, "expAvgSqs", k, handles[4 * count + k], offsets[4 * count + k], DType::F32, t.n));
  }
  p.tensors = tensors.data();
  p.count = int64_t(count);
  if (count > 0) TS_RUN(multiTensorAdam, a, p);
  return info.Env().Undefined();
}

std::vector<TensorSpan> spans(Args& a, const std::vector<double>& handles, const std::vector<double>& offsets,
                              const std::vector<int64_t>& sizes, DType dt) {
  TS_CHECK(handles.size() == sizes.size() && offsets.size() == sizes.size(), a.op, ": handles, offsets and sizes must have one entry per tensor, got ",
           handles.size(), ", ", offsets.size(), " and ", sizes.size());
  std::vector<TensorSpan> out(sizes.size());
  for (size_t k = 0; k < sizes.size(); ++k) out[k] = {listTensor(a, "tensors", k, handles[k], offsets[k], dt, sizes[k]), sizes[k]};
  return out;
}

// multiTensorSquaredNorm(handles, offsets, sizes, dtype, out, outOff, accumulate): out[0] (f32) = sum of squares
Napi::Value multiTensorSquaredNorm(const Napi::CallbackInfo& info) {
  Args a(info, "multiTensorSquaredNorm", 7);
  MultiTensorSquaredNormParams p;
  p.dtype = a.dtype(3);
  checkFloatDtype(a.op, "the tensors", p.dtype);
  std::vector<TensorSpan> list = spans(a, numbers(a, 0), numbers(a, 1), counts(a, 2), p.dtype);
  p.out = static_cast<float*>(a.tensor(4, DType::F32, 1));
  p.accumulate = a.flag(6);
  p.tensors = list.data();
  p.count = int64_t(list.size());
  TS_RUN(multiTensorSquaredNorm, a, p);
  return info.Env().Undefined();
}

// multiTensorScale(handles, offsets, sizes, dtype, scale): every tensor *= scale, in place
Napi::Value multiTensorScale(const Napi::CallbackInfo& info) {
  Args a(info, "multiTensorScale", 5);
  MultiTensorScaleParams p;
  p.dtype = a.dtype(3);
  checkFloatDtype(a.op, "the tensors", p.dtype);
  std::vector<TensorSpan> list = spans(a, numbers(a, 0), numbers(a, 1), counts(a, 2), p.dtype);
  p.scale = a.num(4);
  p.tensors = list.data();
  p.count = int64_t(list.size());
  if (p.count > 0) TS_RUN(multiTensorScale, a, p);
  return info.Env().Undefined();
}

}  // namespace

void registerOptim(Napi::Env env, Napi::Object exports) {
  exports.Set("multiTensorAdam", Napi::Function::New(env, multiTensorAdam, "multiTensorAdam"));
  exports.Set("multiTensorSquaredNorm", Napi::Function::New(env, multiTensorSquaredNorm, "multiTensorSquaredNorm"));
  exports.Set("multiTensorScale", Napi::Function::New(env, multiTensorScale, "multiTensorScale"));
}

}  // namespace ts::binding
