// Helpers shared by the ai.onnx.ml kernel files (ml.cc, ml_tree.cc,
// ml_svm.cc, ml_encoders.cc), and the tables those files contribute to
// MlKernels(). Internal to kernels/cpu/.
#ifndef TIFFIN_KERNELS_CPU_ML_INTERNAL_H_
#define TIFFIN_KERNELS_CPU_ML_INTERNAL_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kernels/kernel.h"

namespace tiffin::kernels::ml {

// The rows of each ai.onnx.ml file other than ml.cc; MlKernels() joins them.
std::span<const KernelDef> TreeKernels();
std::span<const KernelDef> SvmKernels();
std::span<const KernelDef> EncoderKernels();

// InvalidArgument "<node>: <what>".
Status Bad(const ir::Node& node, const std::string& what);

// X viewed as rows of its last dimension, converted to float (as ONNX
// Runtime does for the ops whose parameters are float attributes).
struct FloatRows {
  std::vector<float> v;
  int64_t n = 1;  // rows
  int64_t c = 1;  // last dim
};

// Reads a float, double, int32 or int64 tensor; other dtypes are refused.
Result<FloatRows> ReadRows(const ir::Node& node, const Tensor& x);

// Score transforms named by post_transform.
enum class Post { kNone, kLogistic, kSoftmax, kSoftmaxZero, kProbit };

// Parses the string attribute post_transform (default NONE). PROBIT is
// refused unless `allow_probit` (the older kernels never implemented it).
Result<Post> ParsePost(const ir::Node& node, bool allow_probit = false);

// Maps the integer post_transform of TreeEnsemble (opset 5): 0 NONE,
// 1 SOFTMAX, 2 LOGISTIC, 3 SOFTMAX_ZERO, 4 PROBIT.
Result<Post> PostFromInt(const ir::Node& node, int64_t v);

// 1 / (1 + exp(-s)), computed without overflow for large |s|.
inline double Logistic(double s) {
  const double v = 1.0 / (1.0 + std::exp(-std::fabs(s)));
  return s >= 0 ? v : 1.0 - v;
}

// sqrt(2) * erfinv(2p - 1), with the closed-form erfinv approximation
// (a = 0.147) that ONNX Runtime uses, so PROBIT scores agree with it; NaN
// outside [0, 1].
double Probit(double p);

// Applies `p` to one row of `k` scores in place. SOFTMAX_ZERO leaves zero
// scores at zero and takes the softmax of the others; a row of zeros stays
// zero.
template <typename T>
void ApplyPost(Post p, T* row, int64_t k) {
  switch (p) {
    case Post::kNone:
      return;
    case Post::kLogistic:
      for (int64_t j = 0; j < k; ++j) row[j] = static_cast<T>(Logistic(row[j]));
      return;
    case Post::kProbit:
      for (int64_t j = 0; j < k; ++j) row[j] = static_cast<T>(Probit(row[j]));
      return;
    case Post::kSoftmax:
    case Post::kSoftmaxZero: {
      if (k == 0) return;
      T m = row[0];
      for (int64_t j = 1; j < k; ++j) m = std::max(m, row[j]);
      T sum = 0;
      for (int64_t j = 0; j < k; ++j) {
        const bool zero = p == Post::kSoftmaxZero && row[j] == T(0);
        row[j] = zero ? T(0) : static_cast<T>(std::exp(row[j] - m));
        sum += row[j];
      }
      if (sum > 0)
        for (int64_t j = 0; j < k; ++j) row[j] /= sum;
      return;
    }
  }
}

// A factory that refuses an operator whose inputs or outputs are maps or
// sequences (ZipMap, CastMap, DictVectorizer): tiffin values are tensors.
template <const char* kAdvice>
Result<std::unique_ptr<Kernel>> RefuseNonTensor(const KernelInit& init) {
  return Status(NotSupported(init.node.Describe() + ": " + init.node.op_type +
                             " takes or returns maps or sequences, and tiffin values are "
                             "tensors only; " +
                             kAdvice));
}

}  // namespace tiffin::kernels::ml

#endif  // TIFFIN_KERNELS_CPU_ML_INTERNAL_H_
