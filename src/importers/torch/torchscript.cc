#include "importers/torch/torchscript.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include "importers/sklearn/graph_builder.h"
#include "importers/torch/torchscript_source.h"
#include "io/zip_reader.h"

namespace tiffin::torch_import {
namespace {

constexpr const char* kExportAdvice =
    "export the model with torch.onnx.export (or save its state_dict and compare it with "
    "'tiffin diff')";

constexpr const char* kSupported =
    "tiffin converts only nn.Sequential (nested ones too) of Linear, Conv1d, Conv2d, "
    "ConvTranspose2d, "
    "BatchNorm1d, BatchNorm2d, LayerNorm, MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, "
    "AdaptiveAvgPool1d/2d to size 1, Flatten, Unflatten, Embedding, Identity, eval-mode Dropout "
    "and the activations ReLU, ReLU6, LeakyReLU, PReLU, ELU, GELU, SiLU, Mish, Sigmoid, Tanh, "
    "Hardtanh, Hardswish, Hardsigmoid, Softplus, Softsign, Softmax and LogSoftmax";

// "__torch__.torch.nn.modules.linear.___torch_mangle_3.Linear" ->
// "torch.nn.modules.linear.Linear": the standard class a TorchScript class
// name stands for.
std::string StandardClass(const std::string& cls) {
  std::string out;
  size_t start = 0;
  while (start <= cls.size()) {
    size_t dot = cls.find('.', start);
    if (dot == std::string::npos) dot = cls.size();
    const std::string part = cls.substr(start, dot - start);
    if (part != "__torch__" && part.rfind("___torch_mangle_", 0) != 0)
      out += (out.empty() ? "" : ".") + part;
    start = dot + 1;
  }
  return out;
}

std::string ShortName(const std::string& std_cls) { return std_cls.substr(std_cls.rfind('.') + 1); }

// One way torch 1.13 prints a standard module: its methods (forward first)
// with {a}/{args} where the printer inlined the module's constants, and the
// form's name, which says how to convert it.
struct Method {
  std::string name;
  std::string signature;  // CLS stands for the class
  std::vector<std::string> body;
};
struct Form {
  std::string cls;  // standard class
  std::string kind;
  std::vector<Method> methods;
};

Method Forward(std::vector<std::string> body) {
  return {"forward", "def forward(self: CLS,input: Tensor) -> Tensor:", std::move(body)};
}

// ConvTranspose2d._output_padding as torch prints it.
const Method& OutputPadding() {
  static const Method kMethod = [] {
    struct Generated {
      const char* name;
      const char* signature;
      std::vector<std::string> body;
    };
    const Generated g[] = {
#include "importers/torch/torchscript_methods.inc"
    };
    return Method{g[0].name, g[0].signature, g[0].body};
  }();
  return kMethod;
}

const std::vector<Form>& Forms() {
  static const std::string M = "torch.nn.modules.";
  static const std::string F = "__torch__.torch.nn.functional.";
  static const Method conv_forward =
      Forward({"weight = self.weight", "bias = self.bias",
               "_0 = (self)._conv_forward(input, weight, bias, )", "return _0"});
  static const auto conv = [](const std::string& fn) {
    return Method{"_conv_forward",
                  "def _conv_forward(self: CLS,input: Tensor,weight: Tensor,bias: "
                  "Optional[Tensor]) -> Tensor:",
                  {"_1 = torch." + fn + "(input, weight, bias, {args})", "return _1"}};
  };
  static const Method bn_forward = Forward({
      "_0 = " + F + "batch_norm",
      "_1 = (self)._check_input_dim(input, )",
      "training = self.training",
      "if training:",
      "  num_batches_tracked = self.num_batches_tracked",
      "  _2 = torch.add_(num_batches_tracked, 1)",
      "else:",
      "  pass",
      "training0 = self.training",
      "if training0:",
      "  bn_training = True",
      "else:",
      "  bn_training = False",
      "running_mean = self.running_mean",
      "running_var = self.running_var",
      "weight = self.weight",
      "bias = self.bias",
      "_3 = _0(input, running_mean, running_var, weight, bias, bn_training, {args})",
      "return _3",
  });
  static const char* kCheckSig = "def _check_input_dim(self: CLS,input: Tensor) -> NoneType:";
  static const std::vector<Form> kForms = {
      {M + "linear.Linear",
       "linear",
       {Forward({"weight = self.weight", "bias = self.bias",
                 "return torch.linear(input, weight, bias)"})}},
      {M + "linear.Identity", "identity", {Forward({"return input"})}},
      {M + "flatten.Flatten", "flatten", {Forward({"return torch.flatten(input{args})"})}},
      {M + "flatten.Unflatten", "unflatten", {Forward({"return torch.unflatten(input, {args})"})}},
      {M + "activation.ReLU", "relu", {Forward({"_0 = " + F + "relu(input, {a}, )", "return _0"})}},
      {M + "activation.Sigmoid", "sigmoid", {Forward({"return torch.sigmoid(input)"})}},
      {M + "activation.Tanh", "tanh", {Forward({"return torch.tanh(input)"})}},
      {M + "activation.LeakyReLU",
       "leaky_relu",
       {Forward({"_0 = " + F + "leaky_relu", "_1 = _0(input, {a}, {a}, )", "return _1"})}},
      {M + "activation.ELU",
       "elu",
       {Forward({"_0 = " + F + "elu(input, {a}, {a}, )", "return _0"})}},
      {M + "activation.Softmax",
       "softmax",
       {Forward({"_0 = " + F + "softmax", "return _0(input, {a}, 5, None, )"})}},
      {M + "activation.LogSoftmax",
       "log_softmax",
       {Forward({"_0 = " + F + "log_softmax", "return _0(input, {a}, 5, None, )"})}},
      {M + "dropout.Dropout",
       "dropout",
       {Forward({"_0 = " + F + "dropout", "training = self.training",
                 "_1 = _0(input, {a}, training, {a}, )", "return _1"})}},
      {M + "activation.GELU", "gelu", {Forward({"return torch.gelu(input)"})}},
      {M + "activation.GELU", "gelu", {Forward({"_0 = torch.gelu(input, {a})", "return _0"})}},
      {M + "activation.SiLU", "silu", {Forward({"_0 = " + F + "silu(input, {a}, )", "return _0"})}},
      {M + "activation.Mish", "mish", {Forward({"_0 = " + F + "mish(input, {a}, )", "return _0"})}},
      {M + "activation.Softplus", "softplus", {Forward({"return torch.softplus(input{args})"})}},
      {M + "activation.Hardtanh",
       "hardtanh",
       {Forward({"_0 = " + F + "hardtanh", "return _0(input, {a}, {a}, {a}, )"})}},
      {M + "activation.ReLU6",
       "hardtanh",
       {Forward({"_0 = " + F + "hardtanh", "return _0(input, {a}, {a}, {a}, )"})}},
      {M + "activation.Hardswish",
       "hardswish",
       {Forward({"_0 = " + F + "hardswish", "return _0(input, {a}, )"})}},
      {M + "activation.Hardsigmoid",
       "hardsigmoid",
       {Forward({"_0 = " + F + "hardsigmoid", "return _0(input, {a}, )"})}},
      {M + "activation.Softsign",
       "softsign",
       {Forward({"_0 = " + F + "softsign", "return _0(input, )"})}},
      {M + "activation.PReLU",
       "prelu",
       {Forward({"weight = self.weight", "return torch.prelu(input, weight)"})}},
      {M + "conv.Conv1d", "conv1d", {conv_forward, conv("conv1d")}},
      {M + "conv.Conv2d", "conv2d", {conv_forward, conv("conv2d")}},
      {M + "conv.ConvTranspose2d",
       "conv_transpose2d",
       {{"forward",
         "def forward(self: CLS,input: Tensor,output_size: Optional[List[int]]=None) -> Tensor:",
         {"output_padding = (self)._output_padding(input, output_size, {a}, {a}, {a}, 2, {a}, )",
          "weight = self.weight", "bias = self.bias",
          "_0 = torch.conv_transpose2d(input, weight, bias, {a}, {a}, output_padding, {a}, {a})",
          "return _0"}},
        OutputPadding()}},
      {M + "batchnorm.BatchNorm2d",
       "batch_norm2d",
       {bn_forward,
        {"_check_input_dim",
         kCheckSig,
         {"if torch.ne(torch.dim(input), 4):",
          "  _4 = torch.format(\"expected 4D input (got {}D input)\", torch.dim(input))",
          "  ops.prim.RaiseException(_4, \"builtins.ValueError\")", "else:", "  pass",
          "return None"}}}},
      {M + "batchnorm.BatchNorm1d",
       "batch_norm1d",
       {bn_forward,
        {"_check_input_dim",
         kCheckSig,
         {"_9 = \"expected 2D or 3D input (got {}D input)\"",
          "if torch.ne(torch.dim(input), 2):", "  _10 = torch.ne(torch.dim(input), 3)",
          "else:", "  _10 = False", "if _10:", "  _11 = torch.format(_9, torch.dim(input))",
          "  ops.prim.RaiseException(_11, \"builtins.ValueError\")", "else:", "  pass",
          "return None"}}}},
      {M + "normalization.LayerNorm",
       "layer_norm",
       {Forward({"_0 = " + F + "layer_norm", "weight = self.weight", "bias = self.bias",
                 "_1 = _0(input, {a}, weight, bias, {a}, )", "return _1"})}},
      {M + "pooling.MaxPool1d",
       "max_pool1d",
       {Forward({"_0 = " + F + "_max_pool1d", "_1 = _0(input, {args})", "return _1"})}},
      {M + "pooling.MaxPool2d",
       "max_pool2d",
       {Forward({"_0 = " + F + "_max_pool2d", "_1 = _0(input, {args})", "return _1"})}},
      {M + "pooling.AvgPool1d",
       "avg_pool1d",
       {Forward({"_0 = torch.avg_pool1d(input, {args})", "return _0"})}},
      {M + "pooling.AvgPool2d",
       "avg_pool2d",
       {Forward({"_0 = torch.avg_pool2d(input, {args})", "return _0"})}},
      {M + "pooling.AdaptiveAvgPool1d",
       "adaptive_avg_pool1d",
       {Forward({"_0 = torch.adaptive_avg_pool1d(input, {a})", "return _0"})}},
      {M + "pooling.AdaptiveAvgPool2d",
       "adaptive_avg_pool2d",
       {Forward({"_0 = " + F + "adaptive_avg_pool2d", "return _0(input, {a}, )"})}},
      {M + "sparse.Embedding",
       "embedding",
       {Forward({"_0 = " + F + "embedding", "weight = self.weight",
                 "_1 = _0(input, weight, {args})", "return _1"})}},
  };
  return kForms;
}

std::string Quote(const std::vector<std::string>& body) {
  std::string s;
  for (const auto& l : body) s += (s.empty() ? "" : " | ") + l;
  return s.size() > 300 ? s.substr(0, 300) + "..." : s;
}

// The forward torch prints for a Sequential of `n` children named 0..n-1;
// children whose forward takes an optional output_size get None.
std::vector<std::string> SequentialForward(size_t n, const std::vector<bool>& output_size) {
  std::vector<std::string> body;
  for (size_t i = 0; i < n; ++i)
    body.push_back("_" + std::to_string(i) + " = getattr(self, \"" + std::to_string(i) + "\")");
  std::string prev = "input";
  for (size_t i = 0; i < n; ++i) {
    const std::string call =
        "(_" + std::to_string(i) + ").forward(" + prev + (output_size[i] ? ", None, )" : ", )");
    if (i + 1 == n) {
      body.push_back("return " + call);
    } else {
      const std::string var = "input" + std::to_string(i);
      body.push_back(var + " = " + call);
      prev = var;
    }
  }
  return body;
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

// A leaf module of the Sequential, recognised.
struct Leaf {
  const TorchModule* module = nullptr;
  const Form* form = nullptr;
  std::vector<std::vector<Literal>> args;  // per placeholder
};

// The value flowing through the Sequential: its name and what is known of
// its shape (unknown dims are -1).
struct Value {
  std::string name;
  std::vector<Dim> shape;
  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
};

class Converter {
 public:
  Converter(const TorchArchive& state, SourceReader* src) : src_(src) {
    for (const auto& t : state.tensors) tensors_[t.name] = &t;
    for (const auto& v : state.scalars) scalars_[v.name] = v.value;
    for (const auto& m : state.modules) modules_[m.path] = &m;
  }

  // Walks the Sequential at `path` (checking its forward) into leaves_.
  Status Collect(const TorchModule& seq, int depth) {
    if (depth > 32) return Refuse("Sequentials are nested more than 32 deep");
    std::vector<const TorchModule*> children;
    const std::string prefix = seq.path.empty() ? "" : seq.path + ".";
    while (true) {
      auto it = modules_.find(prefix + std::to_string(children.size()));
      if (it == modules_.end()) break;
      children.push_back(it->second);
    }
    if (children.empty()) return Refuse("the Sequential '" + seq.path + "' is empty");
    std::string sig;
    auto body = src_->Method(seq.cls, "forward", &sig);
    if (!body.ok()) return Refuse(std::string(body.status().message()));
    std::vector<std::string> captures;
    std::vector<bool> output_size;
    for (const TorchModule* m : children)
      output_size.push_back(StandardClass(m->cls) == "torch.nn.modules.conv.ConvTranspose2d");
    if (!MatchBody(*body, SequentialForward(children.size(), output_size), &captures) ||
        sig != Replace("def forward(self: CLS,input: Tensor) -> Tensor:", "CLS", seq.cls)) {
      return Refuse("the forward of " + seq.cls +
                    " is not the standard Sequential chain: " + Quote(*body));
    }
    for (const TorchModule* m : children) {
      seen_.insert(m->path);
      const std::string std_cls = StandardClass(m->cls);
      if (std_cls == "torch.nn.modules.container.Sequential") {
        TIFFIN_RETURN_IF_ERROR(Collect(*m, depth + 1));
        continue;
      }
      TIFFIN_ASSIGN_OR_RETURN(Leaf leaf, Recognise(*m, std_cls));
      leaves_.push_back(std::move(leaf));
    }
    return Status::Ok();
  }

  Result<Leaf> Recognise(const TorchModule& m, const std::string& std_cls) {
    bool known_class = false;
    std::string why;
    for (const Form& f : Forms()) {
      if (f.cls != std_cls) continue;
      known_class = true;
      Leaf leaf{&m, &f, {}};
      bool ok = true;
      std::vector<std::string> calls;
      for (const Method& method : f.methods) {
        std::string sig;
        auto body = src_->Method(m.cls, method.name, &sig);
        std::vector<std::string> captures;
        if (!body.ok() || sig != Replace(method.signature, "CLS", m.cls) ||
            !MatchBody(*body, method.body, &captures)) {
          ok = false;
          if (body.ok() && why.empty()) why = method.name + ": " + Quote(*body);
          break;
        }
        for (const auto& c : captures) {
          leaf.args.emplace_back();
          ParseLiterals(c, &leaf.args.back());
        }
        for (auto& c : FunctionalCalls(*body)) calls.push_back(std::move(c));
      }
      if (!ok) continue;
      for (const std::string& fn : calls) {
        Status s = CheckFunctional(src_, fn, &functional_checked_);
        if (!s.ok()) return Refuse(std::string(s.message()));
      }
      return leaf;
    }
    if (!known_class) {
      return Refuse("module '" + m.path + "' is " + std_cls + ", which tiffin does not convert");
    }
    return Refuse("module '" + m.path + "' (" + m.cls + ") has code that is not torch's own " +
                  ShortName(std_cls) + " (or uses an option tiffin does not convert" +
                  PaddingModeNote(m) + ")" + (why.empty() ? "" : ": " + why));
  }

  // ", padding_mode 'reflect'" when a convolution pads other than with zeros.
  std::string PaddingModeNote(const TorchModule& m) {
    std::string sig;
    auto body = src_->Method(m.cls, "_conv_forward", &sig);
    if (!body.ok()) return "";
    for (const auto& l : *body) {
      const size_t at = l.find("torch.pad(input, ");
      if (at == std::string::npos) continue;
      const size_t q = l.find('"', at);
      if (q == std::string::npos) return "";
      return ": padding_mode '" + l.substr(q + 1, l.find('"', q + 1) - q - 1) +
             "'; only 'zeros' is converted";
    }
    return "";
  }

  Status Refuse(const std::string& why) const {
    return NotSupported("this is a TorchScript archive (torch.jit.save): " + why + "; " +
                        kSupported + ", and never runs TorchScript code: " + kExportAdvice);
  }

  Status CheckAllModulesUsed(const std::vector<TorchModule>& modules) const {
    for (const auto& m : modules) {
      if (m.path.empty() || seen_.count(m.path)) continue;
      return Refuse("module '" + m.path + "' (" + m.cls +
                    ") is not a child numbered in order of a Sequential (named modules)");
    }
    return Status::Ok();
  }

  Result<sklearn::ImportedGraph> Convert(const TorchArchive& state, const std::string& record);

 private:
  // The graph's input, stated from the first module that fixes its rank.
  Status DeclareInput();
  Status Emit(const Leaf& leaf);

  Result<const Tensor*> Param(const Leaf& leaf, const std::string& name, bool required = true);
  std::string ScalarF(float v) { return b_.Const(Tensor::Scalar(v), "k"); }
  std::string Ints(std::vector<int64_t> v) {
    const int64_t n = static_cast<int64_t>(v.size());
    return b_.ConstInts(std::move(v), {n}, "shape");
  }
  std::string LeafName(const Leaf& l) const {
    return ShortName(StandardClass(l.module->cls)) + " '" + l.module->path + "'";
  }
  // Normalises a possibly negative dim against the current rank.
  Result<int64_t> Axis(const Leaf& l, double dim) const;

  SourceReader* src_;
  std::map<std::string, const TorchTensor*> tensors_;
  std::map<std::string, std::string> scalars_;
  std::map<std::string, const TorchModule*> modules_;
  std::set<std::string> seen_;
  std::map<std::string, bool> functional_checked_;
  std::vector<Leaf> leaves_;
  sklearn::GraphBuilder b_;
  Value x_;
  DType input_dtype_ = DType::kFloat32;
  std::vector<Dim> input_shape_;
};

const std::vector<Literal>& Args(const Leaf& l, size_t i) {
  static const std::vector<Literal> kNone;
  return i < l.args.size() ? l.args[i] : kNone;
}
// The i-th literal of placeholder `p`, or nullptr.
const Literal* Arg(const Leaf& l, size_t p, size_t i) {
  const auto& a = Args(l, p);
  return i < a.size() ? &a[i] : nullptr;
}

Result<const Tensor*> Converter::Param(const Leaf& leaf, const std::string& name, bool required) {
  auto it = tensors_.find(leaf.module->path + "." + name);
  if (it == tensors_.end()) {
    if (!required) return static_cast<const Tensor*>(nullptr);
    return Refuse(LeafName(leaf) + " has no " + name);
  }
  const TorchTensor& t = *it->second;
  if (t.tensor.dtype() != DType::kFloat32 || t.torch_dtype != "float32") {
    return Refuse(LeafName(leaf) + " " + name + " is " + t.torch_dtype +
                  "; tiffin converts float32 parameters");
  }
  return &t.tensor;
}

Result<int64_t> Converter::Axis(const Leaf& l, double dim) const {
  const int64_t r = x_.rank();
  const int64_t d = static_cast<int64_t>(dim);
  if (d < -r || d >= r)
    return Refuse(LeafName(l) + " uses dim " + std::to_string(d) + " of a rank-" +
                  std::to_string(r) + " input");
  return d < 0 ? d + r : d;
}

Status Converter::DeclareInput() {
  const Dim n{-1, "N"};
  for (const Leaf& l : leaves_) {
    const std::string& k = l.form->kind;
    if (k == "linear") {
      TIFFIN_ASSIGN_OR_RETURN(const Tensor* w, Param(l, "weight"));
      if (w->rank() != 2) return Refuse(LeafName(l) + " weight is not [out, in]");
      input_shape_ = {n, Dim{w->dim(1), ""}};
    } else if (k == "conv1d" || k == "conv2d") {
      TIFFIN_ASSIGN_OR_RETURN(const Tensor* w, Param(l, "weight"));
      const Literal* groups = Arg(l, 0, 3);
      const int64_t g =
          groups && groups->kind == Literal::kInt ? static_cast<int64_t>(groups->number) : 1;
      if (w->rank() < 3 || g < 1 || g > (1 << 20))
        return Refuse(LeafName(l) + ": unexpected weight or groups");
      input_shape_ = {n, Dim{w->dim(1) * g, "C"}, Dim{-1, k == "conv1d" ? "L" : "H"}};
      if (k == "conv2d") input_shape_.push_back(Dim{-1, "W"});
    } else if (k == "conv_transpose2d") {
      TIFFIN_ASSIGN_OR_RETURN(const Tensor* w, Param(l, "weight"));
      input_shape_ = {n, Dim{w->dim(0), "C"}, Dim{-1, "H"}, Dim{-1, "W"}};
    } else if (k == "batch_norm2d") {
      TIFFIN_ASSIGN_OR_RETURN(const Tensor* mean, Param(l, "running_mean"));
      input_shape_ = {n, Dim{mean->size(), "C"}, Dim{-1, "H"}, Dim{-1, "W"}};
    } else if (k == "batch_norm1d") {
      TIFFIN_ASSIGN_OR_RETURN(const Tensor* mean, Param(l, "running_mean"));
      input_shape_ = {n, Dim{mean->size(), "C"}};
    } else if (k == "layer_norm") {
      const Literal* shape = Arg(l, 0, 0);
      if (!shape || shape->kind != Literal::kIntList) return Refuse(LeafName(l) + ": no shape");
      input_shape_ = {n};
      for (int64_t d : shape->ints) input_shape_.push_back(Dim{d, ""});
    } else if (k == "embedding") {
      input_dtype_ = DType::kInt64;
      input_shape_ = {n, Dim{-1, "T"}};
    } else if (k == "max_pool1d" || k == "avg_pool1d" || k == "adaptive_avg_pool1d") {
      input_shape_ = {n, Dim{-1, "C"}, Dim{-1, "L"}};
    } else if (k == "max_pool2d" || k == "avg_pool2d" || k == "adaptive_avg_pool2d") {
      input_shape_ = {n, Dim{-1, "C"}, Dim{-1, "H"}, Dim{-1, "W"}};
    } else if (k == "flatten" || k == "unflatten") {
      return Refuse(LeafName(l) +
                    " comes before any module that fixes the input's rank (Linear, Conv, "
                    "BatchNorm, LayerNorm, pooling, Embedding): TorchScript does not record the "
                    "input shape, and tiffin has no option to state it");
    } else {
      continue;  // elementwise: keeps any shape
    }
    break;
  }
  // Elementwise modules only: [N, F].
  if (input_shape_.empty()) input_shape_ = {n, Dim{-1, "F"}};
  x_.name = b_.AddInput("input", input_dtype_, input_shape_);
  x_.shape = input_shape_;
  return Status::Ok();
}

// Output size of a convolution or pooling window along one dim (-1 when
// the input's is unknown), as torch computes it.
int64_t WindowOut(int64_t in, int64_t k, int64_t s, int64_t pb, int64_t pe, int64_t d, bool ceil) {
  if (in < 0) return -1;
  const int64_t span = in + pb + pe - d * (k - 1) - 1;
  if (span < 0) return 0;
  int64_t out = (ceil ? (span + s - 1) / s : span / s) + 1;
  // torch: the last window must start inside the input or its left padding.
  if (ceil && (out - 1) * s >= in + pb) --out;
  return out;
}

std::vector<int64_t> Expand(const Literal* l, size_t n, int64_t fallback) {
  if (!l) return std::vector<int64_t>(n, fallback);
  if (l->kind == Literal::kInt) return std::vector<int64_t>(n, static_cast<int64_t>(l->number));
  if (l->kind == Literal::kIntList && l->ints.size() == 1)
    return std::vector<int64_t>(n, l->ints[0]);
  if (l->kind == Literal::kIntList && l->ints.size() == n) return l->ints;
  return {};
}

// True when every value lies in [lo, 2^20]: window sizes, strides,
// dilations and pads from the archive's code.
bool InRange(const std::vector<int64_t>& v, int64_t lo) {
  for (int64_t x : v)
    if (x < lo || x > (int64_t{1} << 20)) return false;
  return !v.empty();
}

bool IsBool(const Literal* l, bool v) {
  return l && l->kind == Literal::kBool && (l->number != 0) == v;
}

Status Converter::Emit(const Leaf& l) {
  const std::string& k = l.form->kind;
  const std::string name = LeafName(l);
  auto& b = b_;
  const int64_t r = x_.rank();
  auto need_rank = [&](std::initializer_list<int64_t> ranks) -> Status {
    for (int64_t want : ranks)
      if (r == want) return Status::Ok();
    return Refuse(name + " gets a rank-" + std::to_string(r) + " value " + DimsToString(x_.shape) +
                  ", which it does not take");
  };
  auto check_dim = [&](int64_t axis, int64_t want, const std::string& what) -> Status {
    const Dim& d = x_.shape[static_cast<size_t>(axis)];
    if (d.fixed() && d.value != want) {
      return Refuse(name + " takes " + std::to_string(want) + " " + what +
                    " but the module before it gives " + std::to_string(d.value));
    }
    x_.shape[static_cast<size_t>(axis)] = Dim{want, d.symbol};
    return Status::Ok();
  };
  if (x_.name == "input" && input_dtype_ == DType::kInt64 && k != "embedding")
    return Refuse(name + " comes before the Embedding");
  if (k == "linear") {
    TIFFIN_ASSIGN_OR_RETURN(const Tensor* w, Param(l, "weight"));
    TIFFIN_ASSIGN_OR_RETURN(const Tensor* bias, Param(l, "bias", false));
    if (w->rank() != 2) return Refuse(name + " weight is not [out, in]");
    if (bias && bias->shape() != Shape{w->dim(0)}) return Refuse(name + " bias is not [out]");
    if (r < 1) return need_rank({2});
    TIFFIN_RETURN_IF_ERROR(check_dim(r - 1, w->dim(1), "features"));
    if (r == 2) {
      std::vector<std::string> ins = {x_.name, b.Const(w->Clone(), l.module->path + ".weight")};
      if (bias) ins.push_back(b.Const(bias->Clone(), l.module->path + ".bias"));
      x_.name = b.Op("Gemm", ins, {{"transB", sklearn::AttrInt(1)}});
    } else {
      // [..., in] @ W^T + b.
      Tensor wt(DType::kFloat32, {w->dim(1), w->dim(0)});
      const float* src = w->data<float>();
      float* dst = wt.data<float>();
      for (int64_t o = 0; o < w->dim(0); ++o)
        for (int64_t i = 0; i < w->dim(1); ++i) dst[i * w->dim(0) + o] = src[o * w->dim(1) + i];
      x_.name = b.MatMulAdd(x_.name, wt, bias);
    }
    x_.shape.back() = Dim{w->dim(0), ""};
    return Status::Ok();
  }
  if (k == "identity") return Status::Ok();
  if (k == "dropout") {
    auto training = scalars_.find(l.module->path + ".training");
    if (training == scalars_.end() || training->second != "False")
      return Refuse("Dropout '" + l.module->path +
                    "' was saved in training mode (call model.eval())");
    return Status::Ok();
  }
  if (k == "flatten") {
    const auto& a = Args(l, 0);
    if (a.size() > 2) return Refuse(name + ": unexpected arguments");
    double sd = a.size() >= 1 ? a[0].number : 0, ed = a.size() >= 2 ? a[1].number : -1;
    if (r == 0) return need_rank({1, 2, 3, 4});
    TIFFIN_ASSIGN_OR_RETURN(int64_t s, Axis(l, sd));
    TIFFIN_ASSIGN_OR_RETURN(int64_t e, Axis(l, ed));
    if (e < s)
      return Refuse(name + " flattens dims " + std::to_string(s) + ".." + std::to_string(e));
    if (s == e) return Status::Ok();
    int64_t merged = 1;
    for (int64_t i = s; i <= e; ++i)
      if (merged < 0 || !x_.shape[i].fixed() ||
          __builtin_mul_overflow(merged, x_.shape[i].value, &merged))
        merged = -1;
    std::vector<Dim> out(x_.shape.begin(), x_.shape.begin() + s);
    out.push_back(Dim{merged, ""});
    for (int64_t i = e + 1; i < r; ++i) out.push_back(x_.shape[i]);
    if (s == 1 && e == r - 1) {
      x_.name = b.Op("Flatten", {x_.name}, {{"axis", sklearn::AttrInt(1)}});
    } else {
      // Leading dims copied (0), the merged one inferred (-1), trailing ones
      // must be known.
      std::vector<int64_t> shape(static_cast<size_t>(s), 0);
      shape.push_back(-1);
      for (int64_t i = e + 1; i < r; ++i) {
        if (!x_.shape[i].fixed())
          return Refuse(name + " keeps dim " + std::to_string(i) + ", whose size is not known");
        shape.push_back(x_.shape[i].value);
      }
      x_.name = b.Op("Reshape", {x_.name, Ints(shape)});
    }
    x_.shape = out;
    return Status::Ok();
  }
  if (k == "unflatten") {
    const Literal* dim = Arg(l, 0, 0);
    const Literal* sizes = Arg(l, 0, 1);
    if (!dim || dim->kind != Literal::kInt || !sizes || sizes->kind != Literal::kIntList)
      return Refuse(name + ": unexpected arguments");
    TIFFIN_ASSIGN_OR_RETURN(int64_t d, Axis(l, dim->number));
    std::vector<int64_t> shape(static_cast<size_t>(d), 0);
    std::vector<Dim> out(x_.shape.begin(), x_.shape.begin() + d);
    int64_t inferred = 0;
    for (int64_t v : sizes->ints) {
      if (v == -1) ++inferred;
      if ((v < 1 && v != -1) || inferred > 1)
        return Refuse(name + " has sizes " + ShapeToString(sizes->ints));
      shape.push_back(v);
      out.push_back(Dim{v, ""});
    }
    for (int64_t i = d + 1; i < r; ++i) {
      if (!x_.shape[i].fixed())
        return Refuse(name + " keeps dim " + std::to_string(i) + ", whose size is not known");
      shape.push_back(x_.shape[i].value);
      out.push_back(x_.shape[i]);
    }
    x_.name = b.Op("Reshape", {x_.name, Ints(shape)});
    x_.shape = out;
    return Status::Ok();
  }
  if (k == "relu") {
    x_.name = b.Op("Relu", {x_.name});
    return Status::Ok();
  }
  if (k == "sigmoid") {
    x_.name = b.Op("Sigmoid", {x_.name});
    return Status::Ok();
  }
  if (k == "tanh") {
    x_.name = b.Op("Tanh", {x_.name});
    return Status::Ok();
  }
  if (k == "leaky_relu" || k == "elu") {
    const Literal* alpha = Arg(l, 0, 0);
    if (!alpha || !alpha->IsNumber()) return Refuse(name + ": unexpected arguments");
    x_.name = b.Op(k == "elu" ? "Elu" : "LeakyRelu", {x_.name},
                   {{"alpha", sklearn::AttrFloat(static_cast<float>(alpha->number))}});
    return Status::Ok();
  }
  if (k == "softmax" || k == "log_softmax") {
    const Literal* dim = Arg(l, 0, 0);
    if (!dim || dim->kind != Literal::kInt)
      return Refuse(name + " has no dim (implicit dims are deprecated)");
    TIFFIN_ASSIGN_OR_RETURN(int64_t axis, Axis(l, dim->number));
    if (r == 2 && axis != 1 && k == "softmax")
      return Refuse("Softmax '" + l.module->path + "' is over a dimension other than the features");
    x_.name = b.Op(k == "softmax" ? "Softmax" : "LogSoftmax", {x_.name},
                   {{"axis", sklearn::AttrInt(axis)}});
    return Status::Ok();
  }
  if (k == "gelu") {
    const Literal* approx = Arg(l, 0, 0);
    const std::string& x = x_.name;
    if (!approx || (approx->keyword == "approximate" && approx->text == "none")) {
      // 0.5 x (1 + erf(x / sqrt 2)): Gelu is opset 20, tiffin emits 17.
      const std::string e = b.Op("Erf", {b.Op("Mul", {x, ScalarF(static_cast<float>(M_SQRT1_2))})});
      x_.name = b.Op("Mul", {b.Op("Mul", {x, ScalarF(0.5f)}), b.Op("Add", {e, ScalarF(1.0f)})});
      return Status::Ok();
    }
    if (approx->keyword != "approximate" || approx->text != "tanh")
      return Refuse(name + ": unexpected arguments");
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    const std::string cube = b.Op("Mul", {b.Op("Mul", {x, x}), x});
    const std::string inner =
        b.Op("Mul", {b.Op("Add", {x, b.Op("Mul", {cube, ScalarF(0.044715f)})}),
                     ScalarF(static_cast<float>(std::sqrt(2.0 / M_PI)))});
    x_.name = b.Op("Mul", {b.Op("Mul", {x, ScalarF(0.5f)}),
                           b.Op("Add", {b.Op("Tanh", {inner}), ScalarF(1.0f)})});
    return Status::Ok();
  }
  if (k == "silu") {
    x_.name = b.Op("Mul", {x_.name, b.Op("Sigmoid", {x_.name})});
    return Status::Ok();
  }
  if (k == "mish") {
    x_.name = b.Op("Mul", {x_.name, b.Op("Tanh", {b.Op("Softplus", {x_.name})})});
    return Status::Ok();
  }
  if (k == "softplus") {
    const auto& a = Args(l, 0);
    if (a.size() > 2) return Refuse(name + ": unexpected arguments");
    const double beta = a.size() >= 1 ? a[0].number : 1,
                 threshold = a.size() >= 2 ? a[1].number : 20;
    for (const auto& v : a)
      if (!v.IsNumber()) return Refuse(name + ": unexpected arguments");
    // torch: x when beta x > threshold, else log(1 + exp(beta x)) / beta.
    const std::string bx =
        beta == 1 ? x_.name : b.Op("Mul", {x_.name, ScalarF(static_cast<float>(beta))});
    std::string sp = b.Op("Softplus", {bx});
    if (beta != 1) sp = b.Op("Div", {sp, ScalarF(static_cast<float>(beta))});
    x_.name =
        b.Op("Where", {b.Op("Greater", {bx, ScalarF(static_cast<float>(threshold))}), x_.name, sp});
    return Status::Ok();
  }
  if (k == "hardtanh") {
    const Literal* lo = Arg(l, 0, 0);
    const Literal* hi = Arg(l, 1, 0);
    if (!lo || !hi || !lo->IsNumber() || !hi->IsNumber())
      return Refuse(name + ": unexpected arguments");
    x_.name = b.Op("Clip", {x_.name, ScalarF(static_cast<float>(lo->number)),
                            ScalarF(static_cast<float>(hi->number))});
    return Status::Ok();
  }
  if (k == "hardswish") {
    x_.name = b.Op("HardSwish", {x_.name});
    return Status::Ok();
  }
  if (k == "hardsigmoid") {
    x_.name =
        b.Op("HardSigmoid", {x_.name},
             {{"alpha", sklearn::AttrFloat(1.0f / 6.0f)}, {"beta", sklearn::AttrFloat(0.5f)}});
    return Status::Ok();
  }
  if (k == "softsign") {
    x_.name = b.Op("Softsign", {x_.name});
    return Status::Ok();
  }
  if (k == "prelu") {
    TIFFIN_ASSIGN_OR_RETURN(const Tensor* w, Param(l, "weight"));
    if (w->rank() != 1) return Refuse(name + " weight is not [num_parameters]");
    Tensor slope = w->Clone();
    if (w->size() != 1) {
      // One slope per channel (dim 1): [C, 1, ...] to broadcast.
      if (r < 2) return need_rank({2, 3, 4});
      TIFFIN_RETURN_IF_ERROR(check_dim(1, w->size(), "channels"));
      Shape s{w->size()};
      for (int64_t i = 2; i < r; ++i) s.push_back(1);
      slope = Tensor(DType::kFloat32, s);
      std::copy(w->data<float>(), w->data<float>() + w->size(), slope.data<float>());
    }
    x_.name = b.Op("PRelu", {x_.name, b.Const(std::move(slope), l.module->path + ".weight")});
    return Status::Ok();
  }
  if (k == "conv1d" || k == "conv2d") {
    const size_t nd = k == "conv1d" ? 1 : 2;
    TIFFIN_RETURN_IF_ERROR(need_rank({static_cast<int64_t>(nd) + 2}));
    TIFFIN_ASSIGN_OR_RETURN(const Tensor* w, Param(l, "weight"));
    TIFFIN_ASSIGN_OR_RETURN(const Tensor* bias, Param(l, "bias", false));
    const auto& a = Args(l, 0);  // _conv_forward: stride, padding, dilation[, groups]
    if (a.size() < 3 || a.size() > 4 || w->rank() != static_cast<int64_t>(nd) + 2)
      return Refuse(name + ": unexpected arguments");
    const std::vector<int64_t> stride = Expand(&a[0], nd, 1), dilation = Expand(&a[2], nd, 1);
    if (a.size() == 4 && a[3].kind != Literal::kInt) return Refuse(name + ": unexpected arguments");
    const int64_t groups = a.size() == 4 ? static_cast<int64_t>(a[3].number) : 1;
    if (!InRange(stride, 1) || !InRange(dilation, 1) || !InRange({groups}, 1))
      return Refuse(name + ": unexpected arguments");
    std::vector<int64_t> kernel(w->shape().begin() + 2, w->shape().end());
    std::vector<int64_t> pb(nd), pe(nd);
    if (a[1].kind == Literal::kString) {
      if (a[1].text == "same") {
        for (size_t i = 0; i < nd; ++i) {
          const int64_t total = dilation[i] * (kernel[i] - 1);
          pb[i] = total / 2;
          pe[i] = total - pb[i];
        }
      } else if (a[1].text != "valid") {
        return Refuse(name + " has padding '" + a[1].text + "'");
      }
    } else {
      std::vector<int64_t> p = Expand(&a[1], nd, 0);
      if (!InRange(p, 0)) return Refuse(name + ": unexpected arguments");
      pb = pe = p;
    }
    TIFFIN_RETURN_IF_ERROR(check_dim(1, w->dim(1) * groups, "channels"));
    if (bias && bias->shape() != Shape{w->dim(0)})
      return Refuse(name + " bias is not [out_channels]");
    std::vector<int64_t> pads = pb;
    pads.insert(pads.end(), pe.begin(), pe.end());
    std::vector<std::string> ins = {x_.name, b.Const(w->Clone(), l.module->path + ".weight")};
    if (bias) ins.push_back(b.Const(bias->Clone(), l.module->path + ".bias"));
    x_.name = b.Op("Conv", ins,
                   {{"kernel_shape", sklearn::AttrInts(kernel)},
                    {"strides", sklearn::AttrInts(stride)},
                    {"pads", sklearn::AttrInts(pads)},
                    {"dilations", sklearn::AttrInts(dilation)},
                    {"group", sklearn::AttrInt(groups)}});
    x_.shape[1] = Dim{w->dim(0), ""};
    for (size_t i = 0; i < nd; ++i) {
      const int64_t out =
          WindowOut(x_.shape[2 + i].value, kernel[i], stride[i], pb[i], pe[i], dilation[i], false);
      x_.shape[2 + i] = Dim{out, ""};
    }
    return Status::Ok();
  }
  if (k == "conv_transpose2d") {
    TIFFIN_RETURN_IF_ERROR(need_rank({4}));
    TIFFIN_ASSIGN_OR_RETURN(const Tensor* w, Param(l, "weight"));
    TIFFIN_ASSIGN_OR_RETURN(const Tensor* bias, Param(l, "bias", false));
    // _output_padding(input, output_size, stride, padding, kernel, 2, dilation),
    // conv_transpose2d(..., stride, padding, output_padding, groups, dilation),
    // then the output_padding _output_padding returns for output_size None.
    if (l.args.size() != 9 || w->rank() != 4) return Refuse(name + ": unexpected arguments");
    const std::vector<int64_t> stride = Expand(Arg(l, 4, 0), 2, 1),
                               pad = Expand(Arg(l, 5, 0), 2, 0),
                               dilation = Expand(Arg(l, 7, 0), 2, 1),
                               out_pad = Expand(Arg(l, 8, 0), 2, 0);
    const Literal* groups = Arg(l, 6, 0);
    if (!InRange(stride, 1) || !InRange(pad, 0) || !InRange(dilation, 1) || !InRange(out_pad, 0) ||
        !groups || groups->kind != Literal::kInt || groups->number < 1 ||
        groups->number > (1 << 20) || Expand(Arg(l, 0, 0), 2, 1) != stride ||
        Expand(Arg(l, 1, 0), 2, 0) != pad || Expand(Arg(l, 3, 0), 2, 1) != dilation)
      return Refuse(name + ": unexpected arguments");
    const int64_t g = static_cast<int64_t>(groups->number);
    const std::vector<int64_t> kernel = {w->dim(2), w->dim(3)};
    if (Expand(Arg(l, 2, 0), 2, 1) != kernel) return Refuse(name + ": unexpected arguments");
    TIFFIN_RETURN_IF_ERROR(check_dim(1, w->dim(0), "channels"));
    if (bias && bias->shape() != Shape{w->dim(1) * g})
      return Refuse(name + " bias is not [out_channels]");
    std::vector<std::string> ins = {x_.name, b.Const(w->Clone(), l.module->path + ".weight")};
    if (bias) ins.push_back(b.Const(bias->Clone(), l.module->path + ".bias"));
    x_.name = b.Op("ConvTranspose", ins,
                   {{"kernel_shape", sklearn::AttrInts(kernel)},
                    {"strides", sklearn::AttrInts(stride)},
                    {"pads", sklearn::AttrInts({pad[0], pad[1], pad[0], pad[1]})},
                    {"dilations", sklearn::AttrInts(dilation)},
                    {"output_padding", sklearn::AttrInts(out_pad)},
                    {"group", sklearn::AttrInt(g)}});
    x_.shape[1] = Dim{w->dim(1) * g, ""};
    for (size_t i = 0; i < 2; ++i) {
      const int64_t in = x_.shape[2 + i].value;
      x_.shape[2 + i] = Dim{in < 0 ? -1
                                   : (in - 1) * stride[i] - 2 * pad[i] +
                                         dilation[i] * (kernel[i] - 1) + out_pad[i] + 1,
                            ""};
    }
    return Status::Ok();
  }
  if (k == "batch_norm1d" || k == "batch_norm2d") {
    if (k == "batch_norm2d") {
      TIFFIN_RETURN_IF_ERROR(need_rank({4}));
    } else {
      TIFFIN_RETURN_IF_ERROR(need_rank({2, 3}));
    }
    auto training = scalars_.find(l.module->path + ".training");
    if (training == scalars_.end() || training->second != "False")
      return Refuse(name + " was saved in training mode (call model.eval())");
    const auto& a = Args(l, 0);  // momentum, eps
    if (a.size() != 2 || !a[1].IsNumber()) return Refuse(name + ": unexpected arguments");
    TIFFIN_ASSIGN_OR_RETURN(const Tensor* mean, Param(l, "running_mean"));
    TIFFIN_ASSIGN_OR_RETURN(const Tensor* var, Param(l, "running_var"));
    TIFFIN_ASSIGN_OR_RETURN(const Tensor* w, Param(l, "weight", false));
    TIFFIN_ASSIGN_OR_RETURN(const Tensor* bias, Param(l, "bias", false));
    const int64_t c = mean->size();
    if (mean->rank() != 1 || var->shape() != mean->shape() || (w && w->shape() != mean->shape()) ||
        (bias && bias->shape() != mean->shape()))
      return Refuse(name + " statistics are not all [num_features]");
    TIFFIN_RETURN_IF_ERROR(check_dim(1, c, "channels"));
    Tensor scale = w ? w->Clone() : Tensor::FromVector(std::vector<float>(c, 1.0f), {c});
    Tensor shift = bias ? bias->Clone() : Tensor::FromVector(std::vector<float>(c, 0.0f), {c});
    x_.name = b.Op("BatchNormalization",
                   {x_.name, b.Const(std::move(scale), l.module->path + ".weight"),
                    b.Const(std::move(shift), l.module->path + ".bias"),
                    b.Const(mean->Clone(), l.module->path + ".running_mean"),
                    b.Const(var->Clone(), l.module->path + ".running_var")},
                   {{"epsilon", sklearn::AttrFloat(static_cast<float>(a[1].number))}});
    return Status::Ok();
  }
  if (k == "layer_norm") {
    const Literal* shape = Arg(l, 0, 0);
    const Literal* eps = Arg(l, 1, 0);
    if (!shape || shape->kind != Literal::kIntList || shape->ints.empty() || !eps ||
        !eps->IsNumber())
      return Refuse(name + ": unexpected arguments");
    const int64_t n = static_cast<int64_t>(shape->ints.size());
    if (r <= n)
      return Refuse(name + " normalises " + std::to_string(n) + " dims of a rank-" +
                    std::to_string(r) + " value");
    int64_t count = 1;
    for (int64_t i = 0; i < n; ++i) {
      TIFFIN_RETURN_IF_ERROR(check_dim(r - n + i, shape->ints[static_cast<size_t>(i)], "values"));
      const int64_t d = shape->ints[static_cast<size_t>(i)];
      if (d < 1 || __builtin_mul_overflow(count, d, &count) || count > (int64_t{1} << 26))
        return Refuse(name + " has normalized_shape " + ShapeToString(shape->ints));
    }
    TIFFIN_ASSIGN_OR_RETURN(const Tensor* w, Param(l, "weight", false));
    TIFFIN_ASSIGN_OR_RETURN(const Tensor* bias, Param(l, "bias", false));
    const Shape s(shape->ints.begin(), shape->ints.end());
    if ((w && w->shape() != s) || (bias && bias->shape() != s))
      return Refuse(name + " weight or bias is not " + ShapeToString(s));
    Tensor scale = w ? w->Clone() : Tensor::FromVector(std::vector<float>(count, 1.0f), s);
    Tensor shift = bias ? bias->Clone() : Tensor::FromVector(std::vector<float>(count, 0.0f), s);
    x_.name = b.Op("LayerNormalization",
                   {x_.name, b.Const(std::move(scale), l.module->path + ".weight"),
                    b.Const(std::move(shift), l.module->path + ".bias")},
                   {{"axis", sklearn::AttrInt(-n)},
                    {"epsilon", sklearn::AttrFloat(static_cast<float>(eps->number))}});
    return Status::Ok();
  }
  if (k == "max_pool1d" || k == "max_pool2d" || k == "avg_pool1d" || k == "avg_pool2d") {
    const size_t nd = (k == "max_pool1d" || k == "avg_pool1d") ? 1 : 2;
    TIFFIN_RETURN_IF_ERROR(need_rank({static_cast<int64_t>(nd) + 2}));
    const auto& a = Args(l, 0);
    const bool max = k[0] == 'm';
    // max: kernel, stride, padding, dilation, ceil_mode, return_indices;
    // avg: kernel, stride, padding[, ceil_mode[, count_include_pad[, divisor_override]]].
    if (a.size() < 3 || a.size() > 6 || (max && a.size() != 6))
      return Refuse(name + ": unexpected arguments");
    const std::vector<int64_t> kernel = Expand(&a[0], nd, 1);
    std::vector<int64_t> stride = Expand(&a[1], nd, 1);
    if (a[1].kind == Literal::kIntList && a[1].ints.empty()) stride = kernel;
    const std::vector<int64_t> pad = Expand(&a[2], nd, 0);
    const std::vector<int64_t> dilation = max ? Expand(&a[3], nd, 1) : std::vector<int64_t>(nd, 1);
    const Literal* ceil = max ? &a[4] : (a.size() > 3 ? &a[3] : nullptr);
    const Literal* include_pad = !max && a.size() > 4 ? &a[4] : nullptr;
    const Literal* divisor = !max && a.size() > 5 ? &a[5] : nullptr;
    if (!InRange(kernel, 1) || !InRange(stride, 1) || !InRange(pad, 0) || !InRange(dilation, 1) ||
        (ceil && ceil->kind != Literal::kBool) ||
        (include_pad && include_pad->kind != Literal::kBool))
      return Refuse(name + ": unexpected arguments");
    if (max && !IsBool(&a[5], false)) return Refuse(name + " returns indices");
    if (divisor && divisor->kind != Literal::kNone) return Refuse(name + " has a divisor_override");
    const bool ceil_mode = ceil && ceil->number != 0;
    std::vector<int64_t> pads = pad;
    pads.insert(pads.end(), pad.begin(), pad.end());
    sklearn::Attrs attrs = {{"kernel_shape", sklearn::AttrInts(kernel)},
                            {"strides", sklearn::AttrInts(stride)},
                            {"pads", sklearn::AttrInts(pads)},
                            {"ceil_mode", sklearn::AttrInt(ceil_mode ? 1 : 0)}};
    if (max) {
      attrs.push_back({"dilations", sklearn::AttrInts(dilation)});
    } else {
      attrs.push_back(
          {"count_include_pad", sklearn::AttrInt(include_pad && include_pad->number == 0 ? 0 : 1)});
    }
    x_.name = b.Op(max ? "MaxPool" : "AveragePool", {x_.name}, attrs);
    for (size_t i = 0; i < nd; ++i) {
      x_.shape[2 + i] = Dim{WindowOut(x_.shape[2 + i].value, kernel[i], stride[i], pad[i], pad[i],
                                      dilation[i], ceil_mode),
                            ""};
    }
    return Status::Ok();
  }
  if (k == "adaptive_avg_pool1d" || k == "adaptive_avg_pool2d") {
    const size_t nd = k == "adaptive_avg_pool1d" ? 1 : 2;
    TIFFIN_RETURN_IF_ERROR(need_rank({static_cast<int64_t>(nd) + 2}));
    const Literal* size = Arg(l, 0, 0);
    if (!size || size->kind != Literal::kIntList || size->ints != std::vector<int64_t>(nd, 1))
      return Refuse(name +
                    " pools to an output size other than 1 (only global pooling is converted)");
    x_.name = b.Op("GlobalAveragePool", {x_.name});
    for (size_t i = 0; i < nd; ++i) x_.shape[2 + i] = Dim{1, ""};
    return Status::Ok();
  }
  if (k == "embedding") {
    if (input_dtype_ != DType::kInt64 || x_.name != "input")
      return Refuse(name + " is not the first module: its indices must be the model's input");
    const auto& a = Args(l, 0);  // padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse
    if (a.size() != 5) return Refuse(name + ": unexpected arguments");
    if (a[1].kind != Literal::kNone)
      return Refuse(name + " has max_norm (it renormalises its weights when called)");
    TIFFIN_ASSIGN_OR_RETURN(const Tensor* w, Param(l, "weight"));
    if (w->rank() != 2) return Refuse(name + " weight is not [num_embeddings, dim]");
    x_.name = b.Op("Gather", {b.Const(w->Clone(), l.module->path + ".weight"), x_.name},
                   {{"axis", sklearn::AttrInt(0)}});
    x_.shape.push_back(Dim{w->dim(1), ""});
    return Status::Ok();
  }
  return Refuse(name + ": no conversion for '" + k + "'");
}

Result<sklearn::ImportedGraph> Converter::Convert(const TorchArchive& state,
                                                  const std::string& record) {
  TIFFIN_RETURN_IF_ERROR(DeclareInput());
  for (const Leaf& l : leaves_) TIFFIN_RETURN_IF_ERROR(Emit(l));
  if (x_.name == "input") x_.name = b_.Op("Identity", {x_.name});
  const DType out_dtype = DType::kFloat32;
  b_.AddOutput(x_.name, "output", out_dtype, x_.shape);
  sklearn::ImportedGraph out;
  out.graph = b_.Finish();
  out.inputs = {TensorInfo{"input", input_dtype_, true, input_shape_}};
  out.outputs = {TensorInfo{"output", out_dtype, true, x_.shape}};
  ModelInfo& info = out.info;
  info.format = "TorchScript archive";
  info.producer_name = "pytorch";
  info.producer_version = "TorchScript version " + state.version;
  info.opsets["ai.onnx"] = sklearn::kOnnxOpset;
  for (const auto& node : out.graph->nodes) ++info.op_counts[node.op_type];
  for (const auto& [id, t] : out.graph->constants) {
    info.parameter_count += t.size();
    info.parameter_bytes += static_cast<int64_t>(t.nbytes());
  }
  info.metadata["torchscript_record"] = record;
  std::string layers;
  for (const Leaf& l : leaves_)
    layers += (layers.empty() ? "" : ",") + ShortName(StandardClass(l.module->cls));
  info.metadata["layers"] = layers;
  return out;
}

}  // namespace

Result<sklearn::ImportedGraph> ImportTorchScriptBytes(std::string_view bytes,
                                                      const TorchReadOptions& options) {
  if (DetectTorchBytes(bytes) != TorchFileKind::kTorchScript)
    return InvalidArgument("not a TorchScript archive");
  io::ZipReader zip;
  TIFFIN_RETURN_IF_ERROR(zip.Open(bytes));
  std::string record;
  for (const auto& n : zip.names()) {
    const size_t slash = n.find('/');
    if (slash != std::string::npos && n.substr(slash + 1) == "data.pkl")
      record = n.substr(0, slash);
  }
  TorchArchive empty;
  SourceReader src(&zip, record);
  Converter probe(empty, &src);
  if (record.empty()) return probe.Refuse("an old format (model.json), which tiffin does not read");
  // Tensor constants in constants.pkl mean code that uses them: not a
  // plain Sequential.
  if (zip.Has(record + "/constants.pkl")) {
    TIFFIN_ASSIGN_OR_RETURN(std::string c, zip.Read(record + "/constants.pkl", 1 << 20));
    if (c != std::string("\x80\x02)q\x00.", 5) && c != std::string("\x80\x02).", 4))
      return probe.Refuse("its code uses constants (constants.pkl is not empty)");
  }
  TIFFIN_ASSIGN_OR_RETURN(TorchArchive state, ReadTorchScriptState(bytes, options));
  if (state.modules.empty() || !state.modules[0].path.empty())
    return probe.Refuse("data.pkl holds no module");
  const std::string root_cls = state.modules[0].cls;
  if (StandardClass(root_cls) != "torch.nn.modules.container.Sequential")
    return probe.Refuse("its top module is " + root_cls + ", not torch.nn.Sequential");
  Converter conv(state, &src);
  TIFFIN_RETURN_IF_ERROR(conv.Collect(state.modules[0], 0));
  TIFFIN_RETURN_IF_ERROR(conv.CheckAllModulesUsed(state.modules));
  return conv.Convert(state, record);
}

Result<sklearn::ImportedGraph> ImportTorchScriptFile(const std::string& path,
                                                     const LoadOptions& options) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return NotFound("cannot open '" + path + "'");
  const std::streamoff size = in.tellg();
  if (size < 0 || static_cast<uint64_t>(size) > options.max_file_bytes)
    return ResourceExhausted(path + ": the file is larger than the limit");
  std::string bytes(static_cast<size_t>(size), '\0');
  in.seekg(0);
  in.read(bytes.data(), size);
  if (in.gcount() != size) return DataLoss(path + ": short read");
  TorchReadOptions o;
  o.max_file_bytes = options.max_file_bytes;
  o.max_tensor_bytes = options.max_tensor_bytes;
  auto g = ImportTorchScriptBytes(bytes, o);
  if (!g.ok()) return g.status().WithContext(path);
  return g;
}

}  // namespace tiffin::torch_import
