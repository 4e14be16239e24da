#include "kernels/util.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

extern "C" void openblas_set_num_threads(int);

namespace tiffin::kernels {

Result<Shape> BroadcastShapes(const ir::Node& node, const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == db || db == 1) {
      out[i] = da;
    } else if (da == 1) {
      out[i] = db;
    } else {
      return InvalidArgument(node.Describe() + ": shapes " + ShapeToString(a) + " and " +
                             ShapeToString(b) + " do not broadcast (dim " + std::to_string(i) +
                             ": " + std::to_string(da) + " vs " + std::to_string(db) + ")");
    }
  }
  return out;
}

std::vector<int64_t> BroadcastStrides(const Shape& in, const Shape& out) {
  std::vector<int64_t> strides(out.size(), 0);
  int64_t s = 1;
  for (size_t k = 0; k < in.size(); ++k) {
    size_t i = in.size() - 1 - k;
    size_t o = out.size() - 1 - k;
    strides[o] = in[i] == 1 ? 0 : s;
    s *= in[i];
  }
  return strides;
}

std::vector<int64_t> Strides(const Shape& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    s[i] = s[i + 1] * shape[i + 1];
  return s;
}

Result<int64_t> NormalizeAxis(const ir::Node& node, int64_t axis, int64_t rank) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) {
    return InvalidArgument(node.Describe() + ": axis " + std::to_string(axis) +
                           " is out of range for rank " + std::to_string(rank));
  }
  return a;
}

Result<std::vector<int64_t>> ToInt64s(const ir::Node& node, const Tensor& t, const char* what) {
  std::vector<int64_t> v(static_cast<size_t>(t.size()));
  if (v.empty()) return v;  // memcpy from an empty tensor's null data is undefined
  if (t.dtype() == DType::kInt64) {
    std::memcpy(v.data(), t.raw_data(), v.size() * sizeof(int64_t));
  } else if (t.dtype() == DType::kInt32) {
    for (size_t i = 0; i < v.size(); ++i) v[i] = t.data<int32_t>()[i];
  } else {
    return BadDType(node, what, t.dtype());
  }
  return v;
}

Result<double> ScalarAsDouble(const ir::Node& node, const Tensor& t, const char* what) {
  if (t.size() < 1) {
    return InvalidArgument(node.Describe() + ": " + what + " is empty, expected one value");
  }
  double out = 0;
  Status s = DispatchAll(node, t.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, std::string>) {
      return BadDType(node, what, t.dtype());
    } else {
      if constexpr (std::is_same_v<T, Float16>) {
        out = static_cast<double>(static_cast<float>(t.data<T>()[0]));
      } else {
        out = static_cast<double>(t.data<T>()[0]);
      }
      return Status::Ok();
    }
  });
  TIFFIN_RETURN_IF_ERROR(s);
  return out;
}

Status MissingInput(const ir::Node& node, int i, const char* what) {
  return InvalidArgument(node.Describe() + ": required input " + std::to_string(i) + " (" + what +
                         ") is missing");
}

Status BadDType(const ir::Node& node, const char* what, DType got) {
  return NotSupported(node.Describe() + ": " + what + " has dtype " + std::string(DTypeName(got)) +
                      ", which this operator does not support");
}

Result<const Tensor*> RequiredInput(KernelContext& ctx, int i, const char* what) {
  const Tensor* t = ctx.input(i);
  if (t == nullptr) return MissingInput(ctx.node(), i, what);
  return t;
}

void CopyElements(DType dt, const void* src, void* dst, int64_t n) {
  if (n <= 0) return;
  if (dt == DType::kString) {
    const auto* s = static_cast<const std::string*>(src);
    auto* d = static_cast<std::string*>(dst);
    for (int64_t i = 0; i < n; ++i) d[i] = s[i];
  } else {
    std::memcpy(dst, src, static_cast<size_t>(n) * DTypeSize(dt));
  }
}

Tensor HalfToFloatTensor(const Tensor& t) {
  Tensor out(DType::kFloat32, t.shape());
  const Float16* s = t.data<Float16>();
  float* d = out.data<float>();
  for (int64_t i = 0; i < t.size(); ++i) d[i] = static_cast<float>(s[i]);
  return out;
}

void FloatToHalfInto(const Tensor& src, Tensor* dst) {
  const float* s = src.data<float>();
  Float16* d = dst->data<Float16>();
  for (int64_t i = 0; i < src.size(); ++i) d[i] = Float16(s[i]);
}

void InitBlasThreadsOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("OPENBLAS_NUM_THREADS") == nullptr) openblas_set_num_threads(1);
  });
}

}  // namespace tiffin::kernels
