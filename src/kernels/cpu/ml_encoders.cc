// ai.onnx.ml encoders: LabelEncoder (opset 1; opsets 2 and 4, whose
// keys_*/values_* lists and tensors it shares), OneHotEncoder and
// FeatureVectorizer.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernels/cpu/ml_internal.h"
#include "kernels/registry.h"
#include "kernels/util.h"

namespace tiffin::kernels {
namespace {

using ml::Bad;

bool IsLabelDType(DType dt) {
  return dt == DType::kString || dt == DType::kInt64 || dt == DType::kInt32 ||
         dt == DType::kInt16 || dt == DType::kFloat32 || dt == DType::kFloat64;
}

// Key -> position of its value. Integer keys of any width compare as int64
// and float keys as double; a NaN key matches any NaN input. A key listed
// twice maps to its last value, as the spec (opset 4) says.
struct KeyIndex {
  DType dtype = DType::kUndefined;
  std::unordered_map<std::string, int64_t> strings;
  std::unordered_map<int64_t, int64_t> ints;
  std::map<double, int64_t> floats;  // ordered: -0.0 and 0.0 are one key
  int64_t nan = -1;

  void Add(const Tensor& keys) {
    dtype = keys.dtype();
    for (int64_t i = 0; i < keys.size(); ++i) {
      switch (dtype) {
        case DType::kString:
          strings[keys.data<std::string>()[i]] = i;
          break;
        case DType::kInt64:
          ints[keys.data<int64_t>()[i]] = i;
          break;
        case DType::kInt32:
          ints[keys.data<int32_t>()[i]] = i;
          break;
        case DType::kInt16:
          ints[keys.data<int16_t>()[i]] = i;
          break;
        default: {
          const double v =
              dtype == DType::kFloat32 ? keys.data<float>()[i] : keys.data<double>()[i];
          if (std::isnan(v))
            nan = i;
          else
            floats[v] = i;
          break;
        }
      }
    }
  }

  int64_t FindString(const std::string& v) const {
    auto it = strings.find(v);
    return it == strings.end() ? -1 : it->second;
  }
  int64_t FindInt(int64_t v) const {
    auto it = ints.find(v);
    return it == ints.end() ? -1 : it->second;
  }
  int64_t FindFloat(double v) const {
    if (std::isnan(v)) return nan;
    auto it = floats.find(v);
    return it == floats.end() ? -1 : it->second;
  }

  // Position of element i of x, or -1. REQUIRES: x.dtype() == dtype.
  int64_t Find(const Tensor& x, int64_t i) const {
    switch (dtype) {
      case DType::kString:
        return FindString(x.data<std::string>()[i]);
      case DType::kInt64:
        return FindInt(x.data<int64_t>()[i]);
      case DType::kInt32:
        return FindInt(x.data<int32_t>()[i]);
      case DType::kInt16:
        return FindInt(x.data<int16_t>()[i]);
      case DType::kFloat32:
        return FindFloat(x.data<float>()[i]);
      default:
        return FindFloat(x.data<double>()[i]);
    }
  }
};

// Y[i] = values[index[i]], or `fallback` (a one-element tensor of the values'
// dtype) where index[i] is -1.
Status Gather(const ir::Node& node, const std::vector<int64_t>& index, const Tensor& values,
              const Tensor& fallback, Tensor* y) {
  return DispatchAll(node, values.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* v = values.data<T>();
    const T& d = fallback.data<T>()[0];
    T* o = y->data<T>();
    for (size_t i = 0; i < index.size(); ++i) o[i] = index[i] < 0 ? d : v[index[i]];
    return Status::Ok();
  });
}

// ---- LabelEncoder, opset 1: classes_strings maps strings <-> positions ----
struct LabelEncoderV1Attrs {
  std::vector<std::string> classes;
  KeyIndex index;
  int64_t default_int = -1;
  std::string default_string;
  static Result<LabelEncoderV1Attrs> Parse(const KernelInit& init) {
    LabelEncoderV1Attrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.classes, init.node.GetStrings("classes_strings"));
    TIFFIN_ASSIGN_OR_RETURN(a.default_int, init.node.GetInt("default_int64", -1));
    TIFFIN_ASSIGN_OR_RETURN(a.default_string, init.node.GetString("default_string", "_Unused"));
    a.index.Add(Tensor::FromVector(a.classes, Shape{static_cast<int64_t>(a.classes.size())}));
    return a;
  }
};

Status LabelEncoderV1Compute(KernelContext& ctx, const LabelEncoderV1Attrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  const int64_t n = x->size();
  if (x->dtype() == DType::kString) {
    TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kInt64, x->shape()));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t k = a.index.FindString(x->data<std::string>()[i]);
      y->data<int64_t>()[i] = k < 0 ? a.default_int : k;
    }
    return Status::Ok();
  }
  if (x->dtype() == DType::kInt64) {
    TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kString, x->shape()));
    const int64_t nc = static_cast<int64_t>(a.classes.size());
    for (int64_t i = 0; i < n; ++i) {
      const int64_t k = x->data<int64_t>()[i];
      y->data<std::string>()[i] =
          k >= 0 && k < nc ? a.classes[static_cast<size_t>(k)] : a.default_string;
    }
    return Status::Ok();
  }
  return BadDType(node, "X", x->dtype());
}

// ---- LabelEncoder, opsets 2 and 4 ----
struct LabelEncoderAttrs {
  KeyIndex index;
  Tensor values;    // 1-D, the output dtype
  Tensor fallback;  // one element of the values' dtype

  // The one keys_* or values_* attribute that is set, as a 1-D tensor.
  static Result<Tensor> OneOf(const ir::Node& node, const std::string& prefix) {
    const std::string names[] = {prefix + "_strings", prefix + "_int64s", prefix + "_floats",
                                 prefix + "_tensor"};
    int set = 0;
    Tensor t;
    for (const std::string& name : names) {
      if (!node.HasAttribute(name)) continue;
      ++set;
      if (name == names[0]) {
        TIFFIN_ASSIGN_OR_RETURN(auto v, node.GetStrings(name));
        t = Tensor::FromVector(v, Shape{static_cast<int64_t>(v.size())});
      } else if (name == names[1]) {
        TIFFIN_ASSIGN_OR_RETURN(auto v, node.GetInts(name));
        t = Tensor::FromVector(v, Shape{static_cast<int64_t>(v.size())});
      } else if (name == names[2]) {
        TIFFIN_ASSIGN_OR_RETURN(auto v, node.GetFloats(name));
        t = Tensor::FromVector(v, Shape{static_cast<int64_t>(v.size())});
      } else {
        TIFFIN_ASSIGN_OR_RETURN(t, node.GetTensor(name));
        if (!IsLabelDType(t.dtype()))
          return Status(Bad(node, name + " has dtype " + std::string(DTypeName(t.dtype())) +
                                      "; it must be string, int64, int32, int16, float or double"));
        t = t.Reshaped(Shape{t.size()});
      }
    }
    if (set != 1)
      return Status(Bad(node, "exactly one of " + prefix + "_strings, " + prefix + "_int64s, " +
                                  prefix + "_floats and " + prefix + "_tensor must be set"));
    return t;
  }

  static Result<LabelEncoderAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    LabelEncoderAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(Tensor keys, OneOf(node, "keys"));
    TIFFIN_ASSIGN_OR_RETURN(a.values, OneOf(node, "values"));
    if (keys.size() != a.values.size())
      return Status(Bad(node, "keys has " + std::to_string(keys.size()) + " entries and values " +
                                  std::to_string(a.values.size()) + "; they must match"));
    a.index.Add(keys);
    const DType vt = a.values.dtype();
    if (node.HasAttribute("default_tensor")) {
      TIFFIN_ASSIGN_OR_RETURN(a.fallback, node.GetTensor("default_tensor"));
      if (a.fallback.dtype() != vt || a.fallback.size() < 1)
        return Status(Bad(node, "default_tensor must hold one value of the values' dtype (" +
                                    std::string(DTypeName(vt)) + ")"));
      return a;
    }
    // The default_* attribute of the values' type, else the spec's default
    // for default_tensor: "_Unused", -1 or -0.0.
    a.fallback = Tensor(vt, Shape{1});
    switch (vt) {
      case DType::kString: {
        TIFFIN_ASSIGN_OR_RETURN(a.fallback.data<std::string>()[0],
                                node.GetString("default_string", "_Unused"));
        break;
      }
      case DType::kInt64: {
        TIFFIN_ASSIGN_OR_RETURN(a.fallback.data<int64_t>()[0], node.GetInt("default_int64", -1));
        break;
      }
      case DType::kFloat32: {
        TIFFIN_ASSIGN_OR_RETURN(a.fallback.data<float>()[0], node.GetFloat("default_float", -0.0f));
        break;
      }
      case DType::kInt32:
        a.fallback.data<int32_t>()[0] = -1;
        break;
      case DType::kInt16:
        a.fallback.data<int16_t>()[0] = -1;
        break;
      default:
        a.fallback.data<double>()[0] = -0.0;
        break;
    }
    return a;
  }
};

Status LabelEncoderCompute(KernelContext& ctx, const LabelEncoderAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  if (x->dtype() != a.index.dtype)
    return Status(NotSupported(node.Describe() + ": X has dtype " +
                               std::string(DTypeName(x->dtype())) + ", but the keys are " +
                               std::string(DTypeName(a.index.dtype)) + " (they must match)"));
  std::vector<int64_t> index(static_cast<size_t>(x->size()));
  for (int64_t i = 0; i < x->size(); ++i) index[static_cast<size_t>(i)] = a.index.Find(*x, i);
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, a.values.dtype(), x->shape()));
  return Gather(node, index, a.values, a.fallback, y);
}

// ---- OneHotEncoder ----
struct OneHotAttrs {
  KeyIndex index;
  int64_t n = 0;  // categories
  bool zeros = true;
  static Result<OneHotAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    OneHotAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(auto ints, node.GetInts("cats_int64s"));
    TIFFIN_ASSIGN_OR_RETURN(auto strings, node.GetStrings("cats_strings"));
    TIFFIN_ASSIGN_OR_RETURN(int64_t z, node.GetInt("zeros", 1));
    a.zeros = z != 0;
    if (ints.empty() == strings.empty())
      return Status(Bad(node, "exactly one of cats_int64s and cats_strings must be set"));
    if (strings.empty()) {
      a.n = static_cast<int64_t>(ints.size());
      a.index.Add(Tensor::FromVector(ints, Shape{a.n}));
    } else {
      a.n = static_cast<int64_t>(strings.size());
      a.index.Add(Tensor::FromVector(strings, Shape{a.n}));
    }
    return a;
  }
};

// Category position of element i of x, or -1. Float inputs are truncated to
// int64, as the spec says ("cast to integers"); a value that no int64 holds
// (NaN, infinities, |v| >= 2^63) is no category.
int64_t OneHotFind(const KeyIndex& index, const Tensor& x, int64_t i) {
  switch (x.dtype()) {
    case DType::kString:
      return index.FindString(x.data<std::string>()[i]);
    case DType::kInt64:
      return index.FindInt(x.data<int64_t>()[i]);
    case DType::kInt32:
      return index.FindInt(x.data<int32_t>()[i]);
    default: {
      const double v = x.dtype() == DType::kFloat32 ? x.data<float>()[i] : x.data<double>()[i];
      if (!(v > -9223372036854775808.0 && v < 9223372036854775808.0)) return -1;
      return index.FindInt(static_cast<int64_t>(v));
    }
  }
}

Status OneHotCompute(KernelContext& ctx, const OneHotAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  const DType dt = x->dtype();
  if (dt != DType::kString && dt != DType::kInt64 && dt != DType::kInt32 && dt != DType::kFloat32 &&
      dt != DType::kFloat64)
    return BadDType(node, "X", dt);
  if ((dt == DType::kString) != (a.index.dtype == DType::kString))
    return Bad(node, dt == DType::kString ? "string input needs cats_strings"
                                          : "numeric input needs cats_int64s");
  Shape shape = x->shape();
  shape.push_back(a.n);
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kFloat32, shape));
  float* o = y->data<float>();
  std::fill(o, o + y->size(), 0.0f);
  for (int64_t i = 0; i < x->size(); ++i) {
    const int64_t k = OneHotFind(a.index, *x, i);
    if (k >= 0)
      o[i * a.n + k] = 1.0f;
    else if (!a.zeros)
      return Bad(node, "element " + std::to_string(i) + " of X is not a category, and zeros is 0");
  }
  return Status::Ok();
}

// ---- FeatureVectorizer ----
struct FeatureVectorizerAttrs {
  std::vector<int64_t> dims;
  int64_t total = 0;
  static Result<FeatureVectorizerAttrs> Parse(const KernelInit& init) {
    FeatureVectorizerAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.dims, init.node.GetInts("inputdimensions"));
    for (int64_t d : a.dims) {
      if (d < 0 || d > (int64_t{1} << 31))
        return Status(Bad(init.node, "inputdimensions value " + std::to_string(d) +
                                         " is out of range [0, 2^31]"));
      a.total += d;
    }
    return a;
  }
};

// Concatenates the inputs' rows: input k contributes its first dims[k]
// values per row, padded with zeros when it has fewer (as ONNX Runtime).
Status FeatureVectorizerCompute(KernelContext& ctx, const FeatureVectorizerAttrs& a) {
  const ir::Node& node = ctx.node();
  const int count = ctx.num_inputs();
  if (count < 1 || static_cast<size_t>(count) != a.dims.size())
    return Bad(node, "has " + std::to_string(count) + " inputs but inputdimensions has " +
                         std::to_string(a.dims.size()) + " values");
  int64_t n = -1;
  for (int k = 0; k < count; ++k) {
    const Tensor* t = ctx.input(k);
    if (t == nullptr) return MissingInput(node, k, "X");
    if (t->rank() < 1) return Bad(node, "input " + std::to_string(k) + " must have rank >= 1");
    const int64_t rows = t->rank() == 1 ? 1 : t->dim(0);
    if (n >= 0 && rows != n)
      return Bad(node, "input " + std::to_string(k) + " has " + std::to_string(rows) +
                           " rows; input 0 has " + std::to_string(n));
    n = rows;
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kFloat32, Shape{n, a.total}));
  float* o = y->data<float>();
  std::fill(o, o + y->size(), 0.0f);
  int64_t offset = 0;
  for (int k = 0; k < count; ++k) {
    const Tensor& t = *ctx.input(k);
    int64_t width = 1;  // values per row
    for (int64_t d = t.rank() == 1 ? 0 : 1; d < t.rank(); ++d) width *= t.dim(d);
    const int64_t take = std::min(width, a.dims[static_cast<size_t>(k)]);
    auto copy = [&](auto tag) {
      using T = decltype(tag);
      const T* p = t.data<T>();
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < take; ++j)
          o[i * a.total + offset + j] = static_cast<float>(p[i * width + j]);
    };
    switch (t.dtype()) {
      case DType::kFloat32:
        copy(float{});
        break;
      case DType::kFloat64:
        copy(double{});
        break;
      case DType::kInt32:
        copy(int32_t{});
        break;
      case DType::kInt64:
        copy(int64_t{});
        break;
      default:
        return BadDType(node, "X", t.dtype());
    }
    offset += a.dims[static_cast<size_t>(k)];
  }
  return Status::Ok();
}

const KernelDef kRows[] = {
    {"LabelEncoder", "ai.onnx.ml", 1, 1,
     MakeAttrKernel<LabelEncoderV1Attrs, LabelEncoderV1Compute>},
    {"LabelEncoder", "ai.onnx.ml", 2, 5, MakeAttrKernel<LabelEncoderAttrs, LabelEncoderCompute>},
    {"OneHotEncoder", "ai.onnx.ml", 1, 5, MakeAttrKernel<OneHotAttrs, OneHotCompute>},
    {"FeatureVectorizer", "ai.onnx.ml", 1, 5,
     MakeAttrKernel<FeatureVectorizerAttrs, FeatureVectorizerCompute>},
};

}  // namespace

namespace ml {
std::span<const KernelDef> EncoderKernels() { return kRows; }
}  // namespace ml

}  // namespace tiffin::kernels
