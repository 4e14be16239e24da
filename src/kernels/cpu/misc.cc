// Constants, casts and resampling:
// Constant ConstantOfShape Identity, Cast CastLike, Range, Resize Upsample,
// Einsum.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#if defined(__F16C__)
#include <immintrin.h>
#endif

#include "kernels/registry.h"
#include "kernels/util.h"

namespace tiffin::kernels {
namespace {

std::string Str(int64_t v) { return std::to_string(v); }

Status Bad(const ir::Node& node, const std::string& what) {
  return InvalidArgument(node.Describe() + ": " + what);
}

std::string DName(DType dt) { return std::string(DTypeName(dt)); }

// ToInt64s, except that an empty tensor gives an empty list without touching
// its (possibly null) buffer.
Result<std::vector<int64_t>> Ints(const ir::Node& node, const Tensor& t, const char* what) {
  if (t.dtype() != DType::kInt64 && t.dtype() != DType::kInt32)
    return BadDType(node, what, t.dtype());
  if (t.size() == 0) return std::vector<int64_t>{};
  return ToInt64s(node, t, what);
}

// Validates an ONNX dtype code (a Cast 'to', a ConstantOfShape value ...).
Result<DType> CheckDType(const ir::Node& node, int64_t code, const char* what) {
  if (code == 16) {
    return NotSupported(node.Describe() + ": " + what +
                        " is bfloat16, which tiffin does not support");
  }
  if (code >= 17 && code <= 20) {
    return NotSupported(node.Describe() + ": " + what + " is a float8 type (" + Str(code) +
                        "), which tiffin does not support");
  }
  if (code < 1 || code > 100 || !IsKnownDType(static_cast<int32_t>(code))) {
    return NotSupported(node.Describe() + ": " + what + " is ONNX dtype " + Str(code) +
                        ", which tiffin does not support");
  }
  return static_cast<DType>(code);
}

// ---------------------------------------------------------------- Constant

struct ConstantAttrs {
  Tensor value;
  static Result<ConstantAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    if (node.HasAttribute("sparse_value")) {
      return NotSupported(node.Describe() +
                          ": sparse_value constants are not supported (densify the model)");
    }
    int found = 0;
    ConstantAttrs a;
    for (const auto& [key, attr] : node.attributes) {
      if (key == "value") {
        TIFFIN_ASSIGN_OR_RETURN(a.value, node.GetTensor(key));
      } else if (key == "value_float") {
        TIFFIN_ASSIGN_OR_RETURN(float f, node.GetFloat(key, 0));
        a.value = Tensor::Scalar<float>(f);
      } else if (key == "value_floats") {
        TIFFIN_ASSIGN_OR_RETURN(std::vector<float> v, node.GetFloats(key));
        a.value = Tensor(DType::kFloat32, {static_cast<int64_t>(v.size())});
        std::copy(v.begin(), v.end(), a.value.data<float>());
      } else if (key == "value_int") {
        TIFFIN_ASSIGN_OR_RETURN(int64_t i, node.GetInt(key, 0));
        a.value = Tensor::Scalar<int64_t>(i);
      } else if (key == "value_ints") {
        TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> v, node.GetInts(key));
        a.value = Tensor(DType::kInt64, {static_cast<int64_t>(v.size())});
        std::copy(v.begin(), v.end(), a.value.data<int64_t>());
      } else if (key == "value_string") {
        TIFFIN_ASSIGN_OR_RETURN(std::string s, node.GetString(key, ""));
        a.value = Tensor(DType::kString, {});
        a.value.data<std::string>()[0] = s;
      } else if (key == "value_strings") {
        TIFFIN_ASSIGN_OR_RETURN(std::vector<std::string> v, node.GetStrings(key));
        a.value = Tensor(DType::kString, {static_cast<int64_t>(v.size())});
        std::copy(v.begin(), v.end(), a.value.data<std::string>());
      } else {
        continue;
      }
      ++found;
    }
    if (found != 1) {
      return Bad(node,
                 "needs exactly one of value, value_float(s), value_int(s), value_string(s); got " +
                     Str(found));
    }
    if (!a.value.defined()) return Bad(node, "value tensor is undefined");
    return a;
  }
};

Status ConstantCompute(KernelContext& ctx, const ConstantAttrs& a) {
  return ctx.SetOutput(0, a.value);
}

Status IdentityCompute(KernelContext& ctx) {
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  return ctx.SetOutput(0, *x);
}

// ---------------------------------------------------------------- ConstantOfShape

struct ConstantOfShapeAttrs {
  Tensor value;  // one element
  static Result<ConstantOfShapeAttrs> Parse(const KernelInit& init) {
    ConstantOfShapeAttrs a;
    if (init.node.HasAttribute("value")) {
      TIFFIN_ASSIGN_OR_RETURN(a.value, init.node.GetTensor("value"));
      if (a.value.size() != 1) {
        return Bad(init.node,
                   "value must hold one element, got shape " + ShapeToString(a.value.shape()));
      }
    } else {
      a.value = Tensor::Scalar<float>(0.0f);
    }
    return a;
  }
};

Status ConstantOfShapeCompute(KernelContext& ctx, const ConstantOfShapeAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* s, RequiredInput(ctx, 0, "input"));
  if (s->rank() > 1) return Bad(node, "input must be 1-D, got shape " + ShapeToString(s->shape()));
  TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> shape, Ints(node, *s, "input"));
  for (int64_t d : shape) {
    if (d < 0) return Bad(node, "shape " + ShapeToString(shape) + " has a negative dim");
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, a.value.dtype(), shape));
  return DispatchAll(node, a.value.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T v = a.value.data<T>()[0];
    std::fill(out->data<T>(), out->data<T>() + out->size(), v);
    return Status::Ok();
  });
}

// ---------------------------------------------------------------- Cast

// Float to integer without undefined behaviour: out-of-range values and NaN
// give what x86 (and so numpy) gives: the "integer indefinite" for 32/64-bit
// targets; narrower targets wrap the int64 conversion.
template <typename D>
D FloatToInt(double v) {
  if constexpr (std::is_same_v<D, uint64_t>) {
    if (v >= 0 && v < 18446744073709551616.0) return static_cast<uint64_t>(v);
    if (v < 0 && v > -9223372036854775808.0) {
      return static_cast<uint64_t>(static_cast<int64_t>(v));
    }
    return uint64_t{1} << 63;
  } else if constexpr (std::is_same_v<D, int64_t>) {
    if (v >= -9223372036854775808.0 && v < 9223372036854775808.0) return static_cast<int64_t>(v);
    return std::numeric_limits<int64_t>::min();
  } else if constexpr (std::is_same_v<D, int32_t>) {
    if (v > -2147483649.0 && v < 2147483648.0) return static_cast<int32_t>(v);
    return std::numeric_limits<int32_t>::min();
  } else {
    return static_cast<D>(FloatToInt<int64_t>(v));
  }
}

template <typename T>
constexpr bool kIsFloatLike = std::is_floating_point_v<T> || std::is_same_v<T, Float16>;

template <typename T>
double AsDouble(const T& v) {
  if constexpr (std::is_same_v<T, Float16>) {
    return static_cast<double>(static_cast<float>(v));
  } else {
    return static_cast<double>(v);
  }
}

// Converts one numeric (or bool) element.
template <typename D, typename S>
inline D ConvertNumber(const S& s) {
  if constexpr (std::is_same_v<D, S>) {
    return s;
  } else if constexpr (std::is_same_v<D, bool>) {
    if constexpr (std::is_same_v<S, Float16>) {
      return static_cast<float>(s) != 0.0f;
    } else {
      return s != S{};
    }
  } else if constexpr (std::is_same_v<S, bool>) {
    return ConvertNumber<D, int32_t>(s ? 1 : 0);
  } else if constexpr (std::is_same_v<D, Float16>) {
    if constexpr (std::is_same_v<S, double>) {
      return Float16(static_cast<float>(s));
    } else if constexpr (std::is_floating_point_v<S>) {
      return Float16(s);
    } else {
      return Float16(static_cast<float>(s));
    }
  } else if constexpr (std::is_same_v<S, Float16>) {
    return ConvertNumber<D, float>(static_cast<float>(s));
  } else if constexpr (std::is_integral_v<D> && std::is_floating_point_v<S>) {
    return FloatToInt<D>(static_cast<double>(s));
  } else {
    return static_cast<D>(s);
  }
}

// numpy's str() of a float: the shortest digits that round-trip, positional
// for 1e-4 <= |x| < 1e16 and scientific otherwise ("1e-05", "1.5e+16").
// `sci` is the shortest scientific form ("d.ddde+XX").
std::string NumpyStyle(const std::string& sci, double value) {
  size_t e = sci.find('e');
  if (e == std::string::npos) return sci;  // inf, nan
  std::string mant = sci.substr(0, e);
  const int exp = std::atoi(sci.c_str() + e + 1);
  bool neg = false;
  if (!mant.empty() && mant[0] == '-') {
    neg = true;
    mant.erase(0, 1);
  }
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  const bool zero = digits.find_first_not_of('0') == std::string::npos;
  // numpy compares the value itself (float32 1e-4 is just below 1e-4).
  const double mag = std::fabs(value);
  if (!zero && (mag < 1e-4 || mag >= 1e16)) return sci;
  std::string out = neg ? "-" : "";
  if (zero) return out + "0.0";
  if (exp >= 0) {
    const size_t int_len = static_cast<size_t>(exp) + 1;
    if (digits.size() <= int_len) {
      out += digits + std::string(int_len - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, int_len) + "." + digits.substr(int_len);
    }
  } else {
    out += "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
  }
  return out;
}

template <typename S>
std::string FormatNumber(const S& v) {
  if constexpr (std::is_same_v<S, bool>) {
    return v ? "True" : "False";
  } else if constexpr (std::is_integral_v<S>) {
    return std::to_string(v);
  } else {
    const double d = AsDouble(v);
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
    char buf[64];
    if constexpr (std::is_same_v<S, Float16>) {
      // Shortest digits that give back the same half.
      for (int p = 0; p < 8; ++p) {
        std::snprintf(buf, sizeof(buf), "%.*e", p, d);
        if (FloatToHalf(std::strtof(buf, nullptr)) == v.bits) break;
      }
      return NumpyStyle(buf, d);
    } else {
      auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
      return NumpyStyle(std::string(buf, res.ptr), d);
    }
  }
}

// Parses a string like numpy's astype: surrounding spaces allowed; floats
// accept "1e-3", "inf", "INF", "-Infinity", "NaN"; integers accept decimal
// integers; bool parses a number and tests it against 0.
template <typename D>
Result<D> ParseNumber(const ir::Node& node, const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  const std::string t = s.substr(b, e - b);
  auto fail = [&]() -> Status {
    return Bad(node, "cannot parse string '" + s.substr(0, 64) + "' as " + DName(DTypeOf<D>()));
  };
  if (t.empty()) return fail();
  char* end = nullptr;
  errno = 0;
  if constexpr (std::is_same_v<D, float>) {
    float v = std::strtof(t.c_str(), &end);
    if (end != t.c_str() + t.size()) return fail();
    return v;
  } else if constexpr (std::is_same_v<D, double> || std::is_same_v<D, Float16> ||
                       std::is_same_v<D, bool>) {
    double v = std::strtod(t.c_str(), &end);
    if (end != t.c_str() + t.size()) return fail();
    return ConvertNumber<D, double>(v);
  } else if constexpr (std::is_signed_v<D>) {
    long long v = std::strtoll(t.c_str(), &end, 10);
    if (end != t.c_str() + t.size() || errno == ERANGE) return fail();
    if (v < std::numeric_limits<D>::min() || v > std::numeric_limits<D>::max()) return fail();
    return static_cast<D>(v);
  } else {
    if (t[0] == '-') return fail();
    unsigned long long v = std::strtoull(t.c_str(), &end, 10);
    if (end != t.c_str() + t.size() || errno == ERANGE) return fail();
    if (v > std::numeric_limits<D>::max()) return fail();
    return static_cast<D>(v);
  }
}

// float32 <-> float16 in bulk. With F16C (x86, -march=native) eight at a
// time, rounding to nearest even like the scalar path.
void FloatToHalfBulk(const float* src, Float16* dst, int64_t n) {
  int64_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
  }
#endif
  for (; i < n; ++i) dst[i] = Float16(src[i]);
}

void HalfToFloatBulk(const Float16* src, float* dst, int64_t n) {
  int64_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
#endif
  for (; i < n; ++i) dst[i] = static_cast<float>(src[i]);
}

Status ConvertTensor(const ir::Node& node, const Tensor& in, DType to, Tensor* out) {
  if (in.dtype() == to) {
    CopyElements(to, in.raw_data(), out->raw_data(), in.size());
    return Status::Ok();
  }
  const int64_t n = in.size();
  if (in.dtype() == DType::kFloat32 && to == DType::kFloat16) {
    FloatToHalfBulk(in.data<float>(), out->data<Float16>(), n);
    return Status::Ok();
  }
  if (in.dtype() == DType::kFloat16 && to == DType::kFloat32) {
    HalfToFloatBulk(in.data<Float16>(), out->data<float>(), n);
    return Status::Ok();
  }
  return DispatchAll(node, in.dtype(), [&](auto stag) -> Status {
    using S = decltype(stag);
    const S* src = in.data<S>();
    return DispatchAll(node, to, [&](auto dtag) -> Status {
      using D = decltype(dtag);
      D* dst = out->data<D>();
      if constexpr (std::is_same_v<S, std::string> && std::is_same_v<D, std::string>) {
        for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
      } else if constexpr (std::is_same_v<S, std::string>) {
        for (int64_t i = 0; i < n; ++i) {
          TIFFIN_ASSIGN_OR_RETURN(dst[i], ParseNumber<D>(node, src[i]));
        }
      } else if constexpr (std::is_same_v<D, std::string>) {
        for (int64_t i = 0; i < n; ++i) dst[i] = FormatNumber<S>(src[i]);
      } else {
        for (int64_t i = 0; i < n; ++i) dst[i] = ConvertNumber<D, S>(src[i]);
      }
      return Status::Ok();
    });
  });
}

struct CastAttrs {
  DType to = DType::kUndefined;
  static Result<CastAttrs> Parse(const KernelInit& init) {
    if (!init.node.HasAttribute("to")) return Bad(init.node, "attribute 'to' is required");
    TIFFIN_ASSIGN_OR_RETURN(int64_t to, init.node.GetInt("to", 0));
    TIFFIN_ASSIGN_OR_RETURN(DType dt, CheckDType(init.node, to, "target dtype 'to'"));
    return CastAttrs{dt};
  }
};

Status CastCompute(KernelContext& ctx, const CastAttrs& a) {
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  if (x->dtype() == a.to) return ctx.SetOutput(0, *x);
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, a.to, x->shape()));
  return ConvertTensor(ctx.node(), *x, a.to, out);
}

Status CastLikeCompute(KernelContext& ctx) {
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* like, RequiredInput(ctx, 1, "target_type"));
  if (x->dtype() == like->dtype()) return ctx.SetOutput(0, *x);
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, like->dtype(), x->shape()));
  return ConvertTensor(ctx.node(), *x, like->dtype(), out);
}

// ---------------------------------------------------------------- Range

Status RangeCompute(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* st, RequiredInput(ctx, 0, "start"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* li, RequiredInput(ctx, 1, "limit"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* de, RequiredInput(ctx, 2, "delta"));
  for (const Tensor* t : {st, li, de}) {
    if (t->size() != 1) {
      return Bad(node,
                 "start, limit and delta must be scalars, got shape " + ShapeToString(t->shape()));
    }
    if (t->dtype() != st->dtype()) {
      return Bad(node, "start, limit and delta must share a dtype, got " + DName(st->dtype()) +
                           " and " + DName(t->dtype()));
    }
  }
  return DispatchNumeric(node, st->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T start = st->data<T>()[0], limit = li->data<T>()[0], delta = de->data<T>()[0];
    if (delta == T(0)) return Bad(node, "delta is 0");
    // The count is bounded before any allocation; ctx.Output then applies the
    // tensor size limit. Integers count exactly in 128 bits.
    double c = 0;
    if constexpr (std::is_floating_point_v<T>) {
      c = std::ceil((static_cast<double>(limit) - static_cast<double>(start)) /
                    static_cast<double>(delta));
      if (std::isnan(c)) return Bad(node, "start, limit or delta is not finite");
    } else {
      const __int128 diff = static_cast<__int128>(limit) - static_cast<__int128>(start);
      const __int128 d = static_cast<__int128>(delta);
      __int128 q = diff / d;
      if (q * d != diff && ((diff > 0) == (d > 0))) ++q;  // ceiling
      c = static_cast<double>(q);
    }
    if (c > 9.0e15) {
      return Bad(node, "range of " + std::to_string(c) + " elements is too large");
    }
    const int64_t n = c > 0 ? static_cast<int64_t>(c) : 0;
    TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, st->dtype(), {n}));
    T* dst = out->data<T>();
    for (int64_t i = 0; i < n; ++i) {
      if constexpr (std::is_floating_point_v<T>) {
        dst[i] = static_cast<T>(start + static_cast<T>(i) * delta);
      } else {
        // Wrapping arithmetic in uint64 is defined; the values fit T anyway
        // because they lie between start and limit.
        dst[i] = static_cast<T>(static_cast<uint64_t>(start) +
                                static_cast<uint64_t>(i) * static_cast<uint64_t>(delta));
      }
    }
    return Status::Ok();
  });
}

// ---------------------------------------------------------------- Resize / Upsample

enum class RMode { kNearest, kLinear, kCubic };
enum class Coord {
  kHalfPixel,
  kHalfPixelSymmetric,
  kPytorchHalfPixel,
  kAlignCorners,
  kAsymmetric,
  kTfHalfPixelForNn,
  kTfCropAndResize
};
enum class Nearest { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil, kSimple };
enum class Aspect { kStretch, kNotLarger, kNotSmaller };

struct ResizeAttrs {
  bool upsample = false;  // the Upsample op (opsets 7-9)
  int64_t opset = 0;
  RMode mode = RMode::kNearest;
  Coord coord = Coord::kHalfPixel;
  Nearest nearest = Nearest::kRoundPreferFloor;
  float cubic_a = -0.75f;
  bool exclude_outside = false;
  float extrapolation = 0;
  Aspect aspect = Aspect::kStretch;
  std::vector<int64_t> axes;       // opset 18+; empty: all
  std::vector<float> scales_attr;  // Upsample-7

  static Result<ResizeAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    ResizeAttrs a;
    a.opset = node.opset;
    a.upsample = node.op_type == "Upsample";
    TIFFIN_ASSIGN_OR_RETURN(std::string mode, node.GetString("mode", "nearest"));
    if (mode == "nearest") {
      a.mode = RMode::kNearest;
    } else if (mode == "linear" || (a.upsample && mode == "bilinear")) {
      a.mode = RMode::kLinear;
    } else if (mode == "cubic" && !a.upsample && a.opset >= 11) {
      a.mode = RMode::kCubic;
    } else {
      return Bad(node, "unknown mode '" + mode + "'");
    }
    if (a.upsample || a.opset < 11) {
      // Upsample and Resize-10: asymmetric coordinates, and ORT's "simple"
      // nearest rounding.
      a.coord = Coord::kAsymmetric;
      a.nearest = Nearest::kSimple;
      if (a.upsample && a.opset < 9) {
        if (!node.HasAttribute("scales")) return Bad(node, "attribute 'scales' is required");
        TIFFIN_ASSIGN_OR_RETURN(a.scales_attr, node.GetFloats("scales"));
      }
      return a;
    }
    TIFFIN_ASSIGN_OR_RETURN(std::string coord,
                            node.GetString("coordinate_transformation_mode", "half_pixel"));
    if (coord == "half_pixel") {
      a.coord = Coord::kHalfPixel;
    } else if (coord == "half_pixel_symmetric" && a.opset >= 19) {
      a.coord = Coord::kHalfPixelSymmetric;
    } else if (coord == "pytorch_half_pixel") {
      a.coord = Coord::kPytorchHalfPixel;
    } else if (coord == "align_corners") {
      a.coord = Coord::kAlignCorners;
    } else if (coord == "asymmetric") {
      a.coord = Coord::kAsymmetric;
    } else if (coord == "tf_half_pixel_for_nn") {
      a.coord = Coord::kTfHalfPixelForNn;
    } else if (coord == "tf_crop_and_resize") {
      a.coord = Coord::kTfCropAndResize;
    } else {
      return Bad(node,
                 "unknown coordinate_transformation_mode '" + coord + "' at opset " + Str(a.opset));
    }
    TIFFIN_ASSIGN_OR_RETURN(std::string nm, node.GetString("nearest_mode", "round_prefer_floor"));
    if (nm == "round_prefer_floor") {
      a.nearest = Nearest::kRoundPreferFloor;
    } else if (nm == "round_prefer_ceil") {
      a.nearest = Nearest::kRoundPreferCeil;
    } else if (nm == "floor") {
      a.nearest = Nearest::kFloor;
    } else if (nm == "ceil") {
      a.nearest = Nearest::kCeil;
    } else {
      return Bad(node, "unknown nearest_mode '" + nm + "'");
    }
    TIFFIN_ASSIGN_OR_RETURN(a.cubic_a, node.GetFloat("cubic_coeff_a", -0.75f));
    TIFFIN_ASSIGN_OR_RETURN(int64_t ex, node.GetInt("exclude_outside", 0));
    a.exclude_outside = ex != 0;
    TIFFIN_ASSIGN_OR_RETURN(a.extrapolation, node.GetFloat("extrapolation_value", 0.0f));
    if (a.opset >= 18) {
      TIFFIN_ASSIGN_OR_RETURN(int64_t aa, node.GetInt("antialias", 0));
      if (aa != 0) {
        return NotSupported(node.Describe() + ": antialias=1 is not supported");
      }
      TIFFIN_ASSIGN_OR_RETURN(a.axes, node.GetInts("axes"));
      TIFFIN_ASSIGN_OR_RETURN(std::string pol,
                              node.GetString("keep_aspect_ratio_policy", "stretch"));
      if (pol == "stretch") {
        a.aspect = Aspect::kStretch;
      } else if (pol == "not_larger") {
        a.aspect = Aspect::kNotLarger;
      } else if (pol == "not_smaller") {
        a.aspect = Aspect::kNotSmaller;
      } else {
        return Bad(node, "unknown keep_aspect_ratio_policy '" + pol + "'");
      }
    }
    return a;
  }
};

// The input taps one output coordinate reads along one axis.
struct Taps {
  int64_t idx[4] = {0, 0, 0, 0};
  float w[4] = {0, 0, 0, 0};
  int n = 0;
  bool extrapolate = false;
};

struct AxisPlan {
  int64_t in = 0, out = 0;
  double scale = 1;  // output / input
  double out_f = 0;  // in * scale: the "output width", possibly fractional
  double roi_start = 0, roi_end = 1;
};

double OriginalCoord(const ResizeAttrs& a, const AxisPlan& p, int64_t i) {
  const double x = static_cast<double>(i), in = static_cast<double>(p.in);
  switch (a.coord) {
    case Coord::kHalfPixel:
      return (x + 0.5) / p.scale - 0.5;
    case Coord::kHalfPixelSymmetric: {
      const double adj = static_cast<double>(p.out) / p.out_f;
      const double center = in / 2;
      const double offset = center * (1 - adj);
      return offset + (x + 0.5) / p.scale - 0.5;
    }
    case Coord::kPytorchHalfPixel:
      return p.out > 1 ? (x + 0.5) / p.scale - 0.5 : 0.0;
    case Coord::kAlignCorners:
      return p.out_f == 1 ? 0.0 : x * (in - 1) / (p.out_f - 1);
    case Coord::kAsymmetric:
      return x / p.scale;
    case Coord::kTfHalfPixelForNn:
      return (x + 0.5) / p.scale;
    case Coord::kTfCropAndResize:
      if (p.out_f == 1) return 0.5 * (p.roi_start + p.roi_end) * (in - 1);
      return p.roi_start * (in - 1) + x * (p.roi_end - p.roi_start) * (in - 1) / (p.out_f - 1);
  }
  return 0;
}

std::vector<Taps> BuildTaps(const ResizeAttrs& a, const AxisPlan& p) {
  std::vector<Taps> taps(static_cast<size_t>(p.out));
  const int64_t last = p.in - 1;
  for (int64_t i = 0; i < p.out; ++i) {
    Taps& t = taps[static_cast<size_t>(i)];
    double x = OriginalCoord(a, p, i);
    if (a.coord == Coord::kTfCropAndResize && (x < 0 || x > static_cast<double>(last))) {
      t.extrapolate = true;
      continue;
    }
    // Keep coordinates in a range where int64 conversion is defined.
    x = std::clamp(x, -1e15, 1e15);
    if (std::isnan(x)) x = 0;
    const double f = std::floor(x);
    const double r = x - f;
    const int64_t fi = static_cast<int64_t>(f);
    auto clampi = [last](int64_t v) { return std::clamp<int64_t>(v, 0, last); };
    if (a.mode == RMode::kNearest) {
      int64_t k = fi;
      switch (a.nearest) {
        case Nearest::kRoundPreferFloor:
          k = r <= 0.5 ? fi : fi + 1;
          break;
        case Nearest::kRoundPreferCeil:
          k = r < 0.5 ? fi : fi + 1;
          break;
        case Nearest::kFloor:
          k = fi;
          break;
        case Nearest::kCeil:
          k = r > 0 ? fi + 1 : fi;
          break;
        case Nearest::kSimple:
          k = p.scale < 1 ? (r > 0 ? fi + 1 : fi) : static_cast<int64_t>(std::trunc(x));
          break;
      }
      t.n = 1;
      t.idx[0] = clampi(k);
      t.w[0] = 1;
    } else if (a.mode == RMode::kLinear) {
      t.n = 2;
      t.idx[0] = clampi(fi);
      t.idx[1] = clampi(fi + 1);
      t.w[0] = static_cast<float>(1 - r);
      t.w[1] = static_cast<float>(r);
    } else {
      const double A = a.cubic_a;
      const double s = r + 1, u = 1 - r, v = 2 - r;
      double c[4] = {((A * s - 5 * A) * s + 8 * A) * s - 4 * A, ((A + 2) * r - (A + 3)) * r * r + 1,
                     ((A + 2) * u - (A + 3)) * u * u + 1,
                     ((A * v - 5 * A) * v + 8 * A) * v - 4 * A};
      if (a.exclude_outside) {
        double sum = 0;
        for (int k = 0; k < 4; ++k) {
          const int64_t j = fi - 1 + k;
          if (j < 0 || j > last) c[k] = 0;
          sum += c[k];
        }
        if (sum != 0)
          for (double& ck : c) ck /= sum;
      }
      t.n = 4;
      for (int k = 0; k < 4; ++k) {
        t.idx[k] = clampi(fi - 1 + k);
        t.w[k] = static_cast<float>(c[k]);
      }
    }
    // Drop zero-weight taps (an exact grid hit needs one read, not four).
    int m = 0;
    for (int k = 0; k < t.n; ++k) {
      if (t.w[k] != 0) {
        t.idx[m] = t.idx[k];
        t.w[m] = t.w[k];
        ++m;
      }
    }
    if (m == 0) {
      m = 1;
      t.w[0] = 0;
    }
    t.n = m;
  }
  return taps;
}

bool IsIdentity(const AxisPlan& p, const std::vector<Taps>& taps) {
  if (p.in != p.out) return false;
  for (int64_t i = 0; i < p.out; ++i) {
    const Taps& t = taps[static_cast<size_t>(i)];
    if (t.extrapolate || t.n != 1 || t.idx[0] != i || t.w[0] != 1) return false;
  }
  return true;
}

// One separable pass along axis d: src has dims `dims`; dst gets out along d.
template <typename F>
void ResizePass(const F* src, F* dst, const std::vector<int64_t>& dims, size_t d,
                const std::vector<Taps>& taps, F extrapolation) {
  int64_t outer = 1, inner = 1;
  for (size_t i = 0; i < d; ++i) outer *= dims[i];
  for (size_t i = d + 1; i < dims.size(); ++i) inner *= dims[i];
  const int64_t in_len = dims[d], out_len = static_cast<int64_t>(taps.size());
  for (int64_t o = 0; o < outer; ++o) {
    const F* s = src + o * in_len * inner;
    for (int64_t j = 0; j < out_len; ++j) {
      F* row = dst + (o * out_len + j) * inner;
      const Taps& t = taps[static_cast<size_t>(j)];
      if (t.extrapolate) {
        std::fill(row, row + inner, extrapolation);
        continue;
      }
      const F w0 = static_cast<F>(t.w[0]);
      const F* s0 = s + t.idx[0] * inner;
      if (inner == 1) {
        F acc = w0 * s0[0];
        for (int k = 1; k < t.n; ++k) acc += static_cast<F>(t.w[k]) * s[t.idx[k]];
        row[0] = acc;
        continue;
      }
      for (int64_t k = 0; k < inner; ++k) row[k] = w0 * s0[k];
      for (int q = 1; q < t.n; ++q) {
        const F wq = static_cast<F>(t.w[q]);
        const F* sq = s + t.idx[q] * inner;
        for (int64_t k = 0; k < inner; ++k) row[k] += wq * sq[k];
      }
    }
  }
}

// Runs the separable passes in float type F from src (input shape) into dst
// (output shape).
template <typename F>
void Interpolate(const F* src, F* dst, const Shape& in_shape, const std::vector<AxisPlan>& plan,
                 const std::vector<std::vector<Taps>>& taps, const std::vector<size_t>& axes,
                 F extrapolation) {
  std::vector<int64_t> dims(in_shape.begin(), in_shape.end());
  if (axes.empty()) {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    std::copy(src, src + n, dst);
    return;
  }
  std::vector<F> bufs[2];
  const F* cur = src;
  for (size_t k = 0; k < axes.size(); ++k) {
    const size_t d = axes[k];
    std::vector<int64_t> next = dims;
    next[d] = plan[d].out;
    F* target = dst;
    if (k + 1 < axes.size()) {
      int64_t n = 1;
      for (int64_t v : next) n *= v;
      bufs[k % 2].resize(static_cast<size_t>(n));
      target = bufs[k % 2].data();
    }
    ResizePass<F>(cur, target, dims, d, taps[d], extrapolation);
    cur = target;
    dims = next;
  }
}

template <typename T>
T RoundAndSaturate(float v) {
  if constexpr (std::is_integral_v<T>) {
    if (std::isnan(v)) return T{};
    const double r = std::nearbyint(static_cast<double>(v));
    if (r <= static_cast<double>(std::numeric_limits<T>::min()))
      return std::numeric_limits<T>::min();
    if (r >= static_cast<double>(std::numeric_limits<T>::max()))
      return std::numeric_limits<T>::max();
    return static_cast<T>(r);
  } else {
    return static_cast<T>(v);
  }
}

Result<std::vector<double>> FloatsOf(const ir::Node& node, const Tensor& t, const char* what) {
  std::vector<double> v(static_cast<size_t>(t.size()));
  if (t.dtype() == DType::kFloat32) {
    for (size_t i = 0; i < v.size(); ++i) v[i] = t.data<float>()[i];
  } else if (t.dtype() == DType::kFloat64) {
    for (size_t i = 0; i < v.size(); ++i) v[i] = t.data<double>()[i];
  } else if (t.dtype() == DType::kFloat16) {
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(t.data<Float16>()[i]);
  } else {
    return BadDType(node, what, t.dtype());
  }
  return v;
}

Status ResizeCompute(KernelContext& ctx, const ResizeAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  const int64_t r = x->rank();
  if (r < 1) return Bad(node, "X must have rank >= 1");
  // Which axes the scales/sizes/roi entries describe.
  std::vector<size_t> axes;
  if (!a.axes.empty()) {
    std::vector<bool> seen(static_cast<size_t>(r), false);
    for (int64_t ax : a.axes) {
      TIFFIN_ASSIGN_OR_RETURN(int64_t n, NormalizeAxis(node, ax, r));
      if (seen[static_cast<size_t>(n)])
        return Bad(node, "axis " + Str(ax) + " is repeated in axes");
      seen[static_cast<size_t>(n)] = true;
      axes.push_back(static_cast<size_t>(n));
    }
  } else {
    for (int64_t i = 0; i < r; ++i) axes.push_back(static_cast<size_t>(i));
  }
  const size_t na = axes.size();

  // Gather scales or sizes.
  std::vector<double> scales;
  std::vector<int64_t> sizes;
  const Tensor* roi_t = nullptr;
  if (a.upsample && a.opset < 9) {
    scales.assign(a.scales_attr.begin(), a.scales_attr.end());
  } else if (a.upsample || a.opset < 11) {
    TIFFIN_ASSIGN_OR_RETURN(const Tensor* st, RequiredInput(ctx, 1, "scales"));
    TIFFIN_ASSIGN_OR_RETURN(scales, FloatsOf(node, *st, "scales"));
  } else {
    roi_t = ctx.input(1);
    if (const Tensor* st = ctx.input(2); st && st->size() > 0) {
      TIFFIN_ASSIGN_OR_RETURN(scales, FloatsOf(node, *st, "scales"));
    }
    if (const Tensor* sz = ctx.input(3); sz && sz->size() > 0) {
      TIFFIN_ASSIGN_OR_RETURN(sizes, Ints(node, *sz, "sizes"));
    }
  }
  if (!scales.empty() && !sizes.empty()) return Bad(node, "give either scales or sizes, not both");
  if (scales.empty() && sizes.empty()) return Bad(node, "one of scales or sizes is required");
  if (scales.size() + sizes.size() != na) {
    return Bad(node, std::string(scales.empty() ? "sizes" : "scales") + " has " +
                         Str(int64_t(scales.size() + sizes.size())) + " entries, expected " +
                         Str(int64_t(na)) + " for input shape " + ShapeToString(x->shape()));
  }

  std::vector<AxisPlan> plan(static_cast<size_t>(r));
  for (size_t d = 0; d < static_cast<size_t>(r); ++d) {
    plan[d].in = plan[d].out = x->shape()[d];
    plan[d].out_f = static_cast<double>(plan[d].in);
  }
  if (!sizes.empty()) {
    double ratio = 0;
    if (a.aspect != Aspect::kStretch) {
      ratio = a.aspect == Aspect::kNotLarger ? std::numeric_limits<double>::infinity() : 0.0;
      for (size_t i = 0; i < na; ++i) {
        if (plan[axes[i]].in == 0)
          return Bad(node, "cannot keep the aspect ratio of an empty axis");
        const double s = static_cast<double>(sizes[i]) / static_cast<double>(plan[axes[i]].in);
        ratio = a.aspect == Aspect::kNotLarger ? std::min(ratio, s) : std::max(ratio, s);
      }
    }
    for (size_t i = 0; i < na; ++i) {
      AxisPlan& p = plan[axes[i]];
      if (sizes[i] < 0) return Bad(node, "sizes has a negative entry " + Str(sizes[i]));
      if (a.aspect == Aspect::kStretch) {
        p.out = sizes[i];
        if (p.in == 0 && p.out != 0)
          return Bad(node, "cannot resize an empty axis to a non-empty one");
        p.scale = p.in == 0 ? 1.0 : static_cast<double>(p.out) / static_cast<double>(p.in);
      } else {
        const double o = std::floor(ratio * static_cast<double>(p.in) + 0.5);
        if (!(o < 9.0e15)) return Bad(node, "output size is too large");
        p.out = static_cast<int64_t>(o);
        p.scale = ratio;
      }
      p.out_f = p.scale * static_cast<double>(p.in);
    }
  } else {
    for (size_t i = 0; i < na; ++i) {
      AxisPlan& p = plan[axes[i]];
      if (!(scales[i] > 0) || !std::isfinite(scales[i])) {
        return Bad(node, "scales must be positive and finite, got " + std::to_string(scales[i]));
      }
      p.scale = scales[i];
      p.out_f = static_cast<double>(p.in) * p.scale;
      if (!(p.out_f < 9.0e15)) return Bad(node, "output size is too large");
      p.out = static_cast<int64_t>(std::floor(p.out_f));
    }
  }
  if (a.coord == Coord::kTfCropAndResize && roi_t && roi_t->size() > 0) {
    TIFFIN_ASSIGN_OR_RETURN(std::vector<double> roi, FloatsOf(node, *roi_t, "roi"));
    if (roi.size() != 2 * na) {
      return Bad(node, "roi has " + Str(int64_t(roi.size())) + " entries, expected " +
                           Str(int64_t(2 * na)));
    }
    for (size_t i = 0; i < na; ++i) {
      plan[axes[i]].roi_start = roi[i];
      plan[axes[i]].roi_end = roi[i + na];
    }
  }

  Shape out_shape(static_cast<size_t>(r));
  for (size_t d = 0; d < static_cast<size_t>(r); ++d) out_shape[d] = plan[d].out;
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, x->dtype(), out_shape));
  if (out->size() == 0) return Status::Ok();
  if (x->size() == 0) return Bad(node, "cannot resize an empty input to a non-empty output");

  std::vector<std::vector<Taps>> taps(static_cast<size_t>(r));
  std::vector<size_t> active;  // axes that need a pass, in order
  for (size_t d = 0; d < static_cast<size_t>(r); ++d) {
    taps[d] = BuildTaps(a, plan[d]);
    if (!IsIdentity(plan[d], taps[d])) active.push_back(d);
  }
  // Shrinking axes first keeps every intermediate no larger than the input
  // or the output.
  std::stable_sort(active.begin(), active.end(), [&](size_t i, size_t j) {
    return static_cast<double>(plan[i].out) / static_cast<double>(plan[i].in) <
           static_cast<double>(plan[j].out) / static_cast<double>(plan[j].in);
  });

  if (a.mode == RMode::kNearest) {
    // A gather: out[i...] = x[map0[i0], map1[i1], ...]; -1 = extrapolate.
    std::vector<std::vector<int64_t>> maps(static_cast<size_t>(r));
    for (size_t d = 0; d < static_cast<size_t>(r); ++d) {
      for (const Taps& t : taps[d]) maps[d].push_back(t.extrapolate ? -1 : t.idx[0]);
    }
    const std::vector<int64_t> strides = Strides(x->shape());
    return DispatchAll(node, x->dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      T ext{};
      if constexpr (kIsFloatLike<T> || std::is_integral_v<T>) {
        ext = ConvertNumber<T, double>(static_cast<double>(a.extrapolation));
      }
      GatherAxisMaps(x->data<T>(), strides, maps, out_shape, ext, out->data<T>());
      return Status::Ok();
    });
  }

  if (x->dtype() == DType::kFloat32) {
    Interpolate<float>(x->data<float>(), out->data<float>(), x->shape(), plan, taps, active,
                       a.extrapolation);
    return Status::Ok();
  }
  if (x->dtype() == DType::kFloat64) {
    Interpolate<double>(x->data<double>(), out->data<double>(), x->shape(), plan, taps, active,
                        a.extrapolation);
    return Status::Ok();
  }
  // Other dtypes: compute in float32 and convert back (integers round to
  // nearest and saturate).
  return DispatchAll(node, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, bool>) {
      return BadDType(node, "X (linear and cubic modes)", x->dtype());
    } else {
      std::vector<float> fin(static_cast<size_t>(x->size())),
          fout(static_cast<size_t>(out->size()));
      const T* src = x->data<T>();
      for (size_t i = 0; i < fin.size(); ++i) fin[i] = static_cast<float>(AsDouble(src[i]));
      Interpolate<float>(fin.data(), fout.data(), x->shape(), plan, taps, active, a.extrapolation);
      T* dst = out->data<T>();
      for (size_t i = 0; i < fout.size(); ++i) {
        if constexpr (std::is_same_v<T, Float16>) {
          dst[i] = Float16(fout[i]);
        } else {
          dst[i] = RoundAndSaturate<T>(fout[i]);
        }
      }
      return Status::Ok();
    }
  });
}

// ---------------------------------------------------------------- Einsum

// Labels: 'A'-'Z' are 0..25 and 'a'-'z' 26..51 (so id order is ASCII order,
// as numpy sorts implicit outputs); ellipsis dims are 52, 53, ...
constexpr int kEllipsisBase = 52;

struct EinsumTerm {
  std::vector<int> labels;  // -1 marks the ellipsis
  bool has_ellipsis = false;
};

Result<EinsumTerm> ParseEinsumTerm(const ir::Node& node, const std::string& text) {
  EinsumTerm t;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ') continue;
    if (c >= 'A' && c <= 'Z') {
      t.labels.push_back(c - 'A');
    } else if (c >= 'a' && c <= 'z') {
      t.labels.push_back(26 + (c - 'a'));
    } else if (c == '.' && text.compare(i, 3, "...") == 0 && !t.has_ellipsis) {
      t.labels.push_back(-1);
      t.has_ellipsis = true;
      i += 2;
    } else {
      return Bad(node, "equation term '" + text + "' has an unexpected character '" +
                           std::string(1, c) + "'");
    }
  }
  return t;
}

struct EinsumAttrs {
  std::vector<EinsumTerm> inputs;
  EinsumTerm output;
  bool explicit_output = false;
  static Result<EinsumAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    if (!node.HasAttribute("equation")) return Bad(node, "attribute 'equation' is required");
    TIFFIN_ASSIGN_OR_RETURN(std::string eq, node.GetString("equation", ""));
    EinsumAttrs a;
    std::string lhs = eq;
    const size_t arrow = eq.find("->");
    if (arrow != std::string::npos) {
      a.explicit_output = true;
      lhs = eq.substr(0, arrow);
      TIFFIN_ASSIGN_OR_RETURN(a.output, ParseEinsumTerm(node, eq.substr(arrow + 2)));
    }
    size_t start = 0;
    while (true) {
      const size_t comma = lhs.find(',', start);
      TIFFIN_ASSIGN_OR_RETURN(EinsumTerm t,
                              ParseEinsumTerm(node, lhs.substr(start, comma - start)));
      a.inputs.push_back(std::move(t));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (a.inputs.size() != node.inputs.size()) {
      return Bad(node, "equation '" + eq + "' has " + Str(static_cast<int64_t>(a.inputs.size())) +
                           " input terms but the node has " +
                           Str(static_cast<int64_t>(node.inputs.size())) + " inputs");
    }
    return a;
  }
};

// Integer sums of products wrap on overflow (as numpy's einsum does): the
// arithmetic is done in an unsigned type at least as wide as `unsigned`, so
// that neither int32/int64 nor uint16 (promoted to int) overflow, which would
// be undefined.
template <typename T>
inline T EAdd(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;
    return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return static_cast<T>(a + b);
  }
}
template <typename T>
inline T EMul(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;
    return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
  } else {
    return static_cast<T>(a * b);
  }
}

// Sums products over the loop labels (output labels first, summed labels
// last). The last summed label runs as a tight inner loop.
template <typename T>
void EinsumLoop(const std::vector<const T*>& in, T* out, int64_t out_count, int64_t sum_count,
                const std::vector<int64_t>& sizes, const std::vector<std::vector<int64_t>>& st,
                bool has_sum) {
  const size_t n_in = in.size();
  // Positions walked by the odometer; the inner label (if any) is excluded.
  const int64_t L = static_cast<int64_t>(sizes.size()) - (has_sum ? 1 : 0);
  const int64_t inner = has_sum ? sizes.back() : 1;
  std::vector<int64_t> ist(n_in, 0);
  if (has_sum)
    for (size_t i = 0; i < n_in; ++i) ist[i] = st[i].back();
  const int64_t outer_sum = sum_count / inner;
  std::vector<int64_t> idx(static_cast<size_t>(std::max<int64_t>(L, 0)), 0), off(n_in, 0);
  for (int64_t o = 0; o < out_count; ++o) {
    T acc = T(0);
    for (int64_t s = 0; s < outer_sum; ++s) {
      if (n_in == 1) {
        const T* a = in[0] + off[0];
        for (int64_t k = 0; k < inner; ++k) acc = EAdd<T>(acc, a[k * ist[0]]);
      } else if (n_in == 2) {
        const T* a = in[0] + off[0];
        const T* b = in[1] + off[1];
        const int64_t sa = ist[0], sb = ist[1];
        for (int64_t k = 0; k < inner; ++k) acc = EAdd<T>(acc, EMul<T>(a[k * sa], b[k * sb]));
      } else {
        for (int64_t k = 0; k < inner; ++k) {
          T prod = in[0][off[0] + k * ist[0]];
          for (size_t i = 1; i < n_in; ++i) prod = EMul<T>(prod, in[i][off[i] + k * ist[i]]);
          acc = EAdd<T>(acc, prod);
        }
      }
      for (int64_t p = L - 1; p >= 0; --p) {
        const size_t pp = static_cast<size_t>(p);
        for (size_t i = 0; i < n_in; ++i) off[i] += st[i][pp];
        if (++idx[pp] < sizes[pp]) break;
        for (size_t i = 0; i < n_in; ++i) off[i] -= st[i][pp] * sizes[pp];
        idx[pp] = 0;
      }
    }
    out[o] = acc;
  }
}

Status EinsumCompute(KernelContext& ctx, const EinsumAttrs& a) {
  const ir::Node& node = ctx.node();
  const size_t n_in = a.inputs.size();
  std::vector<const Tensor*> ins;
  for (size_t i = 0; i < n_in; ++i) {
    TIFFIN_ASSIGN_OR_RETURN(const Tensor* t, RequiredInput(ctx, static_cast<int>(i), "Inputs"));
    if (!ins.empty() && t->dtype() != ins[0]->dtype()) {
      return Bad(node, "inputs must share a dtype");
    }
    ins.push_back(t);
  }
  // Per input: the label of each dim.
  std::vector<std::vector<int>> dim_labels(n_in);
  int max_ell = 0;
  for (size_t i = 0; i < n_in; ++i) {
    const EinsumTerm& t = a.inputs[i];
    const int letters = static_cast<int>(t.labels.size()) - (t.has_ellipsis ? 1 : 0);
    const int rank = static_cast<int>(ins[i]->rank());
    const int ell = rank - letters;
    if (ell < 0 || (!t.has_ellipsis && ell != 0)) {
      return Bad(node, "input " + Str(static_cast<int64_t>(i)) + " of shape " +
                           ShapeToString(ins[i]->shape()) + " does not match its equation term");
    }
    max_ell = std::max(max_ell, ell);
  }
  for (size_t i = 0; i < n_in; ++i) {
    const int rank = static_cast<int>(ins[i]->rank());
    const int letters =
        static_cast<int>(a.inputs[i].labels.size()) - (a.inputs[i].has_ellipsis ? 1 : 0);
    const int ell = rank - letters;
    for (int l : a.inputs[i].labels) {
      if (l >= 0) {
        dim_labels[i].push_back(l);
      } else {
        // Ellipsis dims align to the right across inputs, as in numpy.
        for (int k = 0; k < ell; ++k) dim_labels[i].push_back(kEllipsisBase + max_ell - ell + k);
      }
    }
  }
  const int n_labels = kEllipsisBase + max_ell;
  std::vector<int64_t> label_size(static_cast<size_t>(n_labels), -1);
  std::vector<int> count(static_cast<size_t>(n_labels), 0);
  for (size_t i = 0; i < n_in; ++i) {
    for (size_t d = 0; d < dim_labels[i].size(); ++d) {
      const int l = dim_labels[i][d];
      const int64_t sz = ins[i]->dim(static_cast<int64_t>(d));
      int64_t& cur = label_size[static_cast<size_t>(l)];
      ++count[static_cast<size_t>(l)];
      if (cur < 0 || (l >= kEllipsisBase && cur == 1)) {
        cur = sz;
      } else if (cur != sz && !(l >= kEllipsisBase && sz == 1)) {
        return Bad(node, "dims labelled alike differ in size: " + Str(cur) + " vs " + Str(sz));
      }
    }
  }
  std::vector<int> out_labels;
  if (a.explicit_output) {
    std::vector<bool> seen(static_cast<size_t>(n_labels), false);
    for (int l : a.output.labels) {
      if (l < 0) {
        for (int k = 0; k < max_ell; ++k) out_labels.push_back(kEllipsisBase + k);
        continue;
      }
      if (label_size[static_cast<size_t>(l)] < 0)
        return Bad(node, "output label is not in any input");
      if (seen[static_cast<size_t>(l)]) return Bad(node, "output label is repeated");
      seen[static_cast<size_t>(l)] = true;
      out_labels.push_back(l);
    }
  } else {
    for (int k = 0; k < max_ell; ++k) out_labels.push_back(kEllipsisBase + k);
    for (int l = 0; l < kEllipsisBase; ++l)
      if (count[static_cast<size_t>(l)] == 1) out_labels.push_back(l);
  }
  std::vector<bool> is_out(static_cast<size_t>(n_labels), false);
  for (int l : out_labels) is_out[static_cast<size_t>(l)] = true;
  std::vector<int> loop = out_labels;
  for (int l = 0; l < n_labels; ++l)
    if (label_size[static_cast<size_t>(l)] >= 0 && !is_out[static_cast<size_t>(l)])
      loop.push_back(l);
  std::vector<int> pos(static_cast<size_t>(n_labels), -1);
  std::vector<int64_t> sizes;
  for (size_t p = 0; p < loop.size(); ++p) {
    pos[static_cast<size_t>(loop[p])] = static_cast<int>(p);
    sizes.push_back(label_size[static_cast<size_t>(loop[p])]);
  }
  std::vector<std::vector<int64_t>> st(n_in, std::vector<int64_t>(loop.size(), 0));
  for (size_t i = 0; i < n_in; ++i) {
    const std::vector<int64_t> strides = Strides(ins[i]->shape());
    for (size_t d = 0; d < dim_labels[i].size(); ++d) {
      const int l = dim_labels[i][d];
      if (ins[i]->dim(static_cast<int64_t>(d)) == 1 && label_size[static_cast<size_t>(l)] != 1)
        continue;
      st[i][static_cast<size_t>(pos[static_cast<size_t>(l)])] += strides[d];
    }
  }
  Shape out_shape;
  for (int l : out_labels) out_shape.push_back(label_size[static_cast<size_t>(l)]);
  int64_t out_count = 1, sum_count = 1;
  for (size_t p = 0; p < loop.size(); ++p) {
    int64_t& c = p < out_labels.size() ? out_count : sum_count;
    if (__builtin_mul_overflow(c, sizes[p], &c)) return Bad(node, "einsum is too large");
  }
  if (out_count > 0 && sum_count > (int64_t{1} << 40) / out_count) {
    return NotSupported(node.Describe() + ": einsum needs more than 2^40 multiply-adds");
  }
  const bool has_sum = loop.size() > out_labels.size();
  const DType dt = ins[0]->dtype();
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, dt, out_shape));
  if (out_count == 0) return Status::Ok();
  if (dt == DType::kFloat16) {
    std::vector<Tensor> f;
    std::vector<const float*> p;
    for (const Tensor* t : ins) f.push_back(HalfToFloatTensor(*t));
    for (const Tensor& t : f) p.push_back(t.data<float>());
    Tensor fo(DType::kFloat32, out_shape);
    if (sum_count == 0) {
      std::fill(fo.data<float>(), fo.data<float>() + out_count, 0.0f);
    } else {
      EinsumLoop<float>(p, fo.data<float>(), out_count, sum_count, sizes, st, has_sum);
    }
    FloatToHalfInto(fo, out);
    return Status::Ok();
  }
  return DispatchNumeric(node, dt, [&](auto tag) -> Status {
    using T = decltype(tag);
    std::vector<const T*> p;
    for (const Tensor* t : ins) p.push_back(t->data<T>());
    if (sum_count == 0) {
      std::fill(out->data<T>(), out->data<T>() + out_count, T(0));
    } else {
      EinsumLoop<T>(p, out->data<T>(), out_count, sum_count, sizes, st, has_sum);
    }
    return Status::Ok();
  });
}

// ---------------------------------------------------------------- table

const KernelDef kRows[] = {
    {"Constant", "", 1, kMaxOpset, MakeAttrKernel<ConstantAttrs, ConstantCompute>},
    {"ConstantOfShape", "", 9, kMaxOpset,
     MakeAttrKernel<ConstantOfShapeAttrs, ConstantOfShapeCompute>},
    {"Identity", "", 1, kMaxOpset, MakeFnKernel<IdentityCompute>},
    {"Cast", "", 6, kMaxOpset, MakeAttrKernel<CastAttrs, CastCompute>},
    {"CastLike", "", 15, kMaxOpset, MakeFnKernel<CastLikeCompute>},
    {"Range", "", 11, kMaxOpset, MakeFnKernel<RangeCompute>},
    {"Resize", "", 10, kMaxOpset, MakeAttrKernel<ResizeAttrs, ResizeCompute>},
    {"Upsample", "", 7, 9, MakeAttrKernel<ResizeAttrs, ResizeCompute>},
    {"Einsum", "", 12, kMaxOpset, MakeAttrKernel<EinsumAttrs, EinsumCompute>},
};

}  // namespace

std::span<const KernelDef> MiscKernels() { return kRows; }

}  // namespace tiffin::kernels
