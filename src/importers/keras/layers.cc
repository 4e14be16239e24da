#include "importers/keras/layers.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>

namespace tiffin::keras {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;
using sklearn::AttrFloat;
using sklearn::AttrFloats;
using sklearn::AttrInt;
using sklearn::AttrInts;
using sklearn::AttrString;
using sklearn::AttrStrings;

constexpr int64_t kMaxDim = int64_t{1} << 31;

// Typed reads of a layer config; missing and null read as the default.
class Cfg {
 public:
  explicit Cfg(element e) : e_(e) {}
  bool Has(const char* k) const {
    element v;
    return e_[k].get(v) == simdjson::SUCCESS && !v.is_null();
  }
  // The value at `k`; REQUIRES: Has(k) or a null value is fine to read.
  std::optional<element> Find(const char* k) const {
    element v;
    if (e_[k].get(v) != simdjson::SUCCESS) return std::nullopt;
    return v;
  }
  element Get(const char* k) const { return *Find(k); }
  std::string Str(const char* k, const std::string& def = "") const {
    std::string_view v;
    return e_[k].get_string().get(v) == simdjson::SUCCESS ? std::string(v) : def;
  }
  double Num(const char* k, double def) const {
    double v;
    return e_[k].get_double().get(v) == simdjson::SUCCESS ? v : def;
  }
  int64_t Int(const char* k, int64_t def) const {
    int64_t v;
    if (e_[k].get_int64().get(v) == simdjson::SUCCESS) return v;
    double d;
    if (e_[k].get_double().get(d) == simdjson::SUCCESS && std::isfinite(d) && std::abs(d) < 1e15)
      return static_cast<int64_t>(d);
    return def;
  }
  bool Bool(const char* k, bool def) const {
    bool v;
    return e_[k].get_bool().get(v) == simdjson::SUCCESS ? v : def;
  }
  // An int or a list of ints (nested lists flattened); empty when absent.
  Result<std::vector<int64_t>> Ints(const char* k) const {
    std::vector<int64_t> out;
    element v;
    if (e_[k].get(v) != simdjson::SUCCESS || v.is_null()) return out;
    TIFFIN_RETURN_IF_ERROR(Flatten(v, 0, &out, k));
    return out;
  }
  element raw() const { return e_; }

 private:
  static Status Flatten(element v, int depth, std::vector<int64_t>* out, const char* k) {
    if (depth > 4 || out->size() > 64)
      return InvalidArgument(std::string("config '") + k + "' is too deeply nested or too long");
    int64_t i;
    double d;
    array a;
    if (v.get_int64().get(i) == simdjson::SUCCESS) {
      out->push_back(i);
    } else if (v.get_double().get(d) == simdjson::SUCCESS && d == std::floor(d) &&
               std::abs(d) < 1e15) {
      out->push_back(static_cast<int64_t>(d));
    } else if (v.is_null()) {
      out->push_back(-1);
    } else if (v.get_array().get(a) == simdjson::SUCCESS) {
      for (element x : a) TIFFIN_RETURN_IF_ERROR(Flatten(x, depth + 1, out, k));
    } else {
      return InvalidArgument(std::string("config '") + k + "' is not a whole number or list");
    }
    return Status();
  }
  element e_;
};

// `v` repeated to `n` entries when it has one; an error otherwise when its
// size is not n.
Result<std::vector<int64_t>> Spread(std::vector<int64_t> v, size_t n, const char* what,
                                    int64_t def) {
  if (v.empty()) v = {def};
  if (v.size() == 1) v.assign(n, v[0]);
  if (v.size() != n) {
    return InvalidArgument(std::string("'") + what + "' has " + std::to_string(v.size()) +
                           " values for " + std::to_string(n) + " spatial dims");
  }
  for (int64_t x : v) {
    if (x < 0 || x > kMaxDim)
      return InvalidArgument(std::string("'") + what + "' is " + std::to_string(x));
  }
  return v;
}

// A float32 copy of `t` with axes permuted (`perm` as numpy.transpose).
Tensor Permuted(const Tensor& t, const std::vector<int64_t>& perm) {
  const int64_t r = static_cast<int64_t>(perm.size());
  Shape out_shape;
  for (int64_t p : perm) out_shape.push_back(t.dim(p));
  Tensor out(DType::kFloat32, out_shape);
  // in_strides[i]: the input stride of output axis i.
  std::vector<int64_t> strides(static_cast<size_t>(r), 1);
  for (int64_t i = r - 2; i >= 0; --i)
    strides[static_cast<size_t>(i)] = strides[static_cast<size_t>(i + 1)] * t.dim(i + 1);
  std::vector<int64_t> in_strides;
  for (int64_t p : perm) in_strides.push_back(strides[static_cast<size_t>(p)]);
  const float* src = t.data<float>();
  float* dst = out.data<float>();
  for (int64_t n = 0; n < out.size(); ++n) {
    int64_t rem = n, off = 0;
    for (int64_t i = r - 1; i >= 0; --i) {
      const int64_t d = out_shape[static_cast<size_t>(i)];
      off += (rem % d) * in_strides[static_cast<size_t>(i)];
      rem /= d;
    }
    dst[n] = src[off];
  }
  return out;
}

Tensor Floats(std::vector<float> v, Shape shape) { return Tensor::FromVector(v, std::move(shape)); }

std::vector<float> ToVector(const Tensor& t) {
  return std::vector<float>(t.data<float>(), t.data<float>() + t.size());
}

// Weight `name` (legacy files name them) or, in Keras 3 files, the one at
// `pos`.
Result<Tensor> Weight(const LayerWeights& w, const std::string& name, size_t pos) {
  if (!w.names.empty()) {
    for (size_t i = 0; i < w.names.size(); ++i)
      if (w.names[i] == name) return w.values[i];
    std::string have;
    for (const auto& n : w.names) have += (have.empty() ? "" : ", ") + n;
    return InvalidArgument("weight '" + name +
                           "' is missing (the file has: " + (have.empty() ? "none" : have) + ")");
  }
  if (pos >= w.values.size()) {
    return InvalidArgument("weight '" + name + "' (number " + std::to_string(pos) +
                           ") is missing: the file has " + std::to_string(w.values.size()));
  }
  return w.values[pos];
}

Status CheckShape(const Tensor& t, const Shape& want, const std::string& what) {
  if (t.shape() == want) return Status();
  auto str = [](const Shape& s) {
    std::string o = "[";
    for (size_t i = 0; i < s.size(); ++i) o += (i ? "," : "") + std::to_string(s[i]);
    return o + "]";
  };
  return InvalidArgument("weight '" + what + "' has shape " + str(t.shape()) + ", expected " +
                         str(want));
}

int64_t NormAxis(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

}  // namespace

Converter::Converter(sklearn::GraphBuilder& b, std::string keras_version) : b_(b) {
  if (!keras_version.empty() && std::isdigit(static_cast<unsigned char>(keras_version[0])))
    keras_major_ = std::atoi(keras_version.c_str());
}

Result<Val> Converter::Input(const std::string& name, element config) {
  Cfg c(config);
  std::vector<int64_t> shape;
  if (c.Has("batch_input_shape")) {
    TIFFIN_ASSIGN_OR_RETURN(shape, c.Ints("batch_input_shape"));
  } else if (c.Has("batch_shape")) {
    TIFFIN_ASSIGN_OR_RETURN(shape, c.Ints("batch_shape"));
  } else if (c.Has("build_input_shape")) {
    TIFFIN_ASSIGN_OR_RETURN(shape, c.Ints("build_input_shape"));
  } else if (c.Has("input_shape")) {
    TIFFIN_ASSIGN_OR_RETURN(shape, c.Ints("input_shape"));
    shape.insert(shape.begin(), -1);
  } else {
    return InvalidArgument("input '" + name + "' does not state its shape");
  }
  if (shape.empty() || shape.size() > 8) {
    return InvalidArgument("input '" + name + "' has rank " + std::to_string(shape.size()) +
                           " (1 to 8 read)");
  }
  for (int64_t d : shape) {
    if (d < -1 || d > kMaxDim)
      return InvalidArgument("input '" + name + "' has dimension " + std::to_string(d));
  }
  shape[0] = -1;
  Val v;
  v.shape = shape;
  std::string dt = c.Str("dtype", "float32");
  if (c.Find("dtype") && c.Get("dtype").is_object())
    dt = Cfg(c.Get("dtype")).Str("name", "float32");
  if (dt.find("int") != std::string::npos) {
    v.dtype = dt == "int32" ? DType::kInt32 : DType::kInt64;
  } else if (dt != "float32") {
    notes_.push_back("input '" + name + "' is declared " + dt + "; tiffin computes in float32");
  }
  std::vector<Dim> dims;
  for (size_t k = 0; k < shape.size(); ++k)
    dims.push_back(k == 0 ? Dim{-1, "N"} : Dim{shape[k], ""});
  v.name = b_.AddInput(name, v.dtype, dims);
  return v;
}

namespace {

// Everything one layer's conversion needs.
struct Ctx {
  sklearn::GraphBuilder& b;
  int keras_major;
  std::vector<std::string>* notes;
};

std::string ConstF(Ctx& c, std::vector<float> v, Shape s, const std::string& hint) {
  return c.b.Const(Floats(std::move(v), std::move(s)), hint);
}
std::string ScalarF(Ctx& c, float v) { return c.b.Const(Tensor::Scalar(v), "k"); }
std::string Ints1(Ctx& c, std::vector<int64_t> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return c.b.ConstInts(std::move(v), {n}, "i");
}

// A Keras activation, by name or (Keras 3) as a serialized function object.
Result<std::string> ActivationName(element e) {
  std::string_view s;
  if (e.is_null()) return std::string("linear");
  if (e.get_string().get(s) == simdjson::SUCCESS) return std::string(s);
  object o;
  if (e.get_object().get(o) == simdjson::SUCCESS) {
    std::string_view module, cfg;
    if (o["module"].get_string().get(module) == simdjson::SUCCESS &&
        module.rfind("keras", 0) != 0) {
      return NotSupported("activation from module '" + std::string(module) +
                          "' is custom code; tiffin never runs it");
    }
    if (o["config"].get_string().get(cfg) == simdjson::SUCCESS) return std::string(cfg);
    if (o["class_name"].get_string().get(cfg) == simdjson::SUCCESS) return std::string(cfg);
  }
  return InvalidArgument("the activation is neither a name nor a serialized function");
}

Result<std::string> Activate(Ctx& c, const std::string& x, const std::string& act) {
  auto& b = c.b;
  if (act.empty() || act == "linear") return x;
  if (act == "relu") return b.Op("Relu", {x});
  if (act == "relu6") return b.Op("Clip", {x, ScalarF(c, 0), ScalarF(c, 6)});
  if (act == "sigmoid") return b.Op("Sigmoid", {x});
  if (act == "tanh") return b.Op("Tanh", {x});
  if (act == "softmax") return b.Op("Softmax", {x}, {{"axis", AttrInt(-1)}});
  if (act == "log_softmax") return b.Op("LogSoftmax", {x}, {{"axis", AttrInt(-1)}});
  if (act == "elu") return b.Op("Elu", {x}, {{"alpha", AttrFloat(1.0f)}});
  if (act == "selu") {
    return b.Op(
        "Selu", {x},
        {{"alpha", AttrFloat(1.6732632423543772f)}, {"gamma", AttrFloat(1.0507009873554805f)}});
  }
  if (act == "softplus") return b.Op("Softplus", {x});
  if (act == "softsign") return b.Op("Softsign", {x});
  if (act == "swish" || act == "silu") return b.Op("Mul", {x, b.Op("Sigmoid", {x})});
  if (act == "exponential") return b.Op("Exp", {x});
  if (act == "leaky_relu") return b.Op("LeakyRelu", {x}, {{"alpha", AttrFloat(0.2f)}});
  if (act == "hard_silu" || act == "hard_swish") return b.Op("HardSwish", {x});
  if (act == "hard_sigmoid") {
    // Keras 3: x/6 + 0.5; Keras 2 and tf.keras: 0.2x + 0.5.
    const float alpha = c.keras_major >= 3 ? 1.0f / 6.0f : 0.2f;
    return b.Op("HardSigmoid", {x}, {{"alpha", AttrFloat(alpha)}, {"beta", AttrFloat(0.5f)}});
  }
  if (act == "gelu") {
    // 0.5 x (1 + erf(x / sqrt 2)): Gelu is opset 20, tiffin emits 17.
    std::string e = b.Op("Erf", {b.Op("Mul", {x, ScalarF(c, static_cast<float>(M_SQRT1_2))})});
    return b.Op("Mul", {b.Op("Mul", {x, ScalarF(c, 0.5f)}), b.Op("Add", {e, ScalarF(c, 1.0f)})});
  }
  if (act == "mish") return b.Op("Mul", {x, b.Op("Tanh", {b.Op("Softplus", {x})})});
  return NotSupported("activation '" + act +
                      "' is not a built-in Keras activation tiffin knows (custom functions are "
                      "never run)");
}

Result<std::string> ActivateCfg(Ctx& c, const Cfg& cfg, const std::string& x) {
  if (!cfg.Has("activation")) return x;
  TIFFIN_ASSIGN_OR_RETURN(std::string act, ActivationName(cfg.Get("activation")));
  return Activate(c, x, act);
}

std::string ToChannelsFirst(Ctx& c, const Val& v) {
  std::vector<int64_t> perm = {0, v.rank() - 1};
  for (int64_t i = 1; i < v.rank() - 1; ++i) perm.push_back(i);
  return c.b.Op("Transpose", {v.name}, {{"perm", AttrInts(perm)}});
}
std::string ToChannelsLast(Ctx& c, const std::string& x, int64_t rank) {
  std::vector<int64_t> perm = {0};
  for (int64_t i = 2; i < rank; ++i) perm.push_back(i);
  perm.push_back(1);
  return c.b.Op("Transpose", {x}, {{"perm", AttrInts(perm)}});
}

// A layer's data_format: true for channels_first (N, C, spatial...), false
// for channels_last (N, spatial..., C), Keras' default.
Result<bool> ChannelsFirst(const Cfg& cfg) {
  const std::string f = cfg.Str("data_format", "channels_last");
  if (f == "channels_last") return false;
  if (f == "channels_first") return true;
  return InvalidArgument("data_format '" + f + "' is neither channels_last nor channels_first");
}

// A channels_first value seen channels_last, for the shape arithmetic below
// (written for channels_last). Only the shape is meaningful.
Val LastView(const Val& x) {
  Val v = x;
  if (x.rank() >= 3) {
    v.shape.erase(v.shape.begin() + 1);
    v.shape.push_back(x.shape[1]);
  }
  return v;
}

// A channels_last shape back in the layer's layout.
std::vector<int64_t> Layout(std::vector<int64_t> s, bool cf) {
  if (cf && s.size() >= 3) {
    const int64_t ch = s.back();
    s.pop_back();
    s.insert(s.begin() + 1, ch);
  }
  return s;
}

// ONNX's spatial ops are channels_first: channels_last values are
// transposed in and out, channels_first ones go as they are.
std::string InNCHW(Ctx& c, const Val& x_in, bool cf) {
  return cf ? x_in.name : ToChannelsFirst(c, x_in);
}
std::string OutLayout(Ctx& c, const std::string& y, int64_t rank, bool cf) {
  return cf ? y : ToChannelsLast(c, y, rank);
}

// Output length of a window op along one axis.
int64_t WindowOut(int64_t in, int64_t k_eff, int64_t s, const std::string& padding) {
  if (in < 0) return -1;
  if (padding == "same" || padding == "causal") return (in + s - 1) / s;
  return in >= k_eff ? (in - k_eff) / s + 1 : 0;
}

struct Window {
  std::vector<int64_t> kernel, strides, dilations;
  std::string padding;
};

Result<Window> ReadWindow(const Cfg& cfg, size_t nsp, const char* kernel_key,
                          const std::vector<int64_t>& default_kernel) {
  Window w;
  TIFFIN_ASSIGN_OR_RETURN(auto k, cfg.Ints(kernel_key));
  if (k.empty()) k = default_kernel;
  TIFFIN_ASSIGN_OR_RETURN(w.kernel, Spread(k, nsp, kernel_key, 1));
  TIFFIN_ASSIGN_OR_RETURN(auto s, cfg.Ints("strides"));
  if (s.empty() || (s.size() == 1 && s[0] == -1)) {
    // Pools default to strides = pool_size, convolutions to 1.
    if (std::string(kernel_key) == "kernel_size")
      s = {1};
    else
      s = w.kernel;
  }
  TIFFIN_ASSIGN_OR_RETURN(w.strides, Spread(s, nsp, "strides", 1));
  TIFFIN_ASSIGN_OR_RETURN(auto d, cfg.Ints("dilation_rate"));
  TIFFIN_ASSIGN_OR_RETURN(w.dilations, Spread(d, nsp, "dilation_rate", 1));
  for (size_t i = 0; i < nsp; ++i) {
    if (w.kernel[i] < 1 || w.strides[i] < 1 || w.dilations[i] < 1)
      return InvalidArgument("kernel, strides and dilation must be at least 1");
  }
  w.padding = cfg.Str("padding", "valid");
  if (w.padding != "valid" && w.padding != "same" && w.padding != "causal")
    return InvalidArgument("padding '" + w.padding + "' is not valid, same or causal");
  return w;
}

// 'same' padding is explicit when the input's spatial size is known (ONNX
// Runtime refuses auto_pad with dilations); SAME_UPPER otherwise, which is
// the same rule (the odd pixel at the end).
void WindowAttrs(const Window& w, const Val& x, sklearn::Attrs* a, bool conv) {
  a->push_back({"strides", AttrInts(w.strides)});
  if (conv) a->push_back({"dilations", AttrInts(w.dilations)});
  bool known = true;
  for (size_t i = 0; i < w.kernel.size(); ++i) known = known && x.shape[i + 1] >= 0;
  if (w.padding == "same" && known) {
    std::vector<int64_t> begin, end;
    for (size_t i = 0; i < w.kernel.size(); ++i) {
      const int64_t in = x.shape[i + 1], s = w.strides[i];
      const int64_t k_eff = (w.kernel[i] - 1) * (conv ? w.dilations[i] : 1) + 1;
      const int64_t out = (in + s - 1) / s;
      const int64_t total = std::max<int64_t>((out - 1) * s + k_eff - in, 0);
      begin.push_back(total / 2);
      end.push_back(total - total / 2);
    }
    begin.insert(begin.end(), end.begin(), end.end());
    a->push_back({"pads", AttrInts(begin)});
  } else if (w.padding == "same") {
    a->push_back({"auto_pad", AttrString("SAME_UPPER")});
  } else if (w.padding == "causal") {
    std::vector<int64_t> pads;
    for (size_t i = 0; i < w.kernel.size(); ++i) pads.push_back((w.kernel[i] - 1) * w.dilations[i]);
    for (size_t i = 0; i < w.kernel.size(); ++i) pads.push_back(0);
    a->push_back({"pads", AttrInts(pads)});
  } else {
    a->push_back({"pads", AttrInts(std::vector<int64_t>(2 * w.kernel.size(), 0))});
  }
}

std::vector<int64_t> WindowShape(const Val& x, const Window& w, int64_t channels) {
  std::vector<int64_t> s = {-1};
  for (size_t i = 0; i < w.kernel.size(); ++i) {
    const int64_t k_eff = (w.kernel[i] - 1) * w.dilations[i] + 1;
    s.push_back(WindowOut(x.shape[i + 1], k_eff, w.strides[i], w.padding));
  }
  s.push_back(channels);
  return s;
}

Status NeedRank(const Val& x, int64_t lo, int64_t hi, const std::string& what) {
  if (x.rank() < lo || x.rank() > hi) {
    return InvalidArgument(what + " takes inputs of rank " + std::to_string(lo) +
                           (lo == hi ? "" : " to " + std::to_string(hi)) +
                           " (batch included), got " + std::to_string(x.rank()));
  }
  return Status();
}

// Conv1D/2D/3D (and the depthwise step of SeparableConv).
Result<Val> Conv(Ctx& c, const Cfg& cfg, const Val& x_in, const LayerWeights& w, size_t nsp) {
  TIFFIN_ASSIGN_OR_RETURN(const bool cf, ChannelsFirst(cfg));
  const Val x = cf ? LastView(x_in) : x_in;
  TIFFIN_RETURN_IF_ERROR(NeedRank(x, static_cast<int64_t>(nsp) + 2, static_cast<int64_t>(nsp) + 2,
                                  "Conv" + std::to_string(nsp) + "D"));
  TIFFIN_ASSIGN_OR_RETURN(Window win, ReadWindow(cfg, nsp, "kernel_size", {}));
  TIFFIN_ASSIGN_OR_RETURN(Tensor k, Weight(w, "kernel", 0));
  if (k.rank() != static_cast<int64_t>(nsp) + 2)
    return InvalidArgument("the kernel has rank " + std::to_string(k.rank()));
  const int64_t groups = cfg.Int("groups", 1);
  const int64_t cin = x.shape.back();
  if (groups < 1 || (cin > 0 && cin != k.dim(static_cast<int64_t>(nsp)) * groups)) {
    return InvalidArgument(
        "the kernel expects " + std::to_string(k.dim(static_cast<int64_t>(nsp))) + "x" +
        std::to_string(groups) + " input channels; the input has " + std::to_string(cin));
  }
  for (size_t i = 0; i < nsp; ++i) {
    if (k.dim(static_cast<int64_t>(i)) != win.kernel[i])
      return InvalidArgument("the kernel's spatial size differs from kernel_size");
  }
  std::vector<int64_t> perm = {static_cast<int64_t>(nsp) + 1, static_cast<int64_t>(nsp)};
  for (size_t i = 0; i < nsp; ++i) perm.push_back(static_cast<int64_t>(i));
  std::vector<std::string> ins = {InNCHW(c, x_in, cf), c.b.Const(Permuted(k, perm), "W")};
  const int64_t filters = k.dim(static_cast<int64_t>(nsp) + 1);
  if (cfg.Bool("use_bias", true)) {
    TIFFIN_ASSIGN_OR_RETURN(Tensor bias, Weight(w, "bias", 1));
    TIFFIN_RETURN_IF_ERROR(CheckShape(bias, {filters}, "bias"));
    ins.push_back(c.b.Const(bias, "B"));
  }
  sklearn::Attrs a = {{"group", AttrInt(groups)}, {"kernel_shape", AttrInts(win.kernel)}};
  WindowAttrs(win, x, &a, true);
  std::string y = OutLayout(c, c.b.Op("Conv", ins, a), x.rank(), cf);
  TIFFIN_ASSIGN_OR_RETURN(y, ActivateCfg(c, cfg, y));
  return Val{y, Layout(WindowShape(x, win, filters), cf)};
}

// DepthwiseConv2D / SeparableConv2D / DepthwiseConv1D.
Result<Val> DepthwiseConv(Ctx& c, const Cfg& cfg, const Val& x_in, const LayerWeights& w,
                          size_t nsp, bool separable) {
  TIFFIN_ASSIGN_OR_RETURN(const bool cf, ChannelsFirst(cfg));
  const Val x = cf ? LastView(x_in) : x_in;
  TIFFIN_RETURN_IF_ERROR(
      NeedRank(x, static_cast<int64_t>(nsp) + 2, static_cast<int64_t>(nsp) + 2, "DepthwiseConv"));
  TIFFIN_ASSIGN_OR_RETURN(Window win, ReadWindow(cfg, nsp, "kernel_size", {}));
  TIFFIN_ASSIGN_OR_RETURN(Tensor dk, Weight(w, "depthwise_kernel", 0));
  if (dk.rank() != static_cast<int64_t>(nsp) + 2)
    return InvalidArgument("the depthwise kernel has rank " + std::to_string(dk.rank()));
  const int64_t cin = dk.dim(static_cast<int64_t>(nsp));
  const int64_t dm = dk.dim(static_cast<int64_t>(nsp) + 1);
  if (x.shape.back() > 0 && x.shape.back() != cin)
    return InvalidArgument("the depthwise kernel expects " + std::to_string(cin) + " channels");
  // (k..., in, dm) -> (in*dm, 1, k...): output channel c*dm + m.
  Shape flat_shape(dk.shape().begin(), dk.shape().begin() + static_cast<int64_t>(nsp));
  flat_shape.push_back(cin * dm);
  std::vector<int64_t> perm = {static_cast<int64_t>(nsp)};
  for (size_t i = 0; i < nsp; ++i) perm.push_back(static_cast<int64_t>(i));
  Tensor wt = Permuted(dk.Reshaped(flat_shape), perm);
  Shape wshape = {cin * dm, 1};
  for (size_t i = 0; i < nsp; ++i) wshape.push_back(win.kernel[i]);
  std::vector<std::string> ins = {InNCHW(c, x_in, cf), c.b.Const(wt.Reshaped(wshape), "W")};
  if (!separable && cfg.Bool("use_bias", true)) {
    TIFFIN_ASSIGN_OR_RETURN(Tensor bias, Weight(w, "bias", 1));
    TIFFIN_RETURN_IF_ERROR(CheckShape(bias, {cin * dm}, "bias"));
    ins.push_back(c.b.Const(bias, "B"));
  }
  sklearn::Attrs a = {{"group", AttrInt(cin)}, {"kernel_shape", AttrInts(win.kernel)}};
  WindowAttrs(win, x, &a, true);
  std::string y = c.b.Op("Conv", ins, a);
  int64_t channels = cin * dm;
  if (separable) {
    TIFFIN_ASSIGN_OR_RETURN(Tensor pk, Weight(w, "pointwise_kernel", 1));
    if (pk.rank() != static_cast<int64_t>(nsp) + 2 || pk.dim(static_cast<int64_t>(nsp)) != cin * dm)
      return InvalidArgument("the pointwise kernel does not match the depthwise one");
    const int64_t filters = pk.dim(static_cast<int64_t>(nsp) + 1);
    std::vector<int64_t> pperm = {static_cast<int64_t>(nsp) + 1, static_cast<int64_t>(nsp)};
    for (size_t i = 0; i < nsp; ++i) pperm.push_back(static_cast<int64_t>(i));
    std::vector<std::string> pins = {y, c.b.Const(Permuted(pk, pperm), "W")};
    if (cfg.Bool("use_bias", true)) {
      TIFFIN_ASSIGN_OR_RETURN(Tensor bias, Weight(w, "bias", 2));
      TIFFIN_RETURN_IF_ERROR(CheckShape(bias, {filters}, "bias"));
      pins.push_back(c.b.Const(bias, "B"));
    }
    y = c.b.Op("Conv", pins, {{"kernel_shape", AttrInts(std::vector<int64_t>(nsp, 1))}});
    channels = filters;
  }
  y = OutLayout(c, y, x.rank(), cf);
  TIFFIN_ASSIGN_OR_RETURN(y, ActivateCfg(c, cfg, y));
  return Val{y, Layout(WindowShape(x, win, channels), cf)};
}

// Conv1DTranspose / Conv2DTranspose, with explicit pads (never auto_pad).
Result<Val> ConvTranspose(Ctx& c, const Cfg& cfg, const Val& x_in, const LayerWeights& w,
                          size_t nsp) {
  TIFFIN_ASSIGN_OR_RETURN(const bool cf, ChannelsFirst(cfg));
  const Val x = cf ? LastView(x_in) : x_in;
  TIFFIN_RETURN_IF_ERROR(
      NeedRank(x, static_cast<int64_t>(nsp) + 2, static_cast<int64_t>(nsp) + 2, "ConvTranspose"));
  TIFFIN_ASSIGN_OR_RETURN(Window win, ReadWindow(cfg, nsp, "kernel_size", {}));
  if (win.padding == "causal") return InvalidArgument("padding 'causal' is for Conv1D only");
  TIFFIN_ASSIGN_OR_RETURN(auto out_pad, cfg.Ints("output_padding"));
  const bool has_out_pad = !out_pad.empty();
  if (has_out_pad) {
    TIFFIN_ASSIGN_OR_RETURN(out_pad, Spread(out_pad, nsp, "output_padding", 0));
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor k, Weight(w, "kernel", 0));
  if (k.rank() != static_cast<int64_t>(nsp) + 2)
    return InvalidArgument("the kernel has rank " + std::to_string(k.rank()));
  // Keras (k..., out, in) -> ONNX (in, out, k...).
  std::vector<int64_t> perm = {static_cast<int64_t>(nsp) + 1, static_cast<int64_t>(nsp)};
  for (size_t i = 0; i < nsp; ++i) perm.push_back(static_cast<int64_t>(i));
  const int64_t filters = k.dim(static_cast<int64_t>(nsp));
  std::vector<std::string> ins = {InNCHW(c, x_in, cf), c.b.Const(Permuted(k, perm), "W")};
  if (cfg.Bool("use_bias", true)) {
    TIFFIN_ASSIGN_OR_RETURN(Tensor bias, Weight(w, "bias", 1));
    TIFFIN_RETURN_IF_ERROR(CheckShape(bias, {filters}, "bias"));
    ins.push_back(c.b.Const(bias, "B"));
  }
  // Keras' output length (deconv_output_length in
  // keras/src/utils/conv_utils.py, or _get_output_shape_given_tf_padding):
  //   no output_padding: valid in*s + max(k_eff - s, 0), same in*s;
  //   with output_padding op: (in-1)*s + k_eff - 2*pad + op, pad = 0 (valid)
  //   or k_eff/2 (same).
  // TF computes it as the gradient of a forward conv from that length: the
  // full transposed result, (in-1)*s + k_eff long, cropped from
  // pad_total/2 (pad_total = max(full - length, 0) for 'same', 0 for
  // 'valid'), zero-extended at the end when the length asks for more. ONNX
  // pads crop, output_padding extends: explicit, never auto_pad.
  std::vector<int64_t> pb, pe, op;
  std::vector<int64_t> shape = {-1};
  for (size_t i = 0; i < nsp; ++i) {
    const int64_t s = win.strides[i];
    const int64_t k_eff = (win.kernel[i] - 1) * win.dilations[i] + 1;
    // The crop does not depend on the input's length: an unknown one
    // computes with 1 and reads as -1.
    const int64_t in = std::max<int64_t>(x.shape[i + 1], 1);
    if (has_out_pad && out_pad[i] >= s) {
      return InvalidArgument("output_padding " + std::to_string(out_pad[i]) +
                             " is not smaller than the stride " + std::to_string(s));
    }
    const bool same = win.padding == "same";
    int64_t length;
    if (!has_out_pad) {
      length = same ? in * s : in * s + std::max<int64_t>(k_eff - s, 0);
    } else {
      length = (in - 1) * s + k_eff - 2 * (same ? k_eff / 2 : 0) + out_pad[i];
    }
    const int64_t full = (in - 1) * s + k_eff;
    const int64_t begin = same ? std::max<int64_t>(full - length, 0) / 2 : 0;
    const int64_t end = full - begin - length;  // < 0: zero-extend
    if (length < 1) return InvalidArgument("the Conv transpose's output would be empty");
    pb.push_back(begin);
    pe.push_back(std::max<int64_t>(end, 0));
    op.push_back(std::max<int64_t>(-end, 0));
    shape.push_back(x.shape[i + 1] < 0 ? -1 : length);
  }
  shape.push_back(filters);
  std::vector<int64_t> pads = pb;
  pads.insert(pads.end(), pe.begin(), pe.end());
  std::string y = c.b.Op("ConvTranspose", ins,
                         {{"kernel_shape", AttrInts(win.kernel)},
                          {"strides", AttrInts(win.strides)},
                          {"dilations", AttrInts(win.dilations)},
                          {"pads", AttrInts(pads)},
                          {"output_padding", AttrInts(op)}});
  y = OutLayout(c, y, x.rank(), cf);
  TIFFIN_ASSIGN_OR_RETURN(y, ActivateCfg(c, cfg, y));
  return Val{y, Layout(shape, cf)};
}

Result<Val> Pool(Ctx& c, const Cfg& cfg, const Val& x_in, size_t nsp, bool max) {
  TIFFIN_ASSIGN_OR_RETURN(const bool cf, ChannelsFirst(cfg));
  const Val x = cf ? LastView(x_in) : x_in;
  TIFFIN_RETURN_IF_ERROR(NeedRank(x, static_cast<int64_t>(nsp) + 2, static_cast<int64_t>(nsp) + 2,
                                  max ? "MaxPooling" : "AveragePooling"));
  TIFFIN_ASSIGN_OR_RETURN(Window win, ReadWindow(cfg, nsp, "pool_size", {2}));
  if (cfg.Has("pool_length")) {  // Keras 1 names
    TIFFIN_ASSIGN_OR_RETURN(win, ReadWindow(cfg, nsp, "pool_length", {2}));
  }
  if (win.padding == "causal") return InvalidArgument("padding 'causal' is for Conv1D only");
  sklearn::Attrs a = {{"kernel_shape", AttrInts(win.kernel)}};
  WindowAttrs(win, x, &a, false);
  if (!max) a.push_back({"count_include_pad", AttrInt(0)});
  std::string y = c.b.Op(max ? "MaxPool" : "AveragePool", {InNCHW(c, x_in, cf)}, a);
  return Val{OutLayout(c, y, x.rank(), cf), Layout(WindowShape(x, win, x.shape.back()), cf)};
}

Result<Val> GlobalPool(Ctx& c, const Cfg& cfg, const Val& x, bool max) {
  TIFFIN_ASSIGN_OR_RETURN(const bool cf, ChannelsFirst(cfg));
  TIFFIN_RETURN_IF_ERROR(NeedRank(x, 3, 5, "global pooling"));
  const bool keep = cfg.Bool("keepdims", false);
  std::vector<int64_t> axes;  // the spatial ones
  for (int64_t i = cf ? 2 : 1; i < (cf ? x.rank() : x.rank() - 1); ++i) axes.push_back(i);
  std::string y = c.b.Op(max ? "ReduceMax" : "ReduceMean", {x.name},
                         {{"axes", AttrInts(axes)}, {"keepdims", AttrInt(keep ? 1 : 0)}});
  std::vector<int64_t> s = {-1};
  if (keep)
    for (size_t i = 1; i + 1 < x.shape.size(); ++i) s.push_back(1);
  s.push_back(cf ? x.shape[1] : x.shape.back());
  return Val{y, Layout(s, cf && keep)};
}

// A per-channel constant shaped to broadcast along `axis` of a value of
// rank `rank`.
Shape BroadcastShape(int64_t n, int64_t axis, int64_t rank) {
  Shape s = {n};
  for (int64_t i = axis + 1; i < rank; ++i) s.push_back(1);
  return s;
}

Result<int64_t> OneAxis(const Cfg& cfg, int64_t def, int64_t rank) {
  TIFFIN_ASSIGN_OR_RETURN(auto axes, cfg.Ints("axis"));
  if (axes.empty()) axes = {def};
  if (axes.size() != 1) {
    return NotSupported("normalizing over " + std::to_string(axes.size()) +
                        " axes; tiffin reads one axis");
  }
  const int64_t a = NormAxis(axes[0], rank);
  if (a < 1 || a >= rank)
    return InvalidArgument("axis " + std::to_string(axes[0]) + " is out of range");
  return a;
}

// The optional gamma (scale=True) and beta (center=True) of a normalization
// layer, in that order from weight `*pos` on.
Status GammaBeta(const LayerWeights& w, bool scale, bool center, size_t* pos, Tensor* gamma,
                 Tensor* beta) {
  if (scale) {
    TIFFIN_ASSIGN_OR_RETURN(*gamma, Weight(w, "gamma", (*pos)++));
  }
  if (center) {
    TIFFIN_ASSIGN_OR_RETURN(*beta, Weight(w, "beta", (*pos)++));
  }
  return Status::Ok();
}

Result<Val> BatchNorm(Ctx& c, const Cfg& cfg, const Val& x, const LayerWeights& w) {
  TIFFIN_ASSIGN_OR_RETURN(int64_t axis, OneAxis(cfg, -1, x.rank()));
  const bool scale = cfg.Bool("scale", true), center = cfg.Bool("center", true);
  const double eps = cfg.Num("epsilon", 1e-3);
  size_t pos = 0;
  Tensor gamma, beta;
  TIFFIN_RETURN_IF_ERROR(GammaBeta(w, scale, center, &pos, &gamma, &beta));
  TIFFIN_ASSIGN_OR_RETURN(Tensor mean, Weight(w, "moving_mean", pos++));
  TIFFIN_ASSIGN_OR_RETURN(Tensor var, Weight(w, "moving_variance", pos++));
  const int64_t n = mean.size();
  if (x.shape[static_cast<size_t>(axis)] > 0 && x.shape[static_cast<size_t>(axis)] != n)
    return InvalidArgument("moving_mean has " + std::to_string(n) + " entries for " +
                           std::to_string(x.shape[static_cast<size_t>(axis)]) + " channels");
  if (var.size() != n || (scale && gamma.size() != n) || (center && beta.size() != n))
    return InvalidArgument("gamma, beta, moving_mean and moving_variance differ in size");
  std::vector<float> mul(static_cast<size_t>(n)), add(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double inv = (scale ? gamma.data<float>()[i] : 1.0) /
                       std::sqrt(static_cast<double>(var.data<float>()[i]) + eps);
    mul[static_cast<size_t>(i)] = static_cast<float>(inv);
    add[static_cast<size_t>(i)] =
        static_cast<float>((center ? beta.data<float>()[i] : 0.0) - mean.data<float>()[i] * inv);
  }
  const Shape s = BroadcastShape(n, axis, x.rank());
  std::string y = c.b.Op("Mul", {x.name, ConstF(c, mul, s, "bn_scale")});
  y = c.b.Op("Add", {y, ConstF(c, add, s, "bn_shift")});
  return Val{y, x.shape};
}

// The axes a layer normalizes over (`axis`: an int or a list; each in
// 1..rank-1 once normalized), sorted; `def` when absent.
Result<std::vector<int64_t>> Axes(const Cfg& cfg, int64_t def, int64_t rank) {
  TIFFIN_ASSIGN_OR_RETURN(auto axes, cfg.Ints("axis"));
  if (axes.empty()) axes = {def};
  for (auto& a : axes) {
    const int64_t n = NormAxis(a, rank);
    if (n < 1 || n >= rank)
      return InvalidArgument("axis " + std::to_string(a) + " is out of range");
    a = n;
  }
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
    return InvalidArgument("an axis is listed twice");
  return axes;
}

// The shape a per-axes constant takes to broadcast against `x`: x's size on
// `axes`, 1 elsewhere (batch included). Errors when a size is unknown.
Result<Shape> KeptShape(const Val& x, const std::vector<int64_t>& axes, int64_t* n) {
  Shape s(static_cast<size_t>(x.rank()), 1);
  *n = 1;
  for (int64_t a : axes) {
    const int64_t d = x.shape[static_cast<size_t>(a)];
    if (d < 1)
      return InvalidArgument("the normalized axis " + std::to_string(a) + " has unknown size");
    s[static_cast<size_t>(a)] = d;
    *n *= d;
  }
  return s;
}

// LayerNormalization over any axes (Keras 3 ops.layer_normalization): ONNX
// LayerNormalization when the axes are the trailing ones, else the same
// arithmetic spelled out (mean and biased variance over the axes,
// rsqrt(var + eps), then gamma and beta). rms_scaling=True (Keras 3):
// x * rsqrt(var + eps) * gamma, where var is still the variance about the
// mean, and the layer has no beta.
Result<Val> LayerNorm(Ctx& c, const Cfg& cfg, const Val& x, const LayerWeights& w) {
  TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> axes, Axes(cfg, -1, x.rank()));
  const bool rms = cfg.Bool("rms_scaling", false);
  const bool scale = cfg.Bool("scale", true), center = cfg.Bool("center", true) && !rms;
  const float eps = static_cast<float>(cfg.Num("epsilon", 1e-3));
  int64_t n = 0;
  TIFFIN_ASSIGN_OR_RETURN(Shape kept, KeptShape(x, axes, &n));
  size_t pos = 0;
  Tensor gamma, beta;
  TIFFIN_RETURN_IF_ERROR(GammaBeta(w, scale, center, &pos, &gamma, &beta));
  if ((scale && gamma.size() != n) || (center && beta.size() != n)) {
    return InvalidArgument("gamma or beta does not hold " + std::to_string(n) +
                           " values (the normalized axes' size)");
  }
  bool trailing = true;
  for (size_t i = 0; i < axes.size(); ++i)
    trailing = trailing && axes[i] == x.rank() - static_cast<int64_t>(axes.size() - i);
  if (trailing && !rms) {
    const Shape tail(kept.begin() + axes[0], kept.end());
    if (!scale) gamma = Floats(std::vector<float>(static_cast<size_t>(n), 1.0f), {n});
    if (!center) beta = Floats(std::vector<float>(static_cast<size_t>(n), 0.0f), {n});
    std::string y = c.b.Op("LayerNormalization",
                           {x.name, c.b.Const(gamma.Reshaped(tail), "ln_scale"),
                            c.b.Const(beta.Reshaped(tail), "ln_bias")},
                           {{"axis", AttrInt(axes[0])}, {"epsilon", AttrFloat(eps)}});
    return Val{y, x.shape};
  }
  auto reduce_mean = [&](const std::string& v) {
    return c.b.Op("ReduceMean", {v}, {{"axes", AttrInts(axes)}, {"keepdims", AttrInt(1)}});
  };
  const std::string d = c.b.Op("Sub", {x.name, reduce_mean(x.name)});
  const std::string var = reduce_mean(c.b.Op("Mul", {d, d}));
  const std::string inv =
      c.b.Op("Reciprocal", {c.b.Op("Sqrt", {c.b.Op("Add", {var, ScalarF(c, eps)})})});
  std::string y = c.b.Op("Mul", {rms ? x.name : d, inv});
  if (scale) y = c.b.Op("Mul", {y, c.b.Const(gamma.Reshaped(kept), "ln_scale")});
  if (center) y = c.b.Op("Add", {y, c.b.Const(beta.Reshaped(kept), "ln_bias")});
  return Val{y, x.shape};
}

// A float list in a layer config: a number, or a (nested) list of numbers,
// flattened. Bounded.
Result<std::vector<float>> ConfigFloats(const Cfg& cfg, const char* k) {
  std::vector<float> out;
  std::vector<std::pair<element, int>> stack = {{cfg.Get(k), 0}};
  while (!stack.empty()) {
    auto [e, depth] = stack.back();
    stack.pop_back();
    double d;
    array a;
    if (e.get_double().get(d) == simdjson::SUCCESS) {
      out.push_back(static_cast<float>(d));
    } else if (e.get_array().get(a) == simdjson::SUCCESS && depth < 8) {
      std::vector<element> items(a.begin(), a.end());
      for (auto it = items.rbegin(); it != items.rend(); ++it) stack.push_back({*it, depth + 1});
    } else {
      return InvalidArgument(std::string("config '") + k +
                             "' is not a number or a list of numbers");
    }
    if (out.size() > (size_t{1} << 24))
      return ResourceExhausted(std::string("config '") + k + "' is too long");
  }
  return out;
}

// Normalization (preprocessing): (x - mean) / max(sqrt(var), 1e-7), or with
// invert=True x * max(sqrt(var), 1e-7) + mean. mean and variance are the
// adapted weights, or (Keras 3, and tf.keras when given) lists in the
// config; a single value is spread over the kept axes. `axis` may be an int,
// a list, or null (one mean for everything).
Result<Val> Normalization(Ctx& c, const Cfg& cfg, const Val& x, const LayerWeights& w) {
  std::vector<int64_t> axes;
  if (!cfg.Find("axis") || !cfg.Get("axis").is_null()) {
    TIFFIN_ASSIGN_OR_RETURN(axes, Axes(cfg, -1, x.rank()));
  }
  int64_t n = 0;
  TIFFIN_ASSIGN_OR_RETURN(Shape kept, KeptShape(x, axes, &n));
  std::vector<float> mean, var;
  if (cfg.Has("mean") || cfg.Has("variance")) {
    if (!cfg.Has("mean") || !cfg.Has("variance"))
      return InvalidArgument("Normalization gives only one of mean and variance in its config");
    TIFFIN_ASSIGN_OR_RETURN(mean, ConfigFloats(cfg, "mean"));
    TIFFIN_ASSIGN_OR_RETURN(var, ConfigFloats(cfg, "variance"));
  } else {
    TIFFIN_ASSIGN_OR_RETURN(Tensor m, Weight(w, "mean", 0));
    TIFFIN_ASSIGN_OR_RETURN(Tensor v, Weight(w, "variance", 1));
    mean = ToVector(m);
    var = ToVector(v);
  }
  for (auto* v : {&mean, &var}) {
    if (v->size() == 1) v->assign(static_cast<size_t>(n), (*v)[0]);
    if (static_cast<int64_t>(v->size()) != n) {
      return InvalidArgument("mean or variance holds " + std::to_string(v->size()) +
                             " values for " + std::to_string(n) + " normalized entries");
    }
  }
  std::vector<float> sd(var.size());
  for (size_t i = 0; i < var.size(); ++i) sd[i] = std::max(std::sqrt(var[i]), 1e-7f);
  const Shape s = n == 1 ? Shape{} : kept;
  std::string y;
  if (cfg.Bool("invert", false)) {
    y = c.b.Op("Add",
               {c.b.Op("Mul", {x.name, ConstF(c, sd, s, "std")}), ConstF(c, mean, s, "mean")});
  } else {
    y = c.b.Op("Div",
               {c.b.Op("Sub", {x.name, ConstF(c, mean, s, "mean")}), ConstF(c, sd, s, "std")});
  }
  return Val{y, x.shape};
}

// Padding/cropping amounts: int, [a, b] (per axis symmetric for 2-D, or
// begin/end for 1-D), or [[t, b], [l, r]].
Result<std::vector<std::pair<int64_t, int64_t>>> Amounts(const Cfg& cfg, const char* key,
                                                         size_t nsp, int64_t def) {
  TIFFIN_ASSIGN_OR_RETURN(auto v, cfg.Ints(key));
  if (v.empty()) v = {def};
  std::vector<std::pair<int64_t, int64_t>> out;
  if (v.size() == 1) {
    out.assign(nsp, {v[0], v[0]});
  } else if (v.size() == 2 && nsp == 1) {
    out = {{v[0], v[1]}};
  } else if (v.size() == nsp) {
    for (int64_t a : v) out.push_back({a, a});
  } else if (v.size() == 2 * nsp) {
    for (size_t i = 0; i < nsp; ++i) out.push_back({v[2 * i], v[2 * i + 1]});
  } else {
    return InvalidArgument(std::string("'") + key + "' has an unexpected form");
  }
  for (auto [a, b] : out)
    if (a < 0 || b < 0 || a > kMaxDim || b > kMaxDim)
      return InvalidArgument(std::string("'") + key + "' is negative or huge");
  return out;
}

// One Keras RNN (LSTM, GRU, SimpleRNN) config and weights -> ONNX W, R, B
// for one direction.
struct RnnSpec {
  std::string op;  // LSTM, GRU, RNN
  int64_t units = 0;
  std::vector<std::string> acts;
  std::vector<float> alphas, betas;
  bool linear_before_reset = false;
  bool return_sequences = false;
  bool go_backwards = false;
  bool return_state = false;
  Tensor W, R, B;  // [1, G*u, in], [1, G*u, u], [1, 2*G*u]
};

Status RnnActivation(Ctx& c, const std::string& name, RnnSpec* s) {
  if (name == "sigmoid") {
    s->acts.push_back("Sigmoid");
  } else if (name == "tanh") {
    s->acts.push_back("Tanh");
  } else if (name == "relu") {
    s->acts.push_back("Relu");
  } else if (name == "linear") {
    s->acts.push_back("Affine"), s->alphas.push_back(1), s->betas.push_back(0);
  } else if (name == "hard_sigmoid") {
    s->acts.push_back("HardSigmoid");
    s->alphas.push_back(c.keras_major >= 3 ? 1.0f / 6.0f : 0.2f);
    s->betas.push_back(0.5f);
  } else if (name == "softsign") {
    s->acts.push_back("Softsign");
  } else if (name == "softplus") {
    s->acts.push_back("Softplus");
  } else if (name == "elu") {
    s->acts.push_back("Elu"), s->alphas.push_back(1);
  } else {
    return NotSupported("recurrent activation '" + name + "' has no ONNX RNN equivalent");
  }
  return Status();
}

Result<RnnSpec> ReadRnn(Ctx& c, const std::string& cls, const Cfg& cfg, const LayerWeights& w,
                        int64_t input_dim) {
  RnnSpec s;
  const int64_t gates = cls == "LSTM" ? 4 : cls == "GRU" ? 3 : 1;
  s.op = cls == "SimpleRNN" ? "RNN" : cls;
  s.units = cfg.Int("units", 0);
  if (s.units < 1 || s.units > (int64_t{1} << 20))
    return InvalidArgument("units is " + std::to_string(s.units));
  if (cfg.Bool("stateful", false)) {
    return NotSupported(
        "stateful=True: the layer carries its states from one batch to the next, and tiffin "
        "starts every call from zero states (re-save the model with stateful=False, or feed the "
        "states in through initial_state)");
  }
  s.return_state = cfg.Bool("return_state", false);
  if (cfg.Bool("time_major", false)) return NotSupported("time_major=True");
  s.return_sequences = cfg.Bool("return_sequences", false);
  s.go_backwards = cfg.Bool("go_backwards", false);
  std::string act = "tanh";
  if (cfg.Has("activation")) {
    TIFFIN_ASSIGN_OR_RETURN(act, ActivationName(cfg.Get("activation")));
  }
  std::string ract = "sigmoid";
  if (cfg.Has("recurrent_activation")) {
    TIFFIN_ASSIGN_OR_RETURN(ract, ActivationName(cfg.Get("recurrent_activation")));
  }
  if (gates > 1) {
    TIFFIN_RETURN_IF_ERROR(RnnActivation(c, ract, &s));
  }
  TIFFIN_RETURN_IF_ERROR(RnnActivation(c, act, &s));
  if (gates == 4) {
    TIFFIN_RETURN_IF_ERROR(RnnActivation(c, act, &s));
  }
  const int64_t u = s.units, G = gates;
  TIFFIN_ASSIGN_OR_RETURN(Tensor k, Weight(w, "kernel", 0));
  TIFFIN_ASSIGN_OR_RETURN(Tensor rk, Weight(w, "recurrent_kernel", 1));
  if (k.rank() != 2 || k.dim(1) != G * u || (input_dim > 0 && k.dim(0) != input_dim))
    return InvalidArgument("kernel has the wrong shape for " + std::to_string(u) + " units");
  TIFFIN_RETURN_IF_ERROR(CheckShape(rk, {u, G * u}, "recurrent_kernel"));
  const int64_t in = k.dim(0);
  // Keras gate blocks -> ONNX order: LSTM i,f,c,o -> i,o,f,c; GRU z,r,h as is.
  std::vector<int64_t> blocks = G == 4   ? std::vector<int64_t>{0, 3, 1, 2}
                                : G == 3 ? std::vector<int64_t>{0, 1, 2}
                                         : std::vector<int64_t>{0};
  s.W = Tensor(DType::kFloat32, {1, G * u, in});
  s.R = Tensor(DType::kFloat32, {1, G * u, u});
  s.B = Tensor(DType::kFloat32, {1, 2 * G * u});
  for (int64_t g = 0; g < G; ++g) {
    const int64_t src = blocks[static_cast<size_t>(g)];
    for (int64_t j = 0; j < u; ++j) {
      for (int64_t i = 0; i < in; ++i)
        s.W.data<float>()[(g * u + j) * in + i] = k.data<float>()[i * G * u + src * u + j];
      for (int64_t i = 0; i < u; ++i)
        s.R.data<float>()[(g * u + j) * u + i] = rk.data<float>()[i * G * u + src * u + j];
    }
  }
  if (cfg.Bool("use_bias", true)) {
    TIFFIN_ASSIGN_OR_RETURN(Tensor bias, Weight(w, "bias", 2));
    const bool reset_after = G == 3 && cfg.Bool("reset_after", false);
    if (reset_after) {
      TIFFIN_RETURN_IF_ERROR(CheckShape(bias, {2, G * u}, "bias"));
      s.linear_before_reset = true;
    } else {
      TIFFIN_RETURN_IF_ERROR(CheckShape(bias, {G * u}, "bias"));
    }
    for (int64_t part = 0; part < (reset_after ? 2 : 1); ++part)
      for (int64_t g = 0; g < G; ++g)
        for (int64_t j = 0; j < u; ++j)
          s.B.data<float>()[part * G * u + g * u + j] =
              bias.data<float>()[part * G * u + blocks[static_cast<size_t>(g)] * u + j];
  } else if (G == 3) {
    s.linear_before_reset = cfg.Bool("reset_after", false);
  }
  return s;
}

Tensor Stack(const Tensor& a, const Tensor& b) {
  Shape s = a.shape();
  s[0] = 2;
  Tensor out(DType::kFloat32, s);
  std::copy(a.data<float>(), a.data<float>() + a.size(), out.data<float>());
  std::copy(b.data<float>(), b.data<float>() + b.size(), out.data<float>() + a.size());
  return out;
}

// The ONNX node for one or two directions; returns Y [B,T,dirs,u] and
// Y_h [B,dirs,u] (and for LSTM Y_c [B,dirs,u]). `init` holds the initial
// states when the layer is called with some: initial_h (and initial_c),
// each [dirs,B,u]. (Unused outputs are computed anyway; the Y transpose of a
// last-state-only layer costs one copy.)
std::vector<std::string> RnnNode(Ctx& c, const std::string& x, const RnnSpec& f,
                                 const RnnSpec* back, const std::string& direction,
                                 const std::vector<std::string>& init = {}) {
  Tensor W = back ? Stack(f.W, back->W) : f.W;
  Tensor R = back ? Stack(f.R, back->R) : f.R;
  Tensor B = back ? Stack(f.B, back->B) : f.B;
  std::vector<std::string> acts = f.acts;
  std::vector<float> alphas = f.alphas, betas = f.betas;
  if (back) {
    acts.insert(acts.end(), back->acts.begin(), back->acts.end());
    alphas.insert(alphas.end(), back->alphas.begin(), back->alphas.end());
    betas.insert(betas.end(), back->betas.begin(), back->betas.end());
  }
  sklearn::Attrs a = {{"hidden_size", AttrInt(f.units)},
                      {"direction", AttrString(direction)},
                      {"activations", AttrStrings(acts)}};
  if (!alphas.empty()) a.push_back({"activation_alpha", AttrFloats(alphas)});
  if (!betas.empty()) a.push_back({"activation_beta", AttrFloats(betas)});
  if (f.op == "GRU") a.push_back({"linear_before_reset", AttrInt(f.linear_before_reset ? 1 : 0)});
  // Time-major (layout 0): ONNX Runtime does not implement layout=1.
  const int outs = f.op == "LSTM" ? 3 : 2;
  const std::string xt = c.b.Op("Transpose", {x}, {{"perm", AttrInts({1, 0, 2})}});
  std::vector<std::string> ins = {xt, c.b.Const(W, "W"), c.b.Const(R, "R"), c.b.Const(B, "B")};
  if (!init.empty()) {
    ins.push_back("");  // sequence_lens
    ins.insert(ins.end(), init.begin(), init.end());
  }
  auto o = c.b.Node(f.op, ins, a, outs);
  // Y [T, dirs, B, u] -> [B, T, dirs, u]; Y_h, Y_c [dirs, B, u] -> [B, dirs, u].
  std::vector<std::string> r = {c.b.Op("Transpose", {o[0]}, {{"perm", AttrInts({2, 0, 1, 3})}})};
  for (int k = 1; k < outs; ++k)
    r.push_back(c.b.Op("Transpose", {o[static_cast<size_t>(k)]}, {{"perm", AttrInts({1, 0, 2})}}));
  return r;
}

// LSTM / GRU / SimpleRNN. Called on [x] or, with initial_state, on [x, h]
// ([x, h, c] for LSTM): tf.keras lists the states as extra inbound tensors,
// Keras 3 as the call's `initial_state` argument (keras.cc appends them).
// Outputs: the output, then with return_state=True the final states (LSTM
// [output, h, c], GRU and SimpleRNN [output, h]).
Result<std::vector<Val>> Recurrent(Ctx& c, const std::string& cls, const Cfg& cfg,
                                   const std::vector<Val>& ins, const LayerWeights& w) {
  const Val& x = ins[0];
  TIFFIN_RETURN_IF_ERROR(NeedRank(x, 3, 3, cls));
  TIFFIN_ASSIGN_OR_RETURN(RnnSpec s, ReadRnn(c, cls, cfg, w, x.shape[2]));
  const size_t n_states = cls == "LSTM" ? 2 : 1;
  std::vector<std::string> init;
  if (ins.size() > 1) {
    if (ins.size() != 1 + n_states) {
      return InvalidArgument(cls + " is called on " + std::to_string(ins.size()) +
                             " tensors: its input and " + std::to_string(n_states) +
                             " initial state" + (n_states > 1 ? "s" : "") + " expected");
    }
    for (size_t k = 1; k < ins.size(); ++k) {
      if (ins[k].rank() != 2 || (ins[k].shape[1] >= 0 && ins[k].shape[1] != s.units)) {
        return InvalidArgument("initial state " + std::to_string(k - 1) + " is not [batch, " +
                               std::to_string(s.units) + "]");
      }
      init.push_back(c.b.Op("Unsqueeze", {ins[k].name, Ints1(c, {0})}));
    }
  }
  auto o = RnnNode(c, x.name, s, nullptr, s.go_backwards ? "reverse" : "forward", init);
  std::vector<Val> out;
  if (s.return_sequences) {
    std::string y = c.b.Op("Squeeze", {o[0], Ints1(c, {2})});
    // ONNX's reverse direction aligns Y with the input's time steps; Keras
    // returns the steps in the order it processed them (last input first).
    if (s.go_backwards) {
      y = c.b.Op("Slice", {y, Ints1(c, {-1}), Ints1(c, {std::numeric_limits<int64_t>::min()}),
                           Ints1(c, {1}), Ints1(c, {-1})});
    }
    out.push_back({y, {-1, x.shape[1], s.units}});
  } else {
    out.push_back({c.b.Op("Squeeze", {o[1], Ints1(c, {1})}), {-1, s.units}});
  }
  if (s.return_state) {
    for (size_t k = 1; k < o.size(); ++k)
      out.push_back({c.b.Op("Squeeze", {o[k], Ints1(c, {1})}), {-1, s.units}});
  }
  return out;
}

// The inner layer config of a wrapper ({"class_name", "config"}).
Result<std::pair<std::string, element>> Inner(const Cfg& cfg, const char* key) {
  object o;
  if (!cfg.Has(key) || cfg.Get(key).get_object().get(o) != simdjson::SUCCESS)
    return InvalidArgument(std::string("the wrapper has no '") + key + "' layer");
  std::string_view cls;
  element inner;
  if (o["class_name"].get_string().get(cls) != simdjson::SUCCESS ||
      o["config"].get(inner) != simdjson::SUCCESS)
    return InvalidArgument(std::string("the wrapped '") + key + "' layer has no class or config");
  std::string_view module;
  if (o["module"].get_string().get(module) == simdjson::SUCCESS && module.rfind("keras", 0) != 0)
    return NotSupported("the wrapped layer comes from module '" + std::string(module) + "'");
  return std::make_pair(std::string(cls), inner);
}

// Outputs: the merged output, then with return_state=True the forward
// layer's final states and the backward layer's ([y, h_f, c_f, h_b, c_b] for
// LSTM, [y, h_f, h_b] for GRU and SimpleRNN), as Keras returns them.
// Called on [x] or, with initial_state, on [x, forward states..., backward
// states...] (Keras splits the list in halves).
Result<std::vector<Val>> Bidirectional(Ctx& c, const Cfg& cfg, const std::vector<Val>& ins,
                                       const LayerWeights& w) {
  const Val& x = ins[0];
  TIFFIN_RETURN_IF_ERROR(NeedRank(x, 3, 3, "Bidirectional"));
  TIFFIN_ASSIGN_OR_RETURN(auto inner, Inner(cfg, "layer"));
  const std::string& cls = inner.first;
  if (cls != "LSTM" && cls != "GRU" && cls != "SimpleRNN")
    return NotSupported("Bidirectional(" + cls + ")");
  if (w.values.size() % 2 != 0)
    return InvalidArgument("the two directions' weights differ in number");
  const size_t half = w.values.size() / 2;
  LayerWeights fw, bw;
  fw.values.assign(w.values.begin(), w.values.begin() + static_cast<int64_t>(half));
  bw.values.assign(w.values.begin() + static_cast<int64_t>(half), w.values.end());
  if (!w.names.empty()) {
    fw.names.assign(w.names.begin(), w.names.begin() + static_cast<int64_t>(half));
    bw.names.assign(w.names.begin() + static_cast<int64_t>(half), w.names.end());
  }
  Cfg icfg(inner.second);
  TIFFIN_ASSIGN_OR_RETURN(RnnSpec f, ReadRnn(c, cls, icfg, fw, x.shape[2]));
  element bcfg = inner.second;
  if (cfg.Has("backward_layer")) {
    TIFFIN_ASSIGN_OR_RETURN(auto binner, Inner(cfg, "backward_layer"));
    bcfg = binner.second;
  }
  TIFFIN_ASSIGN_OR_RETURN(RnnSpec b, ReadRnn(c, cls, Cfg(bcfg), bw, x.shape[2]));
  if (f.go_backwards) return NotSupported("a Bidirectional whose forward layer goes backwards");
  if (b.units != f.units) return NotSupported("the two directions have different units");
  const size_t n_states = cls == "LSTM" ? 2 : 1;
  std::vector<std::string> init;
  if (ins.size() > 1) {
    if (ins.size() != 1 + 2 * n_states) {
      return InvalidArgument("Bidirectional(" + cls + ") is called on " +
                             std::to_string(ins.size()) + " tensors: its input and " +
                             std::to_string(2 * n_states) + " initial states expected");
    }
    for (size_t k = 1; k < ins.size(); ++k) {
      if (ins[k].rank() != 2 || (ins[k].shape[1] >= 0 && ins[k].shape[1] != f.units)) {
        return InvalidArgument("initial state " + std::to_string(k - 1) + " is not [batch, " +
                               std::to_string(f.units) + "]");
      }
    }
    // ONNX wants each state as [2, B, u]: forward then backward.
    for (size_t k = 0; k < n_states; ++k) {
      init.push_back(c.b.Op("Concat",
                            {c.b.Op("Unsqueeze", {ins[1 + k].name, Ints1(c, {0})}),
                             c.b.Op("Unsqueeze", {ins[1 + n_states + k].name, Ints1(c, {0})})},
                            {{"axis", AttrInt(0)}}));
    }
  }
  auto o = RnnNode(c, x.name, f, &b, "bidirectional", init);
  // merge_mode null: the two directions' outputs, forward first.
  const bool unmerged = cfg.Find("merge_mode") && cfg.Get("merge_mode").is_null();
  const std::string mode = unmerged ? "none" : cfg.Str("merge_mode", "concat");
  const int64_t u = f.units;
  const bool seq = f.return_sequences;
  const std::string y = seq ? o[0] : o[1];  // [B,T,2,u] or [B,2,u]
  const int64_t dir_axis = seq ? 2 : 1;
  std::vector<int64_t> shape =
      seq ? std::vector<int64_t>{-1, x.shape[1]} : std::vector<int64_t>{-1};
  Val merged;
  std::vector<Val> out;
  if (mode == "none") {
    shape.push_back(u);
    for (int64_t dir = 0; dir < 2; ++dir) {
      const std::string one_dir =
          c.b.Op("Gather", {y, Ints1(c, {dir})}, {{"axis", AttrInt(dir_axis)}});
      out.push_back({c.b.Op("Squeeze", {one_dir, Ints1(c, {dir_axis})}), shape});
    }
  } else if (mode == "concat") {
    std::vector<int64_t> target =
        seq ? std::vector<int64_t>{0, 0, 2 * u} : std::vector<int64_t>{0, 2 * u};
    shape.push_back(2 * u);
    merged = {c.b.Op("Reshape", {y, Ints1(c, target)}), shape};
  } else if (mode == "sum" || mode == "ave" || mode == "mul") {
    shape.push_back(u);
    const std::string op = mode == "sum"   ? "ReduceSum"
                           : mode == "ave" ? "ReduceMean"
                                           : "ReduceProd";
    if (op == "ReduceSum") {
      merged = {c.b.Op(op, {y, Ints1(c, {dir_axis})}, {{"keepdims", AttrInt(0)}}), shape};
    } else {
      merged = {c.b.Op(op, {y}, {{"axes", AttrInts({dir_axis})}, {"keepdims", AttrInt(0)}}), shape};
    }
  } else {
    return NotSupported("merge_mode '" + mode + "' (concat, sum, ave, mul and None are read)");
  }
  if (mode != "none") out.push_back(merged);
  if (f.return_state) {
    // Y_h and Y_c are [B, 2, u]: direction 0 forward, 1 backward.
    for (int64_t dir = 0; dir < 2; ++dir) {
      for (size_t k = 1; k < o.size(); ++k) {
        const std::string one_dir =
            c.b.Op("Gather", {o[k], Ints1(c, {dir})}, {{"axis", AttrInt(1)}});
        out.push_back({c.b.Op("Squeeze", {one_dir, Ints1(c, {1})}), {-1, u}});
      }
    }
  }
  return out;
}

}  // namespace

Result<std::vector<Val>> Converter::Apply(const std::string& cls, const std::string& name,
                                          element config, const std::vector<Val>& ins,
                                          const LayerWeights& w) {
  Ctx c{b_, keras_major_, &notes_};
  Cfg cfg(config);
  auto& b = b_;
  // Nodes and weights are named after the layer ("dense_1/MatMul_3"), so
  // that tiffin diff names the layer that changed.
  auto scope = b.Scope(name);
  auto one = [&](Result<Val> v) -> Result<std::vector<Val>> {
    if (!v.ok()) return v.status();
    return std::vector<Val>{*v};
  };
  static const char* kRefused[] = {"Lambda", "TFOpLambda", "SlicingOpLambda", "CustomLayer"};
  for (const char* r : kRefused) {
    if (cls == r) {
      return NotSupported("layer '" + name + "' is a " + cls +
                          " layer, which holds Python code; tiffin never runs code from a file "
                          "(rebuild the model from built-in layers)");
    }
  }
  if (cls == "Sequential" || cls == "Functional" || cls == "Model") {
    return Internal("nested model '" + name + "' reached the layer converter");
  }
  const bool merge = cls == "Add" || cls == "Subtract" || cls == "Multiply" || cls == "Average" ||
                     cls == "Maximum" || cls == "Minimum" || cls == "Concatenate";
  if (merge) {
    if (ins.size() < 2 || (cls == "Subtract" && ins.size() != 2)) {
      return InvalidArgument(cls + " takes " + (cls == "Subtract" ? "2" : "at least 2") +
                             " inputs, got " + std::to_string(ins.size()));
    }
    for (const auto& v : ins)
      if (v.rank() != ins[0].rank()) return InvalidArgument(cls + " inputs differ in rank");
    std::vector<std::string> names;
    for (const auto& v : ins) names.push_back(v.name);
    if (cls == "Concatenate") {
      const int64_t axis = NormAxis(cfg.Int("axis", -1), ins[0].rank());
      if (axis < 1 || axis >= ins[0].rank())
        return InvalidArgument("Concatenate axis out of range");
      std::vector<int64_t> s = ins[0].shape;
      for (size_t i = 1; i < ins.size(); ++i) {
        const int64_t d = ins[i].shape[static_cast<size_t>(axis)];
        s[static_cast<size_t>(axis)] =
            (s[static_cast<size_t>(axis)] < 0 || d < 0) ? -1 : s[static_cast<size_t>(axis)] + d;
      }
      return std::vector<Val>{{b.Op("Concat", names, {{"axis", AttrInt(axis)}}), s}};
    }
    if (cls == "Subtract") return std::vector<Val>{{b.Op("Sub", names), ins[0].shape}};
    if (cls == "Maximum") return std::vector<Val>{{b.Op("Max", names), ins[0].shape}};
    if (cls == "Minimum") return std::vector<Val>{{b.Op("Min", names), ins[0].shape}};
    if (cls == "Average") {
      std::string s = b.Op("Sum", names);
      return std::vector<Val>{
          {b.Op("Div", {s, ScalarF(c, static_cast<float>(ins.size()))}), ins[0].shape}};
    }
    std::string y = names[0];
    for (size_t i = 1; i < names.size(); ++i) y = b.Op(cls == "Add" ? "Add" : "Mul", {y, names[i]});
    return std::vector<Val>{{y, ins[0].shape}};
  }
  const bool uses_mask = cls == "LSTM" || cls == "GRU" || cls == "SimpleRNN" ||
                         cls == "Bidirectional" || cls == "GlobalAveragePooling1D" ||
                         cls == "GlobalAvgPool1D";
  if (uses_mask && !masked_by_.empty()) {
    return NotSupported("Keras skips the steps that Embedding '" + masked_by_ +
                        "' masks (mask_zero=True); tiffin does not apply Keras masks, so its "
                        "results would differ on padded sequences (rebuild the model without "
                        "mask_zero, or export it to ONNX with tf2onnx)");
  }
  if ((cls == "LSTM" || cls == "GRU" || cls == "SimpleRNN") && !ins.empty())
    return Recurrent(c, cls, cfg, ins, w);
  if (cls == "Bidirectional" && !ins.empty()) return Bidirectional(c, cfg, ins, w);
  if (ins.size() != 1) {
    return NotSupported(cls + " is called on " + std::to_string(ins.size()) +
                        " tensors; tiffin reads it with one input");
  }
  const Val& x = ins[0];
  if (cls == "Dense") {
    TIFFIN_ASSIGN_OR_RETURN(Tensor k, Weight(w, "kernel", 0));
    if (k.rank() != 2 || (x.shape.back() > 0 && k.dim(0) != x.shape.back())) {
      return InvalidArgument("the kernel does not take " + std::to_string(x.shape.back()) +
                             " inputs");
    }
    Tensor bias;
    if (cfg.Bool("use_bias", true)) {
      TIFFIN_ASSIGN_OR_RETURN(bias, Weight(w, "bias", 1));
      TIFFIN_RETURN_IF_ERROR(CheckShape(bias, {k.dim(1)}, "bias"));
    }
    std::string y = b.MatMulAdd(x.name, k, bias.defined() ? &bias : nullptr);
    TIFFIN_ASSIGN_OR_RETURN(y, ActivateCfg(c, cfg, y));
    std::vector<int64_t> s = x.shape;
    s.back() = k.dim(1);
    return std::vector<Val>{{y, s}};
  }
  if (cls == "Activation") {
    TIFFIN_ASSIGN_OR_RETURN(std::string y, ActivateCfg(c, cfg, x.name));
    return std::vector<Val>{{y, x.shape}};
  }
  if (cls == "Dropout" || cls == "SpatialDropout1D" || cls == "SpatialDropout2D" ||
      cls == "SpatialDropout3D" || cls == "GaussianNoise" || cls == "GaussianDropout" ||
      cls == "AlphaDropout" || cls == "ActivityRegularization" || cls == "InputLayer") {
    return std::vector<Val>{x};  // identity at inference
  }
  if (cls == "Flatten") {
    TIFFIN_ASSIGN_OR_RETURN(const bool cf, ChannelsFirst(cfg));
    int64_t n = 1;
    for (size_t i = 1; i < x.shape.size(); ++i) n = (n < 0 || x.shape[i] < 0) ? -1 : n * x.shape[i];
    // channels_first: Keras flattens the channels_last transpose.
    const std::string in = cf && x.rank() > 2 ? ToChannelsLast(c, x.name, x.rank()) : x.name;
    return std::vector<Val>{{b.Op("Flatten", {in}, {{"axis", AttrInt(1)}}), {-1, n}}};
  }
  if (cls == "Reshape") {
    TIFFIN_ASSIGN_OR_RETURN(auto target, cfg.Ints("target_shape"));
    if (target.empty() || target.size() > 8)
      return InvalidArgument("target_shape is missing or too long");
    int64_t known = 1, free = 0;
    for (int64_t d : target) {
      if (d == -1)
        ++free;
      else if (d < 1 || d > kMaxDim)
        return InvalidArgument("target_shape has dimension " + std::to_string(d));
      else
        known *= d;
      if (known > kMaxDim) return InvalidArgument("target_shape is absurdly large");
    }
    if (free > 1) return InvalidArgument("target_shape has more than one -1");
    std::vector<int64_t> s = {0};
    s.insert(s.end(), target.begin(), target.end());
    std::vector<int64_t> shape = s;
    shape[0] = -1;
    int64_t total = 1;
    for (size_t i = 1; i < x.shape.size(); ++i)
      total = (total < 0 || x.shape[i] < 0) ? -1 : total * x.shape[i];
    if (total > 0 && free == 0 && total != known)
      return InvalidArgument("target_shape holds " + std::to_string(known) +
                             " values per row, the input " + std::to_string(total));
    if (free == 1)
      for (auto& d : shape)
        if (d == -1 && &d != &shape[0]) d = total > 0 ? total / known : -1;
    return std::vector<Val>{{b.Op("Reshape", {x.name, Ints1(c, s)}), shape}};
  }
  if (cls == "Permute") {
    TIFFIN_ASSIGN_OR_RETURN(auto dims, cfg.Ints("dims"));
    if (static_cast<int64_t>(dims.size()) != x.rank() - 1)
      return InvalidArgument("dims does not cover the input's axes");
    std::vector<int64_t> perm = {0};
    std::vector<int64_t> shape = {-1};
    std::vector<bool> used(dims.size() + 1, false);
    for (int64_t d : dims) {
      if (d < 1 || d > static_cast<int64_t>(dims.size()) || used[static_cast<size_t>(d)])
        return InvalidArgument("dims is not a permutation of 1..rank");
      used[static_cast<size_t>(d)] = true;
      perm.push_back(d);
      shape.push_back(x.shape[static_cast<size_t>(d)]);
    }
    return std::vector<Val>{{b.Op("Transpose", {x.name}, {{"perm", AttrInts(perm)}}), shape}};
  }
  if (cls == "RepeatVector") {
    TIFFIN_RETURN_IF_ERROR(NeedRank(x, 2, 2, "RepeatVector"));
    const int64_t n = cfg.Int("n", 0);
    if (n < 1 || n > kMaxDim) return InvalidArgument("n is " + std::to_string(n));
    std::string y = b.Op("Tile", {b.Unsqueeze1(x.name), Ints1(c, {1, n, 1})});
    return std::vector<Val>{{y, {-1, n, x.shape[1]}}};
  }
  if (cls == "Embedding") {
    TIFFIN_ASSIGN_OR_RETURN(Tensor e, Weight(w, "embeddings", 0));
    if (e.rank() != 2) return InvalidArgument("embeddings is not a matrix");
    // A mask changes only the layers that consume it (recurrent layers and
    // the 1-D global average); those refuse below. Others ignore it in Keras too.
    if (cfg.Bool("mask_zero", false)) masked_by_ = name;
    std::string idx = x.dtype == DType::kInt64 ? x.name : b.Cast(x.name, DType::kInt64);
    std::vector<int64_t> s = x.shape;
    s.push_back(e.dim(1));
    return std::vector<Val>{
        {b.Op("Gather", {b.Const(e, "embeddings"), idx}, {{"axis", AttrInt(0)}}), s}};
  }
  if (cls == "Conv1D" || cls == "Convolution1D") return one(Conv(c, cfg, x, w, 1));
  if (cls == "Conv2D" || cls == "Convolution2D") return one(Conv(c, cfg, x, w, 2));
  if (cls == "Conv3D" || cls == "Convolution3D") return one(Conv(c, cfg, x, w, 3));
  if (cls == "DepthwiseConv2D") return one(DepthwiseConv(c, cfg, x, w, 2, false));
  if (cls == "DepthwiseConv1D") return one(DepthwiseConv(c, cfg, x, w, 1, false));
  if (cls == "SeparableConv2D" || cls == "SeparableConvolution2D")
    return one(DepthwiseConv(c, cfg, x, w, 2, true));
  if (cls == "SeparableConv1D" || cls == "SeparableConvolution1D")
    return one(DepthwiseConv(c, cfg, x, w, 1, true));
  if (cls == "Conv2DTranspose" || cls == "Convolution2DTranspose")
    return one(ConvTranspose(c, cfg, x, w, 2));
  if (cls == "Conv1DTranspose" || cls == "Convolution1DTranspose")
    return one(ConvTranspose(c, cfg, x, w, 1));
  if (cls == "MaxPooling1D" || cls == "MaxPool1D") return one(Pool(c, cfg, x, 1, true));
  if (cls == "MaxPooling2D" || cls == "MaxPool2D") return one(Pool(c, cfg, x, 2, true));
  if (cls == "MaxPooling3D" || cls == "MaxPool3D") return one(Pool(c, cfg, x, 3, true));
  if (cls == "AveragePooling1D" || cls == "AvgPool1D") return one(Pool(c, cfg, x, 1, false));
  if (cls == "AveragePooling2D" || cls == "AvgPool2D") return one(Pool(c, cfg, x, 2, false));
  if (cls == "AveragePooling3D" || cls == "AvgPool3D") return one(Pool(c, cfg, x, 3, false));
  if (cls.rfind("GlobalAveragePooling", 0) == 0 || cls.rfind("GlobalAvgPool", 0) == 0)
    return one(GlobalPool(c, cfg, x, false));
  if (cls.rfind("GlobalMaxPooling", 0) == 0 || cls.rfind("GlobalMaxPool", 0) == 0)
    return one(GlobalPool(c, cfg, x, true));
  if (cls == "BatchNormalization") return one(BatchNorm(c, cfg, x, w));
  if (cls == "LayerNormalization") return one(LayerNorm(c, cfg, x, w));
  if (cls == "ReLU") {
    const float neg = static_cast<float>(cfg.Num("negative_slope", 0.0));
    const float thr = static_cast<float>(cfg.Num("threshold", 0.0));
    std::string y;
    if (thr == 0.0f && neg == 0.0f) {
      y = b.Op("Relu", {x.name});
    } else if (thr == 0.0f) {
      y = b.Op("LeakyRelu", {x.name}, {{"alpha", AttrFloat(neg)}});
    } else {
      // x >= threshold ? x : negative_slope * (x - threshold)
      std::string below = b.Op("Mul", {b.Op("Sub", {x.name, ScalarF(c, thr)}), ScalarF(c, neg)});
      y = b.Op("Where", {b.Op("GreaterOrEqual", {x.name, ScalarF(c, thr)}), x.name, below});
    }
    if (cfg.Has("max_value"))
      y = b.Op("Min", {y, ScalarF(c, static_cast<float>(cfg.Num("max_value", 0)))});
    return std::vector<Val>{{y, x.shape}};
  }
  if (cls == "LeakyReLU") {
    const double a =
        cfg.Has("negative_slope") ? cfg.Num("negative_slope", 0.3) : cfg.Num("alpha", 0.3);
    return std::vector<Val>{
        {b.Op("LeakyRelu", {x.name}, {{"alpha", AttrFloat(static_cast<float>(a))}}), x.shape}};
  }
  if (cls == "ELU") {
    return std::vector<Val>{
        {b.Op("Elu", {x.name}, {{"alpha", AttrFloat(static_cast<float>(cfg.Num("alpha", 1.0)))}}),
         x.shape}};
  }
  if (cls == "ThresholdedReLU") {
    return std::vector<Val>{
        {b.Op("ThresholdedRelu", {x.name},
              {{"alpha", AttrFloat(static_cast<float>(cfg.Num("theta", 1.0)))}}),
         x.shape}};
  }
  if (cls == "PReLU") {
    TIFFIN_ASSIGN_OR_RETURN(Tensor alpha, Weight(w, "alpha", 0));
    if (alpha.rank() > x.rank() - 1)
      return InvalidArgument("alpha has a higher rank than the input");
    return std::vector<Val>{{b.Op("PRelu", {x.name, b.Const(alpha, "alpha")}), x.shape}};
  }
  if (cls == "Softmax") {
    TIFFIN_ASSIGN_OR_RETURN(auto axes, cfg.Ints("axis"));
    if (axes.size() > 1) return NotSupported("Softmax over several axes");
    const int64_t axis = axes.empty() ? -1 : axes[0];
    return std::vector<Val>{{b.Op("Softmax", {x.name}, {{"axis", AttrInt(axis)}}), x.shape}};
  }
  if (cls == "ZeroPadding1D" || cls == "ZeroPadding2D" || cls == "ZeroPadding3D") {
    TIFFIN_ASSIGN_OR_RETURN(const bool cf, ChannelsFirst(cfg));
    const size_t off = cf ? 2 : 1;  // the first spatial axis
    const size_t nsp = static_cast<size_t>(cls[11] - '0');
    TIFFIN_RETURN_IF_ERROR(
        NeedRank(x, static_cast<int64_t>(nsp) + 2, static_cast<int64_t>(nsp) + 2, cls));
    TIFFIN_ASSIGN_OR_RETURN(auto p, Amounts(cfg, "padding", nsp, 1));
    std::vector<int64_t> pads(2 * static_cast<size_t>(x.rank()), 0);
    std::vector<int64_t> s = x.shape;
    for (size_t i = 0; i < nsp; ++i) {
      pads[i + off] = p[i].first;
      pads[static_cast<size_t>(x.rank()) + i + off] = p[i].second;
      if (s[i + off] >= 0) s[i + off] += p[i].first + p[i].second;
    }
    return std::vector<Val>{{b.Op("Pad", {x.name, Ints1(c, pads)}), s}};
  }
  if (cls == "Cropping1D" || cls == "Cropping2D" || cls == "Cropping3D") {
    TIFFIN_ASSIGN_OR_RETURN(const bool cf, ChannelsFirst(cfg));
    const size_t off = cf ? 2 : 1;  // the first spatial axis
    const size_t nsp = static_cast<size_t>(cls[8] - '0');
    TIFFIN_RETURN_IF_ERROR(
        NeedRank(x, static_cast<int64_t>(nsp) + 2, static_cast<int64_t>(nsp) + 2, cls));
    TIFFIN_ASSIGN_OR_RETURN(auto p, Amounts(cfg, "cropping", nsp, 1));
    std::vector<int64_t> starts, ends, axes;
    std::vector<int64_t> s = x.shape;
    for (size_t i = 0; i < nsp; ++i) {
      starts.push_back(p[i].first);
      ends.push_back(p[i].second == 0 ? std::numeric_limits<int64_t>::max() : -p[i].second);
      axes.push_back(static_cast<int64_t>(i + off));
      if (s[i + off] >= 0) {
        s[i + off] -= p[i].first + p[i].second;
        if (s[i + off] <= 0) return InvalidArgument("cropping removes the whole axis");
      }
    }
    return std::vector<Val>{
        {b.Op("Slice", {x.name, Ints1(c, starts), Ints1(c, ends), Ints1(c, axes)}), s}};
  }
  if (cls == "UpSampling1D" || cls == "UpSampling2D" || cls == "UpSampling3D") {
    TIFFIN_ASSIGN_OR_RETURN(const bool cf, ChannelsFirst(cfg));
    const size_t off = cf ? 2 : 1;  // the first spatial axis
    const size_t nsp = static_cast<size_t>(cls[10] - '0');
    TIFFIN_RETURN_IF_ERROR(
        NeedRank(x, static_cast<int64_t>(nsp) + 2, static_cast<int64_t>(nsp) + 2, cls));
    TIFFIN_ASSIGN_OR_RETURN(auto sz, cfg.Ints(nsp == 1 ? "size" : "size"));
    TIFFIN_ASSIGN_OR_RETURN(sz, Spread(sz, nsp, "size", 2));
    const std::string interp = cfg.Str("interpolation", "nearest");
    std::vector<float> scales(static_cast<size_t>(x.rank()), 1.0f);
    std::vector<int64_t> s = x.shape;
    for (size_t i = 0; i < nsp; ++i) {
      if (sz[i] < 1 || sz[i] > 4096) return InvalidArgument("size is " + std::to_string(sz[i]));
      scales[i + off] = static_cast<float>(sz[i]);
      if (s[i + off] >= 0) s[i + off] *= sz[i];
    }
    sklearn::Attrs a;
    if (interp == "nearest") {
      a = {{"mode", AttrString("nearest")},
           {"coordinate_transformation_mode", AttrString("asymmetric")},
           {"nearest_mode", AttrString("floor")}};
    } else if (interp == "bilinear" && nsp == 2) {
      // TF2's resize uses half-pixel centres.
      a = {{"mode", AttrString("linear")},
           {"coordinate_transformation_mode", AttrString("half_pixel")}};
      notes_.push_back("UpSampling2D '" + name +
                       "' is bilinear: computed with half-pixel centres (TF 2)");
    } else {
      return NotSupported("interpolation '" + interp + "'");
    }
    std::string y = b.Op("Resize", {x.name, "", ConstF(c, scales, {x.rank()}, "scales")}, a);
    return std::vector<Val>{{y, s}};
  }
  if (cls == "Rescaling") {
    auto vec = [&](const char* k, double def) -> Result<std::vector<float>> {
      std::vector<float> out;
      element e = cfg.Get(k);
      double d;
      array a;
      if (!cfg.Has(k)) return std::vector<float>{static_cast<float>(def)};
      if (e.get_double().get(d) == simdjson::SUCCESS)
        return std::vector<float>{static_cast<float>(d)};
      if (e.get_array().get(a) == simdjson::SUCCESS) {
        for (element v : a) {
          if (v.get_double().get(d) != simdjson::SUCCESS || out.size() > 65536)
            return InvalidArgument(std::string("'") + k + "' is not a list of numbers");
          out.push_back(static_cast<float>(d));
        }
        return out;
      }
      return InvalidArgument(std::string("'") + k + "' is not a number");
    };
    TIFFIN_ASSIGN_OR_RETURN(auto scale, vec("scale", 1.0));
    TIFFIN_ASSIGN_OR_RETURN(auto offset, vec("offset", 0.0));
    const int64_t ns = static_cast<int64_t>(scale.size()), no = static_cast<int64_t>(offset.size());
    std::string y = b.Op("Mul", {x.name, ConstF(c, scale, ns == 1 ? Shape{} : Shape{ns}, "scale")});
    y = b.Op("Add", {y, ConstF(c, offset, no == 1 ? Shape{} : Shape{no}, "offset")});
    return std::vector<Val>{{y, x.shape}};
  }
  if (cls == "Normalization") return one(Normalization(c, cfg, x, w));
  if (cls == "CuDNNLSTM" || cls == "CuDNNGRU")
    return NotSupported(cls + " (its weight layout differs from LSTM/GRU's)");

  if (cls == "TimeDistributed") {
    TIFFIN_ASSIGN_OR_RETURN(auto inner, Inner(cfg, "layer"));
    const std::string& icls = inner.first;
    // Layers that act on the last axis only give the same result on the
    // whole [B, T, ...] tensor.
    if (icls == "Dense" || icls == "Activation" || icls == "Dropout" || icls == "ReLU" ||
        icls == "LeakyReLU" || icls == "ELU" || icls == "Softmax") {
      return Apply(icls, name, inner.second, ins, w);
    }
    // Any other layer sees each time step as a sample: [B, T, rest...] is
    // reshaped to [B*T, rest...], the layer runs once, and its output
    // [B*T, out...] goes back to [B, T, out...] (B and T from the input's
    // runtime shape, so both may vary).
    TIFFIN_RETURN_IF_ERROR(NeedRank(x, 3, 6, "TimeDistributed"));
    std::vector<int64_t> merged = {-1};
    for (size_t i = 2; i < x.shape.size(); ++i) {
      if (x.shape[i] < 0) {
        return NotSupported("TimeDistributed(" + icls +
                            ") over a step shape with an unknown dimension");
      }
      merged.push_back(x.shape[i]);
    }
    Val step{b.Op("Reshape", {x.name, Ints1(c, merged)}), merged, x.dtype};
    TIFFIN_ASSIGN_OR_RETURN(std::vector<Val> r, Apply(icls, name, inner.second, {step}, w));
    if (r.size() != 1) return NotSupported("TimeDistributed(" + icls + ") with several outputs");
    std::vector<int64_t> rest(r[0].shape.begin() + 1, r[0].shape.end());
    for (int64_t d : rest) {
      if (d < 0) return NotSupported("TimeDistributed(" + icls + ") with an unknown output size");
    }
    const std::string bt = b.Op("Slice", {b.Op("Shape", {x.name}), Ints1(c, {0}), Ints1(c, {2})});
    const std::string target = b.Concat({bt, Ints1(c, rest)}, 0);
    std::vector<int64_t> shape = {-1, x.shape[1]};
    shape.insert(shape.end(), rest.begin(), rest.end());
    return std::vector<Val>{{b.Op("Reshape", {r[0].name, target}), shape, r[0].dtype}};
  }
  if (cls == "Masking") {
    return NotSupported(
        "Masking: its mask makes later layers (RNNs, pools) skip time steps, and tiffin does not "
        "carry masks between layers (remove the Masking layer, or export the model to ONNX)");
  }
  return NotSupported("class '" + cls +
                      "' is not a built-in Keras layer tiffin reads; custom classes are never "
                      "run (rebuild the layer from built-in ones, or export the model to ONNX)");
}

}  // namespace tiffin::keras
