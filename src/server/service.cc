#include "server/service.h"

#include <simdjson.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>

#include "core/json.h"
#include "io/tensor_io.h"
#include "server/batcher.h"
#include "server/tf_serving.h"
#include "tiffin/checks.h"

namespace tiffin::server {

namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;
using Clock = std::chrono::steady_clock;

uint64_t Ns(Clock::time_point a, Clock::time_point b) {
  return b > a ? static_cast<uint64_t>(
                     std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count())
               : 0;
}

// One problem with a request, as listed in an error's "details".
struct Problem {
  std::string input, problem, expected, got;
};

struct Failure {
  int http = 400;
  std::string message;
  std::vector<Problem> details;
};

int HttpStatusOf(const Status& s) {
  switch (s.code()) {
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kInternal:
      return 500;
    default:
      return 400;
  }
}

// Replaces values in an error message: quoted text that is not a known name,
// parenthesized numbers and the number after "value".
std::string Redact(const std::string& msg, const std::vector<std::string>& names) {
  std::string out;
  size_t i = 0;
  auto known = [&](std::string_view s) {
    for (const auto& n : names)
      if (n == s) return true;
    return false;
  };
  while (i < msg.size()) {
    char c = msg[i];
    if (c == '\'' || c == '"') {
      size_t end = msg.find(c, i + 1);
      if (end != std::string::npos) {
        std::string_view inner(msg.data() + i + 1, end - i - 1);
        out += c;
        out += known(inner) ? std::string(inner) : std::string("<redacted>");
        out += c;
        i = end + 1;
        continue;
      }
    }
    if (c == '(' && i + 1 < msg.size() &&
        (std::isdigit(static_cast<unsigned char>(msg[i + 1])) || msg[i + 1] == '-')) {
      size_t end = msg.find(')', i);
      if (end != std::string::npos) {
        out += "(<redacted>)";
        i = end + 1;
        continue;
      }
    }
    if (msg.compare(i, 6, "value ") == 0) {
      out += "value ";
      i += 6;
      size_t j = i;
      while (j < msg.size() && msg[j] != ' ' && msg[j] != ',' && msg[j] != ';') ++j;
      if (j > i) out += "<redacted>";
      i = j;
      continue;
    }
    out += c;
    ++i;
  }
  return out;
}

std::string ProblemsJson(const std::vector<Problem>& ps) {
  std::string out = "[";
  for (size_t i = 0; i < ps.size(); ++i) {
    if (i) out += ',';
    out += "{\"input\":" + JsonQuote(ps[i].input) + ",\"problem\":" + JsonQuote(ps[i].problem) +
           ",\"expected\":" + JsonQuote(ps[i].expected) + ",\"got\":" + JsonQuote(ps[i].got) + "}";
  }
  return out + "]";
}

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse Error(int status, const std::string& message, const std::string& details = "[]") {
  return Json(status, "{\"error\":" + JsonQuote(message) + ",\"details\":" + details + "}");
}

std::string ExpectedText(const TensorInfo& info) {
  return std::string(DTypeKServeName(info.dtype)) + " " +
         (info.has_shape ? DimsToString(info.shape) : std::string("[any rank]"));
}

std::string GotText(const Tensor& t) {
  return std::string(DTypeKServeName(t.dtype())) + " " + ShapeToString(t.shape());
}

// Names, ranks and fixed dims against the model's declared inputs.
std::vector<Problem> CheckSchema(const Model& model, const std::vector<NamedTensor>& feeds) {
  std::vector<Problem> out;
  std::string names;
  for (const auto& in : model.inputs()) names += (names.empty() ? "" : ", ") + in.name;
  for (const auto& f : feeds) {
    const TensorInfo* info = nullptr;
    for (const auto& in : model.inputs())
      if (in.name == f.name) info = &in;
    if (!info) {
      out.push_back({f.name, "unexpected input", names, f.name});
      continue;
    }
    if (!info->has_shape) continue;
    if (static_cast<size_t>(f.tensor.rank()) != info->shape.size()) {
      out.push_back({f.name, "wrong rank", ExpectedText(*info), GotText(f.tensor)});
      continue;
    }
    for (size_t d = 0; d < info->shape.size(); ++d) {
      if (info->shape[d].fixed() && info->shape[d].value != f.tensor.dim(static_cast<int64_t>(d))) {
        out.push_back({f.name, "wrong size in dim " + std::to_string(d), ExpectedText(*info),
                       GotText(f.tensor)});
        break;
      }
    }
  }
  for (const auto& in : model.inputs()) {
    bool given = false;
    for (const auto& f : feeds) given |= f.name == in.name;
    if (!given) out.push_back({in.name, "missing input", ExpectedText(in), "nothing"});
  }
  return out;
}

// ---- JSON writing --------------------------------------------------------

// `b64`: strings go as TF Serving's {"b64": "..."} (outputs named *_bytes).
void AppendElement(const Tensor& t, int64_t i, std::string* out, bool b64 = false) {
  if (b64 && t.dtype() == DType::kString) {
    out->append("{\"b64\":\"");
    out->append(EncodeBase64(t.data<std::string>()[i]));
    out->append("\"}");
    return;
  }
  switch (t.dtype()) {
    case DType::kFloat32:
      return AppendJsonNumber(t.data<float>()[i], out);
    case DType::kFloat64:
      return AppendJsonNumber(t.data<double>()[i], out);
    case DType::kInt64:
      return AppendJsonNumber(t.data<int64_t>()[i], out);
    case DType::kInt32:
      return AppendJsonNumber(t.data<int32_t>()[i], out);
    case DType::kUInt64:
      return AppendJsonNumber(t.data<uint64_t>()[i], out);
    case DType::kBool:
      out->append(t.data<bool>()[i] ? "true" : "false");
      return;
    case DType::kString:
      return AppendJsonString(t.data<std::string>()[i], out);
    default: {
      double d = ElementAsDouble(t, i);
      if (IsFloatingPoint(t.dtype())) return AppendJsonNumber(d, out);
      return AppendJsonNumber(static_cast<int64_t>(d), out);
    }
  }
}

// Nested JSON arrays following the shape, from dim `d` at flat `offset`.
void AppendNested(const Tensor& t, size_t d, int64_t offset, std::string* out, bool b64 = false) {
  if (d == t.shape().size()) return AppendElement(t, offset, out, b64);
  int64_t stride = 1;
  for (size_t k = d + 1; k < t.shape().size(); ++k) stride *= t.shape()[k];
  out->push_back('[');
  for (int64_t i = 0; i < t.shape()[d]; ++i) {
    if (i) out->push_back(',');
    AppendNested(t, d + 1, offset + i * stride, out, b64);
  }
  out->push_back(']');
}

// Row r of a tensor of rank >= 1, nested.
void AppendRow(const Tensor& t, int64_t r, std::string* out, bool b64 = false) {
  if (t.rank() == 0) return AppendElement(t, 0, out, b64);
  int64_t stride = 1;
  for (size_t k = 1; k < t.shape().size(); ++k) stride *= t.shape()[k];
  AppendNested(t, 1, r * stride, out, b64);
}

std::string ShapeJson(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(s[i]);
  }
  return out + "]";
}

std::string DimsJson(const TensorInfo& info) {
  if (!info.has_shape) return "[-1]";
  std::string out = "[";
  for (size_t i = 0; i < info.shape.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(info.shape[i].fixed() ? info.shape[i].value : -1);
  }
  return out + "]";
}

std::string Platform(const Model& m) {
  const std::string& f = m.info().format;
  if (f == "onnx") return "onnx_onnxv1";
  std::string out = f.rfind("tiffin", 0) == 0 ? "" : "tiffin_";
  for (char c : f.empty() ? std::string("model") : f)
    out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_';
  return out;
}

// ---- paths -------------------------------------------------------------------

std::vector<std::string> SplitPath(std::string_view target) {
  size_t q = target.find('?');
  if (q != std::string_view::npos) target = target.substr(0, q);
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= target.size()) {
    size_t j = target.find('/', i);
    if (j == std::string_view::npos) j = target.size();
    if (j > i) out.emplace_back(target.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

simdjson::dom::parser& Parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

std::string Minify(element e) { return simdjson::minify(e); }

}  // namespace

// ---- inference -------------------------------------------------------------

namespace {

struct Inference {
  std::vector<NamedTensor> outputs;
  std::vector<std::string> warnings;
};

}  // namespace

struct InferContext {
  const HttpRequest* req;
  std::vector<std::string> names;  // for redaction
};

class ServiceImpl {
 public:
  static Result<Inference> Run(Batcher* batcher, const ServedVersion& sv,
                               std::vector<NamedTensor> feeds, const HttpRequest& req,
                               Failure* failure);
};

Result<Inference> ServiceImpl::Run(Batcher* batcher, const ServedVersion& sv,
                                   std::vector<NamedTensor> feeds, const HttpRequest& req,
                                   Failure* failure) {
  const Model& model = *sv.model;
  VersionStats& st = *sv.stats;
  auto t0 = Clock::now();
  auto fail = [&](Failure f) -> Status {
    st.failure.fetch_add(1, std::memory_order_relaxed);
    st.fail_ns.fetch_add(Ns(req.received, Clock::now()), std::memory_order_relaxed);
    *failure = std::move(f);
    return InvalidArgument(failure->message);
  };
  std::vector<Problem> problems = CheckSchema(model, feeds);
  if (!problems.empty()) {
    const Problem& p = problems[0];
    std::string msg = std::to_string(problems.size()) +
                      (problems.size() == 1 ? " input does" : " inputs do") +
                      " not match the model: input '" + p.input + "': " + p.problem +
                      ", expected " + p.expected + ", got " + p.got;
    return fail({400, msg, problems});
  }
  // The dtype mismatches, noted before ConformInputs takes the feeds: they
  // explain its error, if it fails. Nothing is allocated when there are none.
  std::vector<Problem> dtype_problems;
  for (const auto& in : model.inputs()) {
    for (const auto& f : feeds) {
      if (f.name == in.name && f.tensor.dtype() != in.dtype && in.dtype != DType::kUndefined) {
        dtype_problems.push_back({f.name, "wrong dtype", ExpectedText(in), GotText(f.tensor)});
      }
    }
  }
  auto conformed = ConformInputs(model, std::move(feeds));
  if (!conformed.ok()) {
    return fail({HttpStatusOf(conformed.status()), conformed.status().message(), dtype_problems});
  }
  Inference inf;
  inf.warnings = RangeWarnings(model, *conformed);
  int64_t rows = 1;
  if (!conformed->empty() && (*conformed)[0].tensor.rank() > 0)
    rows = (*conformed)[0].tensor.dim(0);
  auto t1 = Clock::now();
  Clock::time_point compute_start = t1;
  const bool batching = batcher && sv.batching.max_batch_size > 1;
  auto outputs = batching ? batcher->Run(sv, *conformed, &compute_start) : model.Run(*conformed);
  auto t2 = Clock::now();
  if (!outputs.ok()) {
    int http = HttpStatusOf(outputs.status());
    if (outputs.status().code() == StatusCode::kResourceExhausted) http = 400;
    return fail({http, outputs.status().message(), {}});
  }
  for (size_t i = 0; i < outputs->size(); ++i)
    inf.outputs.push_back({model.outputs()[i].name, std::move((*outputs)[i])});
  st.success.fetch_add(1, std::memory_order_relaxed);
  st.inference_count.fetch_add(static_cast<uint64_t>(rows), std::memory_order_relaxed);
  if (!batching) st.exec_count.fetch_add(1, std::memory_order_relaxed);
  st.queue_ns.fetch_add(Ns(req.received, req.started) + Ns(t1, compute_start),
                        std::memory_order_relaxed);
  st.compute_ns.fetch_add(Ns(t0, t1) + Ns(compute_start, t2), std::memory_order_relaxed);
  st.request_ns.fetch_add(Ns(req.received, Clock::now()), std::memory_order_relaxed);
  st.last_inference_ms.store(std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count(),
                             std::memory_order_relaxed);
  return inf;
}

namespace {

io::ParseLimits LimitsFor(size_t body_bytes) {
  io::ParseLimits l;
  // JSON numbers take at least two bytes each; a tensor parsed from a body
  // cannot honestly be much larger than the body.
  l.max_elements = std::max<size_t>(body_bytes, 1024);
  l.max_tensor_bytes = std::max<size_t>(body_bytes * 8, 1 << 16);
  return l;
}

// Builds a tensor from Triton binary-extension bytes.
Result<Tensor> TensorFromBinary(const std::string& name, DType dtype, const Shape& shape,
                                std::string_view bytes) {
  TIFFIN_ASSIGN_OR_RETURN(int64_t count, CheckedElementCount(shape));
  if (dtype == DType::kString) {
    if (static_cast<size_t>(count) > bytes.size() / 4 + 1) {
      return InvalidArgument("input '" + name + "': shape " + ShapeToString(shape) + " holds " +
                             std::to_string(count) + " BYTES elements but only " +
                             std::to_string(bytes.size()) + " bytes were sent");
    }
    Tensor t(dtype, shape);
    size_t pos = 0;
    for (int64_t i = 0; i < count; ++i) {
      if (pos + 4 > bytes.size()) {
        return InvalidArgument("input '" + name + "': BYTES data ends inside element " +
                               std::to_string(i));
      }
      uint32_t len;
      std::memcpy(&len, bytes.data() + pos, 4);
      pos += 4;
      if (len > bytes.size() - pos) {
        return InvalidArgument("input '" + name + "': BYTES element " + std::to_string(i) +
                               " is longer than the data sent");
      }
      t.data<std::string>()[i].assign(bytes.data() + pos, len);
      pos += len;
    }
    if (pos != bytes.size()) {
      return InvalidArgument("input '" + name + "': binary_data_size is " +
                             std::to_string(bytes.size()) + " but the elements use " +
                             std::to_string(pos));
    }
    return t;
  }
  const size_t want = static_cast<size_t>(count) * DTypeSize(dtype);
  if (want != bytes.size()) {
    return InvalidArgument("input '" + name + "': shape " + ShapeToString(shape) + " of " +
                           std::string(DTypeKServeName(dtype)) + " needs " + std::to_string(want) +
                           " bytes, binary_data_size is " + std::to_string(bytes.size()));
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(dtype, shape, bytes.size() + 1));
  if (dtype == DType::kBool) {
    for (int64_t i = 0; i < count; ++i) t.data<bool>()[i] = bytes[static_cast<size_t>(i)] != 0;
  } else if (!bytes.empty()) {
    std::memcpy(t.raw_data(), bytes.data(), bytes.size());
  }
  return t;
}

struct V2Request {
  std::string id;
  bool has_id = false;
  bool binary_output = false;
  bool pd = false;
  struct Out {
    std::string name;
    bool binary = false;
  };
  std::vector<Out> outputs;
  bool outputs_given = false;
  std::vector<NamedTensor> inputs;
};

Status ParseV2(const HttpRequest& req, const Model& model, V2Request* out) {
  std::string_view body = req.body;
  std::string_view binary;
  std::string hdr = req.Header("Inference-Header-Content-Length");
  if (!hdr.empty()) {
    size_t n = 0;
    auto r = std::from_chars(hdr.data(), hdr.data() + hdr.size(), n);
    if (r.ec != std::errc() || r.ptr != hdr.data() + hdr.size() || n > body.size()) {
      return InvalidArgument("Inference-Header-Content-Length '" + hdr +
                             "' is not a length within the body of " + std::to_string(body.size()) +
                             " bytes");
    }
    binary = body.substr(n);
    body = body.substr(0, n);
  }
  const io::ParseLimits limits = LimitsFor(req.body.size());
  element root;
  if (auto err = Parser().parse(body.data(), body.size()).get(root); err) {
    return InvalidArgument(std::string("request is not valid JSON: ") +
                           simdjson::error_message(err));
  }
  object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) {
    return InvalidArgument("request must be a JSON object {\"inputs\": [...]}");
  }
  element idv;
  if (obj["id"].get(idv) == simdjson::SUCCESS) {
    std::string_view s;
    out->has_id = true;
    out->id = idv.get_string().get(s) == simdjson::SUCCESS ? std::string(s) : Minify(idv);
  }
  object params;
  if (obj["parameters"].get_object().get(params) == simdjson::SUCCESS) {
    std::string_view ct;
    if (params["content_type"].get_string().get(ct) == simdjson::SUCCESS) out->pd = ct == "pd";
    bool b;
    if (params["binary_data_output"].get_bool().get(b) == simdjson::SUCCESS) out->binary_output = b;
  }
  array outs;
  if (obj["outputs"].get_array().get(outs) == simdjson::SUCCESS) {
    out->outputs_given = true;
    for (element o : outs) {
      std::string_view n;
      if (o["name"].get_string().get(n) != simdjson::SUCCESS) {
        return InvalidArgument("outputs[] entries need a \"name\"");
      }
      V2Request::Out ro{std::string(n), out->binary_output};
      bool b;
      if (o["parameters"]["binary_data"].get_bool().get(b) == simdjson::SUCCESS) ro.binary = b;
      out->outputs.push_back(ro);
    }
  }
  array inputs;
  if (obj["inputs"].get_array().get(inputs) != simdjson::SUCCESS) {
    return InvalidArgument(
        "request needs \"inputs\": [{\"name\", \"shape\", \"datatype\", "
        "\"data\"}]");
  }
  // Binary inputs are built here, JSON ones by io::ParseV2Input on the
  // document already parsed.
  size_t k = 0, offset = 0;
  for (element in : inputs) {
    const size_t pos = k++;
    int64_t size;
    if (in["parameters"]["binary_data_size"].get_int64().get(size) == simdjson::SUCCESS) {
      std::string_view n, dt;
      if (in["name"].get_string().get(n) != simdjson::SUCCESS ||
          in["datatype"].get_string().get(dt) != simdjson::SUCCESS) {
        return InvalidArgument("inputs[" + std::to_string(pos) +
                               "]: a binary input needs \"name\" and \"datatype\"");
      }
      auto dtype = ParseDType(dt);
      if (!dtype) {
        return InvalidArgument("input '" + std::string(n) + "': unknown datatype '" +
                               std::string(dt) + "'");
      }
      Shape shape;
      array sa;
      if (in["shape"].get_array().get(sa) != simdjson::SUCCESS) {
        return InvalidArgument("input '" + std::string(n) + "': missing \"shape\"");
      }
      for (element d : sa) {
        int64_t v;
        if (d.get_int64().get(v) != simdjson::SUCCESS || v < 0) {
          return InvalidArgument("input '" + std::string(n) +
                                 "': shape must list non-negative integers");
        }
        shape.push_back(v);
      }
      if (size < 0 || static_cast<size_t>(size) > binary.size() - offset) {
        return InvalidArgument("input '" + std::string(n) + "': binary_data_size " +
                               std::to_string(size) + " runs past the " +
                               std::to_string(binary.size() - offset) + " binary bytes left");
      }
      TIFFIN_ASSIGN_OR_RETURN(Tensor t,
                              TensorFromBinary(std::string(n), *dtype, shape,
                                               binary.substr(offset, static_cast<size_t>(size))));
      offset += static_cast<size_t>(size);
      out->inputs.push_back({std::string(n), std::move(t)});
    } else {
      TIFFIN_ASSIGN_OR_RETURN(NamedTensor t, io::ParseV2Input(in, pos, model.inputs(), limits));
      out->inputs.push_back(std::move(t));
    }
  }
  if (offset != binary.size()) {
    return InvalidArgument("the body holds " + std::to_string(binary.size() - offset) +
                           " binary bytes no input claims (check binary_data_size)");
  }
  if (out->pd) {
    // MLServer's tabular convention: one input per column.
    std::string cols = "{";
    for (size_t i = 0; i < out->inputs.size(); ++i) {
      if (i) cols += ',';
      AppendJsonString(out->inputs[i].name, &cols);
      cols += ':';
      io::AppendJsonData(out->inputs[i].tensor, &cols);
    }
    cols += '}';
    TIFFIN_ASSIGN_OR_RETURN(
        out->inputs, io::ParseTabular(cols, model.inputs(), model.info().feature_names, limits));
  }
  return Status::Ok();
}

void AppendBinary(const Tensor& t, std::string* out) {
  if (t.dtype() == DType::kString) {
    for (int64_t i = 0; i < t.size(); ++i) {
      const std::string& s = t.data<std::string>()[i];
      uint32_t len = static_cast<uint32_t>(s.size());
      out->append(reinterpret_cast<const char*>(&len), 4);
      out->append(s);
    }
    return;
  }
  out->append(static_cast<const char*>(t.raw_data()), t.nbytes());
}

size_t BinarySize(const Tensor& t) {
  if (t.dtype() != DType::kString) return t.nbytes();
  size_t n = 0;
  for (int64_t i = 0; i < t.size(); ++i) n += 4 + t.data<std::string>()[i].size();
  return n;
}

// TF Serving's request forms (also MLflow's "instances"/"inputs") -> the
// model's feeds. Values are read from the parsed document; only the row form
// of several named inputs is gathered into a document of columns and parsed
// again.
Result<std::vector<NamedTensor>> TfInputs(element root, const Model& model,
                                          const io::ParseLimits& limits, bool* row_format) {
  object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) {
    return InvalidArgument("request must be a JSON object with \"instances\" or \"inputs\"");
  }
  element instances, inputs;
  const bool has_inst = obj["instances"].get(instances) == simdjson::SUCCESS;
  const bool has_inputs = obj["inputs"].get(inputs) == simdjson::SUCCESS;
  if (has_inst == has_inputs) {
    return InvalidArgument(
        "send exactly one of \"instances\" (row format) or \"inputs\" (columnar format)");
  }
  const auto& ins = model.inputs();
  auto is_input = [&](std::string_view n) {
    for (const auto& i : ins)
      if (i.name == n) return true;
    return false;
  };
  *row_format = has_inst;
  if (has_inst) {
    array rows;
    if (instances.get_array().get(rows) != simdjson::SUCCESS) {
      return InvalidArgument("\"instances\" must be a list (one entry per row)");
    }
    element first;
    bool objects = false;
    for (element r : rows) {
      first = r;
      objects = r.is_object();
      break;
    }
    if (!objects) {
      if (ins.size() != 1) {
        return InvalidArgument("this model has " + std::to_string(ins.size()) +
                               " inputs: each instance must be an object {input: value}");
      }
      TIFFIN_ASSIGN_OR_RETURN(NamedTensor t,
                              io::ParseNamedInput(ins[0].name, instances, ins, limits));
      return std::vector<NamedTensor>{std::move(t)};
    }
    std::vector<std::string> lists(ins.size(), "[");
    size_t r = 0;
    for (element row : rows) {
      object o;
      if (row.get_object().get(o) != simdjson::SUCCESS) {
        return InvalidArgument("instances[" + std::to_string(r) + "] is not an object");
      }
      for (auto field : o) {
        if (!is_input(field.key)) {
          return InvalidArgument("instances[" + std::to_string(r) + "] names '" +
                                 std::string(field.key) + "', which is not a model input");
        }
      }
      for (size_t i = 0; i < ins.size(); ++i) {
        element v;
        if (o[ins[i].name].get(v) != simdjson::SUCCESS) {
          return InvalidArgument("instances[" + std::to_string(r) + "] lacks input '" +
                                 ins[i].name + "'");
        }
        if (r) lists[i] += ',';
        lists[i] += Minify(v);
      }
      ++r;
    }
    std::string doc = "{";
    for (size_t i = 0; i < ins.size(); ++i) {
      if (i) doc += ',';
      doc += JsonQuote(ins[i].name) + ":" + lists[i] + "]";
    }
    doc += "}";
    return io::ParseJsonInputs(doc, ins, limits);
  }
  object named;
  if (inputs.get_object().get(named) == simdjson::SUCCESS) {
    std::vector<NamedTensor> feeds;
    for (auto field : named) {
      TIFFIN_ASSIGN_OR_RETURN(
          NamedTensor t, io::ParseNamedInput(std::string(field.key), field.value, ins, limits));
      feeds.push_back(std::move(t));
    }
    if (feeds.empty()) return InvalidArgument("\"inputs\" names no model input");
    return feeds;
  }
  if (ins.size() != 1) {
    return InvalidArgument("this model has " + std::to_string(ins.size()) +
                           " inputs: \"inputs\" must be an object {input: value}");
  }
  TIFFIN_ASSIGN_OR_RETURN(NamedTensor t, io::ParseNamedInput(ins[0].name, inputs, ins, limits));
  return std::vector<NamedTensor>{std::move(t)};
}

// The bytes of a process's resident set, from /proc/self/statm.
double ResidentBytes(double* virt) {
  std::ifstream f("/proc/self/statm");
  double pages_v = 0, pages_r = 0;
  f >> pages_v >> pages_r;
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  *virt = pages_v * page;
  return pages_r * page;
}

const auto kProcessStart = std::chrono::system_clock::now();

std::string TfDType(DType d) {
  switch (d) {
    case DType::kFloat32:
      return "DT_FLOAT";
    case DType::kFloat64:
      return "DT_DOUBLE";
    case DType::kInt64:
      return "DT_INT64";
    case DType::kInt32:
      return "DT_INT32";
    case DType::kString:
      return "DT_STRING";
    case DType::kBool:
      return "DT_BOOL";
    default:
      return "DT_" + std::string(DTypeName(d));
  }
}

std::string TfSignature(const std::vector<TensorInfo>& ts) {
  std::string out = "{";
  for (size_t i = 0; i < ts.size(); ++i) {
    if (i) out += ',';
    out += JsonQuote(ts[i].name) + ":{\"dtype\":" + JsonQuote(TfDType(ts[i].dtype)) +
           ",\"tensor_shape\":{\"dim\":[";
    for (size_t d = 0; d < ts[i].shape.size(); ++d) {
      if (d) out += ',';
      out += "{\"size\":\"" + std::to_string(ts[i].shape[d].fixed() ? ts[i].shape[d].value : -1) +
             "\",\"name\":\"\"}";
    }
    out += std::string("],\"unknown_rank\":") + (ts[i].has_shape ? "false" : "true") +
           "},\"name\":" + JsonQuote(ts[i].name) + "}";
  }
  return out + "}";
}

std::string TensorsMeta(const std::vector<TensorInfo>& ts) {
  std::string out = "[";
  for (size_t i = 0; i < ts.size(); ++i) {
    if (i) out += ',';
    out += "{\"name\":" + JsonQuote(ts[i].name) +
           ",\"datatype\":" + JsonQuote(std::string(DTypeKServeName(ts[i].dtype))) +
           ",\"shape\":" + DimsJson(ts[i]) + "}";
  }
  return out + "]";
}

}  // namespace

// ---- Service ---------------------------------------------------------------

Service::Service(Repository* repo, ServiceOptions options) : repo_(repo), options_(options) {
  batcher_ = std::make_unique<Batcher>();
}
Service::~Service() = default;

namespace {

std::vector<std::string> KnownNames(const Model& m) {
  std::vector<std::string> names;
  for (const auto& i : m.inputs()) names.push_back(i.name);
  for (const auto& o : m.outputs()) names.push_back(o.name);
  for (const auto& f : m.info().feature_names) names.push_back(f);
  return names;
}

HttpResponse FailureResponse(const Failure& f, const Model* m, bool redact) {
  std::string msg = f.message;
  if (redact) msg = Redact(msg, m ? KnownNames(*m) : std::vector<std::string>{});
  return Error(f.http, msg, ProblemsJson(f.details));
}

HttpResponse StatusResponse(const Status& s, const Model* m, bool redact) {
  Failure f{HttpStatusOf(s), s.message(), {}};
  return FailureResponse(f, m, redact);
}

}  // namespace

HttpResponse Service::Handle(const HttpRequest& req) {
  const std::vector<std::string> p = SplitPath(req.target);
  const bool get = req.method == "GET" || req.method == "HEAD";
  const bool post = req.method == "POST";
  auto method_not_allowed = [&](const char* allowed) {
    HttpResponse r = Error(
        405, "method " + req.method + " not allowed on " + req.target + " (use " + allowed + ")");
    r.headers.emplace_back("Allow", allowed);
    return r;
  };

  // Decodes, checks and runs one request on a version; `decode` fills feeds.
  auto infer = [&](const ServedVersion& sv, std::vector<NamedTensor> feeds,
                   Failure* failure) -> Result<Inference> {
    return ServiceImpl::Run(batcher_.get(), sv, std::move(feeds), req, failure);
  };
  auto decode_failed = [&](const ServedVersion& sv, const Status& s) {
    sv.stats->failure.fetch_add(1, std::memory_order_relaxed);
    return StatusResponse(s, sv.model.get(), options_.redact_errors);
  };

  // ---- health, metadata, metrics ----
  if (p.empty())
    return Json(200, "{\"name\":\"tiffin\",\"version\":\"" + std::string(Version()) + "\"}");
  if (p[0] == "metrics" && p.size() == 1) {
    if (!get) return method_not_allowed("GET");
    HttpResponse r = Json(200, Metrics());
    r.content_type = "text/plain; version=0.0.4";
    return r;
  }
  if ((p[0] == "ping" || p[0] == "health") && p.size() == 1) {
    if (!repo_->AllReady()) {
      HttpResponse r = Error(503, "not ready");
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    return Json(200, "{}");
  }
  if (p[0] == "version" && p.size() == 1) {
    HttpResponse r = Json(200, std::string(Version()));
    r.content_type = "text/plain";
    return r;
  }

  // ---- Open Inference Protocol (V2) ----
  if (p[0] == "v2") {
    if (p.size() == 1) {
      if (!get) return method_not_allowed("GET");
      return Json(200, "{\"name\":\"tiffin\",\"version\":\"" + std::string(Version()) +
                           "\",\"extensions\":[\"binary_tensor_data\",\"model_repository\","
                           "\"statistics\"]}");
    }
    if (p[1] == "health" && p.size() == 3) {
      if (!get) return method_not_allowed("GET");
      if (p[2] == "live") return Json(200, "");
      if (p[2] == "ready") {
        if (repo_->AllReady()) return Json(200, "");
        HttpResponse r = Error(503, "not every model has a version serving");
        r.headers.emplace_back("Retry-After", "1");
        return r;
      }
    }
    if (p[1] == "repository") {
      if (!post) return method_not_allowed("POST");
      if (p.size() == 3 && p[2] == "index") {
        bool ready_only = false;
        element root;
        if (!req.body.empty() &&
            Parser().parse(req.body.data(), req.body.size()).get(root) == simdjson::SUCCESS) {
          bool b;
          if (root["ready"].get_bool().get(b) == simdjson::SUCCESS) ready_only = b;
        }
        std::string out = "[";
        auto add = [&](const std::string& name, const std::string& version,
                       const std::string& state, const std::string& reason) {
          if (ready_only && state != "READY") return;
          if (out.size() > 1) out += ',';
          out += "{\"name\":" + JsonQuote(name) +
                 (version.empty() ? "" : ",\"version\":" + JsonQuote(version)) +
                 ",\"state\":" + JsonQuote(state) + ",\"reason\":" + JsonQuote(reason) + "}";
        };
        for (const auto& m : repo_->Models()) {
          if (m->unloaded) {
            add(m->name, "", "UNAVAILABLE", m->gone ? "removed from the repository" : "unloaded");
            continue;
          }
          for (const auto& [v, sv] : m->versions) {
            auto f = m->failed.find(v);
            std::string why = f == m->failed.end()
                                  ? ""
                                  : "reload failed, previous file still serving: " + f->second;
            if (!m->config_error.empty()) {
              why += (why.empty() ? "" : "; ") + m->config_error +
                     " (serving with the previous settings)";
            }
            add(m->name, std::to_string(v), "READY", why);
          }
          for (const auto& [v, why] : m->failed)
            if (!m->versions.count(v)) add(m->name, std::to_string(v), "UNAVAILABLE", why);
          for (const auto& [v, why] : m->removed)
            if (!m->versions.count(v)) add(m->name, std::to_string(v), "UNAVAILABLE", why);
          if (m->versions.empty() && m->failed.empty() && m->removed.empty()) {
            add(m->name, "", "UNAVAILABLE",
                m->config_error.empty() ? "no versions" : m->config_error);
          }
        }
        return Json(200, out + "]");
      }
      if (p.size() == 5 && p[2] == "models" && (p[4] == "load" || p[4] == "unload")) {
        Status s = p[4] == "load" ? repo_->Load(p[3]) : repo_->Unload(p[3]);
        if (!s.ok()) return Error(HttpStatusOf(s), s.message());
        return Json(200, "{}");
      }
      return Error(404, "no such repository endpoint: " + req.target);
    }
    if (p[1] == "models") {
      if (p.size() == 3 && p[2] == "stats") {
        // all models, below
      }
      // /v2/models/{m}[/versions/{v}][/ready|/infer|/stats]
      std::string name = p.size() >= 3 ? p[2] : "";
      size_t i = 3;
      std::string version;
      if (p.size() >= 5 && p[3] == "versions") {
        version = p[4];
        i = 5;
      }
      std::string action = i < p.size() ? p[i] : "";
      if (i + 1 < p.size()) return Error(404, "no such endpoint: " + req.target);
      const bool all_stats = p.size() == 3 && p[2] == "stats";
      if (action == "stats" || all_stats) {
        if (!get) return method_not_allowed("GET");
        std::string out = "{\"model_stats\":[";
        bool first = true;
        bool found = false;
        for (const auto& m : repo_->Models()) {
          if (!all_stats && m->name != name) continue;
          for (const auto& [v, sv] : m->versions) {
            if (!version.empty() && std::to_string(v) != version) continue;
            found = true;
            const VersionStats& s = *sv->stats;
            auto pair = [](uint64_t c, uint64_t ns) {
              return "{\"count\":" + std::to_string(c) + ",\"ns\":" + std::to_string(ns) + "}";
            };
            if (!first) out += ',';
            first = false;
            out +=
                "{\"name\":" + JsonQuote(m->name) + ",\"version\":\"" + std::to_string(v) +
                "\",\"last_inference\":" + std::to_string(s.last_inference_ms.load()) +
                ",\"inference_count\":" + std::to_string(s.inference_count.load()) +
                ",\"execution_count\":" + std::to_string(s.exec_count.load()) +
                ",\"inference_stats\":{\"success\":" + pair(s.success.load(), s.request_ns.load()) +
                ",\"fail\":" + pair(s.failure.load(), s.fail_ns.load()) +
                ",\"queue\":" + pair(s.success.load(), s.queue_ns.load()) +
                ",\"compute_infer\":" + pair(s.success.load(), s.compute_ns.load()) + "}}";
          }
        }
        if (!all_stats && !found) {
          auto f = repo_->Find(name, version, "");
          if (!f.ok()) return Error(404, f.status().message());
        }
        return Json(200, out + "]}");
      }
      auto sv_or = repo_->Find(name, version, "");
      if (action == "ready") {
        if (!get) return method_not_allowed("GET");
        if (!sv_or.ok()) return Error(404, sv_or.status().message());
        return Json(200, "");
      }
      if (!sv_or.ok()) return Error(404, sv_or.status().message());
      const ServedVersion& sv = **sv_or;
      const Model& model = *sv.model;
      if (action.empty()) {
        if (!get) return method_not_allowed("GET");
        std::string versions = "[";
        if (auto m = repo_->Get(name)) {
          for (const auto& [v, s] : m->versions) {
            if (versions.size() > 1) versions += ',';
            versions += "\"" + std::to_string(v) + "\"";
          }
        }
        return Json(200, "{\"name\":" + JsonQuote(name) + ",\"versions\":" + versions +
                             "],\"platform\":" + JsonQuote(Platform(model)) +
                             ",\"inputs\":" + TensorsMeta(model.inputs()) +
                             ",\"outputs\":" + TensorsMeta(model.outputs()) + "}");
      }
      if (action == "infer") {
        if (!post) return method_not_allowed("POST");
        V2Request v2;
        Status ps = ParseV2(req, model, &v2);
        if (!ps.ok()) return decode_failed(sv, ps);
        Failure failure;
        auto inf = infer(sv, std::move(v2.inputs), &failure);
        if (!inf.ok()) return FailureResponse(failure, &model, options_.redact_errors);
        // Which outputs, and which go as binary.
        std::vector<std::pair<const NamedTensor*, bool>> sel;
        if (v2.outputs_given) {
          for (const auto& o : v2.outputs) {
            const NamedTensor* found = nullptr;
            for (const auto& t : inf->outputs)
              if (t.name == o.name) found = &t;
            if (!found) {
              std::string names;
              for (const auto& t : inf->outputs) names += (names.empty() ? "" : ", ") + t.name;
              return Error(
                  400, "requested output '" + o.name + "' is not a model output (" + names + ")");
            }
            sel.push_back({found, o.binary});
          }
        } else {
          for (const auto& t : inf->outputs) sel.push_back({&t, v2.binary_output});
        }
        std::string out = "{\"model_name\":" + JsonQuote(sv.model_name) + ",\"model_version\":\"" +
                          std::to_string(sv.version) + "\"";
        if (v2.has_id) out += ",\"id\":" + JsonQuote(v2.id);
        out += ",\"outputs\":[";
        std::string binary;
        for (size_t i2 = 0; i2 < sel.size(); ++i2) {
          const Tensor& t = sel[i2].first->tensor;
          if (i2) out += ',';
          out += "{\"name\":" + JsonQuote(sel[i2].first->name) + ",\"datatype\":\"" +
                 std::string(DTypeKServeName(t.dtype())) + "\",\"shape\":" + ShapeJson(t.shape());
          if (sel[i2].second) {
            out += ",\"parameters\":{\"binary_data_size\":" + std::to_string(BinarySize(t)) + "}}";
            AppendBinary(t, &binary);
          } else {
            out += ",\"data\":";
            io::AppendJsonData(t, &out);
            out += "}";
          }
        }
        out += "]";
        if (!inf->warnings.empty()) out += ",\"warnings\":" + JsonStringList(inf->warnings);
        out += "}";
        HttpResponse r;
        if (!binary.empty() ||
            std::any_of(sel.begin(), sel.end(), [](auto& s) { return s.second; })) {
          r.headers.emplace_back("Inference-Header-Content-Length", std::to_string(out.size()));
          r.content_type = "application/octet-stream";
          out += binary;
        }
        r.body = std::move(out);
        return r;
      }
      return Error(404, "no such endpoint: " + req.target);
    }
    return Error(404, "no such endpoint: " + req.target);
  }

  // ---- TF Serving ----
  if (p[0] == "v1" && p.size() >= 3 && p[1] == "models") {
    std::string last = p.back();
    std::string verb;
    size_t colon = last.find(':');
    std::vector<std::string> q = p;
    if (colon != std::string::npos) {
      verb = last.substr(colon + 1);
      q.back() = last.substr(0, colon);
    }
    const std::string name = q[2];
    std::string version, label, tail;
    size_t i = 3;
    if (q.size() >= 5 && (q[3] == "versions" || q[3] == "labels")) {
      (q[3] == "versions" ? version : label) = q[4];
      i = 5;
    }
    if (i < q.size()) tail = q[i++];
    if (i < q.size() || (!tail.empty() && tail != "metadata") || (!verb.empty() && !tail.empty())) {
      return Json(404, "{\"error\":" + JsonQuote("no such endpoint: " + req.target) + "}");
    }
    auto tf_error = [](int status, const std::string& msg) {
      return Json(status, "{\"error\":" + JsonQuote(msg) + "}");
    };
    if (verb.empty() && tail.empty()) {
      if (!get) return method_not_allowed("GET");
      auto m = repo_->Get(name);
      if (!m || m->unloaded) return tf_error(404, "Servable not found for request: " + name);
      std::string out = "{\"model_version_status\":[";
      bool first = true;
      std::vector<int64_t> vs;
      for (const auto& [v, sv] : m->versions) vs.push_back(v);
      for (const auto& [v, why] : m->failed)
        if (!m->versions.count(v)) vs.push_back(v);
      for (const auto& [v, why] : m->removed)
        if (!m->versions.count(v) && !m->failed.count(v)) vs.push_back(v);
      std::sort(vs.begin(), vs.end());
      if (!label.empty() || !version.empty()) {
        auto f = repo_->Find(name, version, label);
        if (!f.ok()) return tf_error(404, f.status().message());
        vs = {(*f)->version};
      }
      for (int64_t v : vs) {
        if (!first) out += ',';
        first = false;
        const bool ok = m->versions.count(v) > 0;
        auto f = m->failed.find(v);
        auto rm = m->removed.find(v);
        const std::string why = ok                       ? ""
                                : f != m->failed.end()   ? f->second
                                : rm != m->removed.end() ? rm->second
                                                         : "";
        out += "{\"version\":\"" + std::to_string(v) + "\",\"state\":\"" +
               (ok ? "AVAILABLE" : "END") + "\",\"status\":{\"error_code\":\"" +
               (ok ? "OK" : "UNKNOWN") + "\",\"error_message\":" + JsonQuote(why) + "}}";
      }
      return Json(200, out + "]}");
    }
    auto sv_or = repo_->Find(name, version, label);
    if (!sv_or.ok()) return tf_error(404, sv_or.status().message());
    const ServedVersion& sv = **sv_or;
    const Model& model = *sv.model;
    if (tail == "metadata") {
      if (!get) return method_not_allowed("GET");
      return Json(200, "{\"model_spec\":{\"name\":" + JsonQuote(name) +
                           ",\"signature_name\":\"\",\"version\":\"" + std::to_string(sv.version) +
                           "\"},\"metadata\":{\"signature_def\":{\"signature_def\":{"
                           "\"serving_default\":{\"inputs\":" +
                           TfSignature(model.inputs()) +
                           ",\"outputs\":" + TfSignature(model.outputs()) +
                           ",\"method_name\":\"tensorflow/serving/predict\"}}}}}");
    }
    if (verb != "predict" && verb != "classify" && verb != "regress") {
      return tf_error(404, "':" + verb +
                               "' is not supported; use ':predict', ':classify' or "
                               "':regress'");
    }
    if (!post) return method_not_allowed("POST");
    element root;
    if (auto err = Parser().parse(req.body.data(), req.body.size()).get(root); err) {
      return decode_failed(sv, InvalidArgument(std::string("request is not valid JSON: ") +
                                               simdjson::error_message(err)));
    }
    const io::ParseLimits limits = LimitsFor(req.body.size());
    B64Values b64;
    if (verb != "predict") {
      // tf.Example-style "examples": one answer per example.
      auto which = verb == "classify" ? ClassifyOutput(model) : RegressOutput(model);
      if (!which.ok()) return decode_failed(sv, which.status());
      auto feeds = ParseExamples(root, model, limits, &b64);
      if (!feeds.ok()) return decode_failed(sv, feeds.status());
      const int64_t examples =
          feeds->empty() || (*feeds)[0].tensor.rank() == 0 ? 1 : (*feeds)[0].tensor.dim(0);
      Failure failure;
      auto inf = infer(sv, std::move(feeds).value(), &failure);
      if (!inf.ok()) {
        failure.message = b64.Scrub(failure.message);
        return FailureResponse(failure, &model, options_.redact_errors);
      }
      const NamedTensor& o = inf->outputs[*which];
      auto body = verb == "classify" ? ClassifyResult(model, o.tensor, examples)
                                     : RegressResult(o.name, o.tensor, examples);
      if (!body.ok()) return StatusResponse(body.status(), &model, options_.redact_errors);
      if (!inf->warnings.empty())
        body->insert(body->size() - 1, ",\"warnings\":" + JsonStringList(inf->warnings));
      return Json(200, std::move(body).value());
    }
    std::string rewritten;
    if (req.body.find("\"b64\"") != std::string::npos) {
      // {"b64": "..."} values: decoded, then parsed like the rest.
      Status rs = RewriteB64Predict(root, model, &rewritten, &b64);
      if (!rs.ok()) return decode_failed(sv, rs);
      if (Parser().parse(rewritten).get(root) != simdjson::SUCCESS) {
        return decode_failed(sv, InvalidArgument("request is not valid JSON"));
      }
    }
    bool row_format = false;
    auto feeds = TfInputs(root, model, limits, &row_format);
    if (!feeds.ok()) {
      return decode_failed(sv, Status(feeds.status().code(), b64.Scrub(feeds.status().message())));
    }
    b64.Fill(&*feeds);
    Failure failure;
    auto inf = infer(sv, std::move(feeds).value(), &failure);
    if (!inf.ok()) {
      failure.message = b64.Scrub(failure.message);
      return FailureResponse(failure, &model, options_.redact_errors);
    }
    const auto& outs = inf->outputs;
    // Output tensors whose name ends in _bytes go as {"b64": "..."}.
    auto is_bytes = [](const NamedTensor& t) {
      return t.name.size() >= 6 && t.name.compare(t.name.size() - 6, 6, "_bytes") == 0;
    };
    std::string out;
    if (row_format) {
      out = "{\"predictions\":";
      if (outs.size() == 1) {
        AppendNested(outs[0].tensor, 0, 0, &out, is_bytes(outs[0]));
      } else {
        int64_t rows = outs.empty() || outs[0].tensor.rank() == 0 ? 0 : outs[0].tensor.dim(0);
        out += '[';
        for (int64_t r = 0; r < rows; ++r) {
          if (r) out += ',';
          out += '{';
          for (size_t k = 0; k < outs.size(); ++k) {
            if (k) out += ',';
            out += JsonQuote(outs[k].name) + ":";
            if (outs[k].tensor.rank() > 0 && outs[k].tensor.dim(0) > r)
              AppendRow(outs[k].tensor, r, &out, is_bytes(outs[k]));
            else
              out += "null";
          }
          out += '}';
        }
        out += ']';
      }
    } else {
      out = "{\"outputs\":";
      if (outs.size() == 1) {
        AppendNested(outs[0].tensor, 0, 0, &out, is_bytes(outs[0]));
      } else {
        out += '{';
        for (size_t k = 0; k < outs.size(); ++k) {
          if (k) out += ',';
          out += JsonQuote(outs[k].name) + ":";
          AppendNested(outs[k].tensor, 0, 0, &out, is_bytes(outs[k]));
        }
        out += '}';
      }
    }
    if (!inf->warnings.empty()) out += ",\"warnings\":" + JsonStringList(inf->warnings);
    return Json(200, out + "}");
  }

  // ---- MLflow scoring ----
  if (p[0] == "invocations" && p.size() == 1) {
    if (!post) return method_not_allowed("POST");
    auto mlflow_error = [](int status, const std::string& code, const std::string& msg,
                           const std::string& details = "[]") {
      return Json(status, "{\"error_code\":" + JsonQuote(code) + ",\"message\":" + JsonQuote(msg) +
                              ",\"details\":" + details + "}");
    };
    auto models = repo_->Models();
    std::shared_ptr<const ServedVersion> svp;
    for (const auto& m : models) {
      if (m->unloaded || m->versions.empty()) continue;
      if (svp) {
        return mlflow_error(400, "BAD_REQUEST",
                            "/invocations serves a single model; this server holds several: use "
                            "/v2/models/{name}/infer");
      }
      svp = m->versions.rbegin()->second;
    }
    if (!svp) return mlflow_error(503, "NOT_READY", "no model is serving");
    const ServedVersion& sv = *svp;
    const Model& model = *sv.model;
    std::string ct = req.Header("Content-Type");
    std::string media = ct.substr(0, ct.find(';'));
    while (!media.empty() && media.back() == ' ') media.pop_back();
    std::string params = ct.find(';') == std::string::npos ? "" : ct.substr(ct.find(';') + 1);
    for (auto& c : params) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    params.erase(std::remove(params.begin(), params.end(), ' '), params.end());
    if ((media != "application/json" && media != "text/csv") ||
        (!params.empty() && params != "charset=utf-8")) {
      HttpResponse r;
      r.status = 415;
      r.content_type = "text/plain";
      r.body =
          "This predictor only supports the following content types: Types: "
          "['text/csv', 'application/json']. Got '" +
          ct + "'.";
      return r;
    }
    Result<std::vector<NamedTensor>> feeds = std::vector<NamedTensor>{};
    const io::ParseLimits limits = LimitsFor(req.body.size());
    if (media == "text/csv") {
      feeds = io::ParseTabular(req.body, model.inputs(), model.info().feature_names, limits);
    } else {
      element root;
      object obj;
      if (auto err = Parser().parse(req.body.data(), req.body.size()).get(root); err) {
        return mlflow_error(
            400, "BAD_REQUEST",
            std::string("request is not valid JSON: ") + simdjson::error_message(err));
      }
      if (root.get_object().get(obj) != simdjson::SUCCESS) {
        return mlflow_error(400, "BAD_REQUEST",
                            "the body must be a JSON object with one of dataframe_split, "
                            "dataframe_records, instances or inputs");
      }
      std::vector<std::string> keys;
      for (auto field : obj) {
        std::string k(field.key);
        if (k == "dataframe_split" || k == "dataframe_records" || k == "instances" || k == "inputs")
          keys.push_back(k);
      }
      if (keys.size() != 1) {
        return mlflow_error(400, "BAD_REQUEST",
                            "the body must hold exactly one of dataframe_split, "
                            "dataframe_records, instances or inputs; got " +
                                std::to_string(keys.size()));
      }
      if (keys[0] == "dataframe_split" || keys[0] == "dataframe_records") {
        std::string doc = "{" + JsonQuote(keys[0]) + ":" + Minify(obj[keys[0]].value()) + "}";
        feeds = io::ParseTabular(doc, model.inputs(), model.info().feature_names, limits);
      } else {
        // root holds exactly one of the four keys (checked above).
        bool row_format;
        feeds = TfInputs(root, model, limits, &row_format);
      }
    }
    if (!feeds.ok()) {
      sv.stats->failure.fetch_add(1, std::memory_order_relaxed);
      std::string msg = feeds.status().message();
      if (options_.redact_errors) msg = Redact(msg, KnownNames(model));
      return mlflow_error(HttpStatusOf(feeds.status()), "BAD_REQUEST", msg);
    }
    Failure failure;
    auto inf = infer(sv, std::move(feeds).value(), &failure);
    if (!inf.ok()) {
      std::string msg = failure.message;
      if (options_.redact_errors) msg = Redact(msg, KnownNames(model));
      return mlflow_error(failure.http, "BAD_REQUEST", msg, ProblemsJson(failure.details));
    }
    std::string out = "{\"predictions\":";
    if (inf->outputs.empty()) {
      out += "[]";
    } else {
      AppendNested(inf->outputs[0].tensor, 0, 0, &out);
    }
    return Json(200, out + "}");
  }

  return Error(404, "no such endpoint: " + req.method + " " + req.target +
                        " (see docs/serving.md: /v2/..., /v1/models/..., /invocations, /metrics)");
}

std::string Service::Metrics() const {
  std::string out;
  struct Family {
    const char* name;
    const char* help;
    const char* type;
    std::function<double(const VersionStats&)> get;
  };
  const std::vector<Family> fams = {
      {"nv_inference_request_success", "Number of successful inference requests, all batch sizes",
       "counter", [](const VersionStats& s) { return double(s.success.load()); }},
      {"nv_inference_request_failure", "Number of failed inference requests, all batch sizes",
       "counter", [](const VersionStats& s) { return double(s.failure.load()); }},
      {"nv_inference_count", "Number of inferences performed (rows; batch dim 0)", "counter",
       [](const VersionStats& s) { return double(s.inference_count.load()); }},
      {"nv_inference_exec_count", "Number of model executions performed", "counter",
       [](const VersionStats& s) { return double(s.exec_count.load()); }},
      {"nv_inference_request_duration_us", "Cumulative inference request duration in microseconds",
       "counter", [](const VersionStats& s) { return double(s.request_ns.load() / 1000); }},
      {"nv_inference_queue_duration_us", "Cumulative inference queuing duration in microseconds",
       "counter", [](const VersionStats& s) { return double(s.queue_ns.load() / 1000); }},
      {"nv_inference_compute_infer_duration_us",
       "Cumulative compute inference duration in microseconds", "counter",
       [](const VersionStats& s) { return double(s.compute_ns.load() / 1000); }},
      {"tiffin_inference_average_batch_size",
       "Average rows per model execution (dynamic batching merges requests)", "gauge",
       [](const VersionStats& s) {
         uint64_t e = s.exec_count.load();
         return e ? double(s.inference_count.load()) / double(e) : 0.0;
       }},
  };
  auto models = repo_->Models();
  char buf[64];
  for (const auto& f : fams) {
    out +=
        std::string("# HELP ") + f.name + " " + f.help + "\n# TYPE " + f.name + " " + f.type + "\n";
    for (const auto& m : models) {
      for (const auto& [v, sv] : m->versions) {
        std::snprintf(buf, sizeof buf, "%.17g", f.get(*sv->stats));
        out += std::string(f.name) + "{model=" + JsonQuote(m->name) + ",version=\"" +
               std::to_string(v) + "\"} " + buf + "\n";
      }
    }
  }
  out +=
      "# HELP tiffin_model_ready 1 when the model version is serving\n"
      "# TYPE tiffin_model_ready gauge\n";
  for (const auto& m : models)
    for (const auto& [v, sv] : m->versions)
      out += "tiffin_model_ready{model=" + JsonQuote(m->name) + ",version=\"" + std::to_string(v) +
             "\"} 1\n";
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  double virt = 0;
  double rss = ResidentBytes(&virt);
  double start = std::chrono::duration<double>(kProcessStart.time_since_epoch()).count();
  // One Prometheus sample with its HELP and TYPE lines.
  auto metric = [&](const char* name, const char* type, const char* help, const char* fmt,
                    double v) {
    std::snprintf(buf, sizeof buf, fmt, v);
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + buf + "\n";
  };
  metric("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds",
         "%.6f", cpu);
  metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes", "%.0f", rss);
  metric("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes", "%.0f", virt);
  metric("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch",
         "%.3f", start);
  return out;
}

}  // namespace tiffin::server
