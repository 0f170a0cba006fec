// CPU cross entropy over rows of logits [rows, vocab] with integer labels, + backward.
// Math in acc_t (fp32; fp64 for f64 logits); loss and lse are written as fp32. With label
// smoothing s:
//   loss = lse - (1 - s) * logit[label] - s * mean(logits)
//   glogits = gloss * (softmax - (1 - s) * onehot(label) - s / vocab)
// Rows labelled ignoreIndex get loss 0 (their lse is still computed) and a zero gradient.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/kernels.h"
#include "core/ops.h"
#include "cpu/dispatch.h"
#include "cpu/threadpool.h"

namespace ts::cpu {
namespace {

// Every label must be ignoreIndex or in [0, vocab); checked up front so no output is half written.
template <typename L>
void checkLabels(const char* op, const L* labels, int64_t rows, int64_t vocab, int64_t ignoreIndex) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t label = int64_t(labels[r]);
    TS_CHECK(label == ignoreIndex || (label >= 0 && label < vocab), op, ": label ", label, " at row ", r,
             " is out of range for vocab size ", vocab, "; labels must be in [0, ", vocab,
             ") or equal ignoreIndex (", ignoreIndex, ")");
  }
}

template <typename T, typename A>
A logSumExp(const T* x, int64_t n) {
  A mx = -std::numeric_limits<A>::infinity();
  for (int64_t j = 0; j < n; ++j) mx = std::max(mx, load<T, A>(x[j]));
  A sum = 0;
  for (int64_t j = 0; j < n; ++j) sum += m_exp(load<T, A>(x[j]) - mx);
  return mx + m_log(sum);
}

}  // namespace

void crossEntropy(const CrossEntropyParams& p) {
  TS_DISPATCH_INDEX(p.labelDtype, "crossEntropy", [&](auto tl) {
    using L = TS_TYPE(tl);
    const L* labels = static_cast<const L*>(p.labels);
    checkLabels("crossEntropy", labels, p.rows, p.vocab, p.ignoreIndex);
    TS_CPU_DISPATCH_FLOAT(p.dtype, "crossEntropy", [&](auto tx) {
      using T = TS_TYPE(tx);
      using A = acc_t<T>;
      const T* logits = static_cast<const T*>(p.logits);
      const A s = A(p.labelSmoothing);
      parallelFor(p.rows, rowsPerTask(p.vocab), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const T* x = logits + r * p.vocab;
          const int64_t label = int64_t(labels[r]);
          const A lse = logSumExp<T, A>(x, p.vocab);
          p.lse[r] = float(lse);
          if (label == p.ignoreIndex) {
            p.loss[r] = 0.0f;
            continue;
          }
          A loss = lse - (A(1) - s) * load<T, A>(x[label]);
          if (s != A(0)) {
            A sum = 0;
            for (int64_t j = 0; j < p.vocab; ++j) sum += load<T, A>(x[j]);
            loss -= s * sum / A(p.vocab);
          }
          p.loss[r] = float(loss);
        }
      });
    });
  });
}

void crossEntropyBackward(const CrossEntropyBackwardParams& p) {
  TS_DISPATCH_INDEX(p.labelDtype, "crossEntropyBackward", [&](auto tl) {
    using L = TS_TYPE(tl);
    const L* labels = static_cast<const L*>(p.labels);
    checkLabels("crossEntropyBackward", labels, p.rows, p.vocab, p.ignoreIndex);
    TS_CPU_DISPATCH_FLOAT(p.dtype, "crossEntropyBackward", [&](auto tx) {
      using T = TS_TYPE(tx);
      using A = acc_t<T>;
      const T* logits = static_cast<const T*>(p.logits);
      T* glogits = static_cast<T*>(p.glogits);
      const A s = A(p.labelSmoothing);
      const A uniform = s / A(p.vocab);
      parallelFor(p.rows, rowsPerTask(p.vocab), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const T* x = logits + r * p.vocab;
          T* g = glogits + r * p.vocab;
          const int64_t label = int64_t(labels[r]);
          if (label == p.ignoreIndex) {
            std::fill(g, g + p.vocab, store<T, A>(A(0)));
            continue;
          }
          const A lse = A(p.lse[r]), scale = A(p.gloss[r]);
          for (int64_t j = 0; j < p.vocab; ++j) {
            A grad = m_exp(load<T, A>(x[j]) - lse) - uniform;
            if (j == label) grad -= A(1) - s;
            g[j] = store<T, A>(scale * grad);
          }
        }
      });
    });
  });
}

}  // namespace ts::cpu
