#include "importers/torch/torchscript.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>

#include "importers/sklearn/graph_builder.h"
#include "io/zip_reader.h"

namespace tiffin::torch_import {
namespace {

constexpr const char* kExportAdvice =
    "export the model with torch.onnx.export (or save its state_dict and compare it with "
    "'tiffin diff')";

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

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> Lines(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    out.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

size_t Indent(const std::string& line) {
  size_t i = 0;
  while (i < line.size() && line[i] == ' ') ++i;
  return i;
}

// The body of `def <fn>` (trimmed lines after its signature), found at
// indentation `indent` in `lines` between [from, to).
Result<std::vector<std::string>> FunctionBody(const std::vector<std::string>& lines, size_t from,
                                              size_t to, size_t indent, const std::string& fn,
                                              std::string* signature) {
  const std::string head = std::string(indent, ' ') + "def " + fn + "(";
  for (size_t i = from; i < to; ++i) {
    if (lines[i].rfind(head, 0) != 0) continue;
    // The signature runs to the first line ending with ':'.
    size_t j = i;
    std::string sig;
    while (j < to) {
      sig += Trim(lines[j]);
      if (!lines[j].empty() && Trim(lines[j]).back() == ':') break;
      ++j;
    }
    if (signature) *signature = sig;
    std::vector<std::string> body;
    for (++j; j < to; ++j) {
      if (!Trim(lines[j]).empty() && Indent(lines[j]) <= indent) break;
      if (!Trim(lines[j]).empty()) body.push_back(Trim(lines[j]));
    }
    return body;
  }
  return NotSupported("no 'def " + fn + "' found");
}

// Reads the source of TorchScript class `cls` (its code/ file) and returns
// its forward body.
class SourceReader {
 public:
  SourceReader(const io::ZipReader* zip, std::string record)
      : zip_(zip), record_(std::move(record)) {}

  Result<std::string> File(const std::string& module_path) {
    auto it = files_.find(module_path);
    if (it != files_.end()) return it->second;
    std::string rel = module_path;
    for (char& c : rel)
      if (c == '.') c = '/';
    const std::string entry = record_ + "/code/" + rel + ".py";
    if (!zip_->Has(entry)) return NotSupported("the archive has no source " + entry);
    TIFFIN_ASSIGN_OR_RETURN(std::string text,
                            zip_->Read(entry, size_t{16} << 20, /*allow_deflate=*/true));
    return files_.emplace(module_path, std::move(text)).first->second;
  }

  // The forward body of class `cls` ("__torch__.a.b.Cls").
  Result<std::vector<std::string>> Forward(const std::string& cls, std::string* signature) {
    const size_t dot = cls.rfind('.');
    if (dot == std::string::npos) return NotSupported("class " + cls + " has no module");
    TIFFIN_ASSIGN_OR_RETURN(std::string text, File(cls.substr(0, dot)));
    const std::vector<std::string> lines = Lines(text);
    const std::string head = "class " + cls.substr(dot + 1) + "(Module):";
    for (size_t i = 0; i < lines.size(); ++i) {
      if (lines[i] != head) continue;
      size_t end = i + 1;
      while (end < lines.size() && (lines[end].empty() || lines[end][0] == ' ')) ++end;
      return FunctionBody(lines, i + 1, end, 2, "forward", signature);
    }
    return NotSupported("the source of " + cls + " has no '" + head + "'");
  }

  // The body of module-level function `fn` in `module_path`.
  Result<std::vector<std::string>> Function(const std::string& module_path, const std::string& fn) {
    TIFFIN_ASSIGN_OR_RETURN(std::string text, File(module_path));
    const std::vector<std::string> lines = Lines(text);
    return FunctionBody(lines, 0, lines.size(), 0, fn, nullptr);
  }

 private:
  const io::ZipReader* zip_;
  std::string record_;
  std::map<std::string, std::string> files_;
};

// What torch 1.13 prints for the forward of each supported module, with its
// temporaries (_0, _1, ...: numbered per file) written _N and the one number
// the module holds written {x}.
const std::map<std::string, std::vector<std::string>>& KnownForwards() {
  static const std::map<std::string, std::vector<std::string>> kBodies = {
      {"torch.nn.modules.linear.Linear",
       {"weight = self.weight", "bias = self.bias", "return torch.linear(input, weight, bias)"}},
      {"torch.nn.modules.linear.Identity", {"return input"}},
      {"torch.nn.modules.flatten.Flatten", {"return torch.flatten(input, 1)"}},
      {"torch.nn.modules.activation.ReLU",
       {"_N = __torch__.torch.nn.functional.relu(input, False, )", "return _N"}},
      {"torch.nn.modules.activation.Sigmoid", {"return torch.sigmoid(input)"}},
      {"torch.nn.modules.activation.Tanh", {"return torch.tanh(input)"}},
      {"torch.nn.modules.activation.LeakyReLU",
       {"_N = __torch__.torch.nn.functional.leaky_relu", "_N = _N(input, {x}, False, )",
        "return _N"}},
      {"torch.nn.modules.activation.ELU",
       {"_N = __torch__.torch.nn.functional.elu(input, {x}, False, )", "return _N"}},
      {"torch.nn.modules.activation.Softmax",
       {"_N = __torch__.torch.nn.functional.softmax", "return _N(input, {x}, 5, None, )"}},
      {"torch.nn.modules.dropout.Dropout",
       {"_N = __torch__.torch.nn.functional.dropout", "training = self.training",
        "_N = _N(input, {x}, training, False, )", "return _N"}},
  };
  return kBodies;
}

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// `line` with every temporary (_0, _12) written _N.
std::string NormalizeTemporaries(const std::string& line) {
  std::string out;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '_' && (i == 0 || !IsWordChar(line[i - 1])) && i + 1 < line.size() &&
        std::isdigit(static_cast<unsigned char>(line[i + 1]))) {
      size_t j = i + 1;
      while (j < line.size() && std::isdigit(static_cast<unsigned char>(line[j]))) ++j;
      if (j == line.size() || !IsWordChar(line[j])) {
        out += "_N";
        i = j - 1;
        continue;
      }
    }
    out += line[i];
  }
  return out;
}

// Matches `body` against `pattern`; the numbers at {x} go to `numbers`.
bool MatchBody(const std::vector<std::string>& body, const std::vector<std::string>& pattern,
               std::vector<double>* numbers) {
  if (body.size() != pattern.size()) return false;
  for (size_t i = 0; i < body.size(); ++i) {
    const std::string line = NormalizeTemporaries(body[i]);
    const std::string& p = pattern[i];
    const size_t at = p.find("{x}");
    if (at == std::string::npos) {
      if (line != p) return false;
      continue;
    }
    const std::string pre = p.substr(0, at), post = p.substr(at + 3);
    if (line.size() < pre.size() + post.size() + 1 || line.compare(0, pre.size(), pre) != 0 ||
        line.compare(line.size() - post.size(), post.size(), post) != 0)
      return false;
    const std::string num = line.substr(pre.size(), line.size() - pre.size() - post.size());
    char* end = nullptr;
    const double v = std::strtod(num.c_str(), &end);
    if (end != num.c_str() + num.size() || !std::isfinite(v)) return false;
    numbers->push_back(v);
  }
  return true;
}

std::string Quote(const std::vector<std::string>& body) {
  std::string s;
  for (const auto& l : body) s += (s.empty() ? "" : " | ") + l;
  return s.size() > 300 ? s.substr(0, 300) + "..." : s;
}

// The forward torch prints for a Sequential of `n` children named 0..n-1.
std::vector<std::string> SequentialForward(size_t n) {
  std::vector<std::string> body;
  for (size_t i = 0; i < n; ++i)
    body.push_back("_" + std::to_string(i) + " = getattr(self, \"" + std::to_string(i) + "\")");
  std::string prev = "input";
  for (size_t i = 0; i < n; ++i) {
    const std::string call = "(_" + std::to_string(i) + ").forward(" + prev + ", )";
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
  auto refuse = [](const std::string& why) {
    return NotSupported("this is a TorchScript archive (torch.jit.save): " + why +
                        "; tiffin converts only nn.Sequential of Linear, ReLU, Sigmoid, Tanh, "
                        "LeakyReLU, ELU, Softmax, Identity, Flatten and eval-mode Dropout, and "
                        "never runs TorchScript code: " +
                        kExportAdvice);
  };
  if (record.empty()) return refuse("an old format (model.json), which tiffin does not read");
  // Tensor constants in constants.pkl mean code that uses them: not a
  // plain Sequential.
  if (zip.Has(record + "/constants.pkl")) {
    TIFFIN_ASSIGN_OR_RETURN(std::string c, zip.Read(record + "/constants.pkl", 1 << 20, true));
    if (c != std::string("\x80\x02)q\x00.", 5) && c != std::string("\x80\x02).", 4))
      return refuse("its code uses constants (constants.pkl is not empty)");
  }
  TIFFIN_ASSIGN_OR_RETURN(TorchArchive state, ReadTorchScriptState(bytes, options));
  if (state.modules.empty() || !state.modules[0].path.empty())
    return refuse("data.pkl holds no module");
  const std::string root_cls = state.modules[0].cls;
  if (StandardClass(root_cls) != "torch.nn.modules.container.Sequential")
    return refuse("its top module is " + root_cls + ", not torch.nn.Sequential");
  // Children "0".."n-1", each a supported standard module.
  std::vector<const TorchModule*> children;
  for (size_t i = 1; i < state.modules.size(); ++i) {
    const TorchModule& m = state.modules[i];
    if (m.path != std::to_string(children.size())) {
      return refuse("module '" + m.path + "' (" + m.cls +
                    ") is not a direct child numbered in order (nested or named modules)");
    }
    children.push_back(&m);
  }
  if (children.empty()) return refuse("the Sequential is empty");
  SourceReader src(&zip, record);
  std::string sig;
  {
    auto body = src.Forward(root_cls, &sig);
    if (!body.ok()) return refuse(std::string(body.status().message()));
    if (*body != SequentialForward(children.size()) ||
        sig.find("input: Tensor) -> Tensor:") == std::string::npos) {
      return refuse("the forward of " + root_cls +
                    " is not the standard Sequential chain: " + Quote(*body));
    }
  }
  std::map<std::string, const TorchTensor*> tensors;
  for (const auto& t : state.tensors) tensors[t.name] = &t;
  std::map<std::string, std::string> scalars;
  for (const auto& v : state.scalars) scalars[v.name] = v.value;
  bool relu_checked = false;
  sklearn::GraphBuilder b;
  int64_t in_features = -1, width = -1;
  std::string x;
  for (size_t i = 0; i < children.size(); ++i) {
    const TorchModule& m = *children[i];
    const std::string std_cls = StandardClass(m.cls);
    auto known = KnownForwards().find(std_cls);
    if (known == KnownForwards().end())
      return refuse("module '" + m.path + "' is " + std_cls + ", which tiffin does not convert");
    auto body = src.Forward(m.cls, &sig);
    if (!body.ok()) return refuse(std::string(body.status().message()));
    std::vector<double> numbers;
    if (!MatchBody(*body, known->second, &numbers) ||
        sig.find("input: Tensor) -> Tensor:") == std::string::npos) {
      return refuse("module '" + m.path + "' (" + m.cls +
                    ") has a forward that is not torch's own: " + Quote(*body));
    }
    const std::string short_name = std_cls.substr(std_cls.rfind('.') + 1);
    if (short_name == "ReLU" && !relu_checked) {
      auto relu = src.Function("__torch__.torch.nn.functional", "relu");
      const std::vector<std::string> want = {"if inplace:", "result = torch.relu_(input)",
                                             "else:", "result = torch.relu(input)",
                                             "return result"};
      if (!relu.ok() || *relu != want)
        return refuse("its torch.nn.functional.relu is not torch's own");
      relu_checked = true;
    }
    if (short_name == "Linear") {
      auto w = tensors.find(m.path + ".weight");
      if (w == tensors.end()) return refuse("Linear '" + m.path + "' has no weight");
      const Tensor& wt = w->second->tensor;
      if (wt.dtype() != DType::kFloat32 || wt.rank() != 2 || w->second->torch_dtype != "float32") {
        return refuse("Linear '" + m.path + "' weight is " + w->second->torch_dtype + " " +
                      ShapeToString(wt.shape()) + "; tiffin converts float32 [out, in] weights");
      }
      if (width >= 0 && wt.dim(1) != width) {
        return refuse("Linear '" + m.path + "' takes " + std::to_string(wt.dim(1)) +
                      " features but the module before it gives " + std::to_string(width));
      }
      if (x.empty()) {
        in_features = wt.dim(1);
        x = b.AddInput("input", DType::kFloat32, {Dim{-1, "N"}, Dim{in_features, ""}});
      }
      std::vector<std::string> ins = {x, b.Const(wt.Clone(), m.path + ".weight")};
      auto bias = tensors.find(m.path + ".bias");
      if (bias != tensors.end()) {
        const Tensor& bt = bias->second->tensor;
        if (bt.dtype() != DType::kFloat32 || bt.shape() != Shape{wt.dim(0)})
          return refuse("Linear '" + m.path + "' bias is not float32 [" +
                        std::to_string(wt.dim(0)) + "]");
        ins.push_back(b.Const(bt.Clone(), m.path + ".bias"));
      }
      x = b.Op("Gemm", ins, {{"transB", sklearn::AttrInt(1)}});
      width = wt.dim(0);
      continue;
    }
    if (x.empty())
      return refuse("the Sequential does not start with a Linear (input width unknown)");
    if (short_name == "Identity" || short_name == "Flatten") continue;  // [N, F] stays [N, F]
    if (short_name == "Dropout") {
      // Identity in eval mode only.
      auto training = scalars.find(m.path + ".training");
      if (training == scalars.end() || training->second != "False")
        return refuse("Dropout '" + m.path + "' was saved in training mode (call model.eval())");
      continue;
    }
    if (short_name == "Softmax") {
      if (numbers.empty() || (numbers[0] != 1 && numbers[0] != -1))
        return refuse("Softmax '" + m.path + "' is over a dimension other than the features");
      x = b.Op("Softmax", {x}, {{"axis", sklearn::AttrInt(-1)}});
      continue;
    }
    if (short_name == "LeakyReLU" || short_name == "ELU") {
      x = b.Op(short_name == "ELU" ? "Elu" : "LeakyRelu", {x},
               {{"alpha", sklearn::AttrFloat(static_cast<float>(numbers.at(0)))}});
      continue;
    }
    x = b.Op(short_name == "ReLU" ? "Relu" : short_name, {x});
  }
  if (x.empty()) return refuse("the Sequential has no Linear");
  b.AddOutput(x, "output", DType::kFloat32, {Dim{-1, "N"}, Dim{width, ""}});
  sklearn::ImportedGraph out;
  out.graph = b.Finish();
  out.inputs = {TensorInfo{"input", DType::kFloat32, true, {Dim{-1, "N"}, Dim{in_features, ""}}}};
  out.outputs = {TensorInfo{"output", DType::kFloat32, true, {Dim{-1, "N"}, Dim{width, ""}}}};
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
  for (const auto* c : children) {
    const std::string s = StandardClass(c->cls);
    layers += (layers.empty() ? "" : ",") + s.substr(s.rfind('.') + 1);
  }
  info.metadata["layers"] = layers;
  return out;
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
