#include "server/tf_serving.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "core/json.h"

namespace tiffin::server {

namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

// A decoded binary value's stand-in inside the rewritten JSON: control
// bytes around a name, then the blob's index.
constexpr std::string_view kMark = "\x01tiffin-b64\x01";

std::string Minify(element e) { return simdjson::minify(e); }

const TensorInfo* InputNamed(const Model& model, std::string_view name) {
  for (const auto& in : model.inputs())
    if (in.name == name) return &in;
  return nullptr;
}

std::string InputNames(const Model& model) {
  std::string out;
  for (const auto& in : model.inputs()) out += (out.empty() ? "" : ", ") + in.name;
  return out;
}

// {"b64": "..."}: an object with that one key.
bool IsB64(element e) {
  object o;
  if (e.get_object().get(o) != simdjson::SUCCESS) return false;
  size_t n = 0;
  bool b64 = false;
  for (auto field : o) {
    ++n;
    b64 = field.key == "b64";
  }
  return n == 1 && b64;
}

// Appends `e` as JSON with every {"b64": ...} decoded into `b64` and replaced
// by its placeholder. `input` ("" = unknown) is the model input it feeds.
Status Rewrite(element e, const Model& model, const std::string& input, B64Values* b64,
               std::string* out) {
  if (IsB64(e)) {
    std::string_view text;
    const std::string who = input.empty() ? std::string("a value") : "input '" + input + "'";
    if (e["b64"].get_string().get(text) != simdjson::SUCCESS) {
      return InvalidArgument(who + ": {\"b64\": ...} needs a base64 string");
    }
    if (const TensorInfo* info = input.empty() ? nullptr : InputNamed(model, input)) {
      if (info->dtype != DType::kString && info->dtype != DType::kUndefined) {
        return InvalidArgument(who + " takes " + std::string(DTypeKServeName(info->dtype)) +
                               "; {\"b64\": ...} (binary) values go only into BYTES inputs");
      }
    }
    std::string bytes;
    if (!DecodeBase64(text, &bytes)) {
      return InvalidArgument(who + ": {\"b64\": ...} is not valid base64 (" +
                             std::to_string(text.size()) +
                             " characters; use the standard alphabet A-Z a-z 0-9 + /, "
                             "with = padding)");
    }
    AppendJsonString(std::string(kMark) + std::to_string(b64->blobs.size()), out);
    b64->blobs.push_back(std::move(bytes));
    return Status::Ok();
  }
  array arr;
  object obj;
  if (e.get_array().get(arr) == simdjson::SUCCESS) {
    out->push_back('[');
    bool first = true;
    for (element v : arr) {
      if (!first) out->push_back(',');
      first = false;
      TIFFIN_RETURN_IF_ERROR(Rewrite(v, model, input, b64, out));
    }
    out->push_back(']');
    return Status::Ok();
  }
  if (e.get_object().get(obj) == simdjson::SUCCESS) {
    out->push_back('{');
    bool first = true;
    for (auto field : obj) {
      if (!first) out->push_back(',');
      first = false;
      AppendJsonString(field.key, out);
      out->push_back(':');
      TIFFIN_RETURN_IF_ERROR(Rewrite(field.value, model, input, b64, out));
    }
    out->push_back('}');
    return Status::Ok();
  }
  out->append(Minify(e));
  return Status::Ok();
}

// {input: value, ...} with each value rewritten for its input.
Status RewriteNamed(object o, const Model& model, B64Values* b64, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (auto field : o) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(field.key, out);
    out->push_back(':');
    TIFFIN_RETURN_IF_ERROR(Rewrite(field.value, model, std::string(field.key), b64, out));
  }
  out->push_back('}');
  return Status::Ok();
}

bool Numeric(DType d) { return d != DType::kString && d != DType::kBool && d != DType::kUndefined; }

// The output :classify reads: class probabilities [N, classes].
int ProbabilityOutput(const Model& model) {
  const auto& outs = model.outputs();
  const size_t classes = model.info().class_labels.size();
  int found = -1;
  for (size_t i = 0; i < outs.size(); ++i) {
    const TensorInfo& o = outs[i];
    if (!IsFloatingPoint(o.dtype) || !o.has_shape || o.shape.size() != 2) continue;
    if (o.shape[1].fixed() && static_cast<size_t>(o.shape[1].value) != classes) continue;
    if (o.name == "probabilities" || o.name == "output_probability") return static_cast<int>(i);
    if (found < 0) found = static_cast<int>(i);
  }
  return found;
}

std::string OutputsText(const Model& model) {
  std::string out;
  for (const auto& o : model.outputs()) {
    out += (out.empty() ? "" : ", ") + o.name + " (" + std::string(DTypeKServeName(o.dtype)) + " " +
           (o.has_shape ? DimsToString(o.shape) : std::string("[any rank]")) + ")";
  }
  return out;
}

}  // namespace

// ---- base64 ------------------------------------------------------------------

bool DecodeBase64(std::string_view in, std::string* out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  size_t n = in.size();
  if (n % 4 == 0 && n >= 2 && in[n - 1] == '=') n -= in[n - 2] == '=' ? 2 : 1;
  if (n % 4 == 1) return false;
  out->clear();
  out->reserve(n / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    int v = value(in[i]);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

std::string EncodeBase64(std::string_view in) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v =
        (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    if (i + 1 < in.size()) v |= uint32_t(uint8_t(in[i + 1])) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

void B64Values::Fill(std::vector<NamedTensor>* feeds) const {
  if (blobs.empty()) return;
  for (auto& f : *feeds) {
    if (f.tensor.dtype() != DType::kString) continue;
    std::string* s = f.tensor.data<std::string>();
    for (int64_t i = 0; i < f.tensor.size(); ++i) {
      if (s[i].size() <= kMark.size() || s[i].compare(0, kMark.size(), kMark) != 0) continue;
      size_t k = 0;
      auto r = std::from_chars(s[i].data() + kMark.size(), s[i].data() + s[i].size(), k);
      if (r.ec == std::errc() && r.ptr == s[i].data() + s[i].size() && k < blobs.size())
        s[i] = blobs[k];
    }
  }
}

std::string B64Values::Scrub(const std::string& message) const {
  if (blobs.empty()) return message;
  std::string out;
  size_t i = 0;
  while (i < message.size()) {
    size_t at = message.find(kMark, i);
    if (at == std::string::npos) {
      out.append(message, i, std::string::npos);
      break;
    }
    out.append(message, i, at - i);
    out += "<b64 value>";
    i = at + kMark.size();
    while (i < message.size() && std::isdigit(static_cast<unsigned char>(message[i]))) ++i;
  }
  return out;
}

// ---- :predict with b64 ------------------------------------------------------------

Status RewriteB64Predict(element root, const Model& model, std::string* doc, B64Values* b64) {
  object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) {
    *doc = Minify(root);
    return Status::Ok();
  }
  const std::string single = model.inputs().size() == 1 ? model.inputs()[0].name : "";
  std::string& out = *doc;
  out = "{";
  bool first = true;
  for (auto field : obj) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(field.key, &out);
    out += ':';
    element v = field.value;
    array rows;
    object named;
    if (field.key == "instances" && v.get_array().get(rows) == simdjson::SUCCESS) {
      out += '[';
      bool first_row = true;
      for (element row : rows) {
        if (!first_row) out += ',';
        first_row = false;
        object row_obj;
        if (!IsB64(row) && row.get_object().get(row_obj) == simdjson::SUCCESS) {
          TIFFIN_RETURN_IF_ERROR(RewriteNamed(row_obj, model, b64, &out));
        } else {
          TIFFIN_RETURN_IF_ERROR(Rewrite(row, model, single, b64, &out));
        }
      }
      out += ']';
    } else if (field.key == "inputs" && !IsB64(v) &&
               v.get_object().get(named) == simdjson::SUCCESS) {
      TIFFIN_RETURN_IF_ERROR(RewriteNamed(named, model, b64, &out));
    } else if (field.key == "inputs" || field.key == "instances") {
      TIFFIN_RETURN_IF_ERROR(Rewrite(v, model, single, b64, &out));
    } else {
      out += Minify(v);
    }
  }
  out += '}';
  return Status::Ok();
}

// ---- :classify and :regress --------------------------------------------------

Result<std::vector<NamedTensor>> ParseExamples(element root, const Model& model,
                                               const io::ParseLimits& limits, B64Values* b64) {
  const std::string form =
      " (send {\"examples\": [{feature: value, ...}, ...], \"context\"?: {feature: value}})";
  object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) {
    return InvalidArgument("the request must be a JSON object" + form);
  }
  object context;
  bool has_context = false;
  array examples;
  bool has_examples = false;
  for (auto field : obj) {
    if (field.key == "signature_name") {
      std::string_view sig;
      if (field.value.get_string().get(sig) != simdjson::SUCCESS ||
          !(sig.empty() || sig == "serving_default")) {
        return InvalidArgument("signature_name " + Minify(field.value) +
                               ": this model has one signature, \"serving_default\"");
      }
    } else if (field.key == "context") {
      if (field.value.get_object().get(context) != simdjson::SUCCESS) {
        return InvalidArgument("\"context\" must be an object {feature: value}");
      }
      has_context = true;
    } else if (field.key == "examples") {
      if (field.value.get_array().get(examples) != simdjson::SUCCESS) {
        return InvalidArgument("\"examples\" must be a list" + form);
      }
      has_examples = true;
    } else {
      return InvalidArgument("unknown key '" + std::string(field.key) +
                             "' (a :classify or :regress request holds signature_name, context "
                             "and examples)");
    }
  }
  if (!has_examples) return InvalidArgument("the request has no \"examples\"" + form);

  // Each example's features, the context's first (an example's value wins).
  using Features = std::vector<std::pair<std::string, element>>;
  std::vector<Features> rows;
  for (element ex : examples) {
    const std::string where = "examples[" + std::to_string(rows.size()) + "]";
    object o;
    if (ex.get_object().get(o) != simdjson::SUCCESS) {
      return InvalidArgument(where + " is not an object {feature: value}");
    }
    Features f;
    if (has_context)
      for (auto field : context) f.emplace_back(std::string(field.key), field.value);
    for (auto field : o) {
      auto it =
          std::find_if(f.begin(), f.end(), [&](const auto& p) { return p.first == field.key; });
      if (it != f.end())
        it->second = field.value;
      else
        f.emplace_back(std::string(field.key), field.value);
    }
    if (f.empty()) return InvalidArgument(where + " has no features");
    rows.push_back(std::move(f));
  }
  if (rows.empty()) return InvalidArgument("\"examples\" is empty" + form);
  const Features& first = rows[0];
  auto has = [](const Features& f, const std::string& name) {
    return std::any_of(f.begin(), f.end(), [&](const auto& p) { return p.first == name; });
  };
  for (size_t r = 1; r < rows.size(); ++r) {
    const std::string where = "examples[" + std::to_string(r) + "]";
    for (const auto& feature : first) {
      if (!has(rows[r], feature.first)) {
        return InvalidArgument(where + " lacks feature '" + feature.first +
                               "' (examples[0] has it)");
      }
    }
    for (const auto& feature : rows[r]) {
      if (!has(first, feature.first)) {
        return InvalidArgument(where + " has feature '" + feature.first +
                               "', which examples[0] lacks");
      }
    }
  }
  auto value_of = [](const Features& f, const std::string& name) {
    for (const auto& [n, v] : f)
      if (n == name) return v;
    return element();
  };

  // Every feature names a model input, and every input is given: the values
  // fill the inputs row by row.
  bool by_input = first.size() == model.inputs().size();
  for (const auto& [name, v] : first) by_input &= InputNamed(model, name) != nullptr;
  std::string doc;
  Result<std::vector<NamedTensor>> feeds = std::vector<NamedTensor>{};
  if (by_input) {
    doc = "{";
    for (size_t i = 0; i < model.inputs().size(); ++i) {
      const TensorInfo& in = model.inputs()[i];
      if (i) doc += ',';
      AppendJsonString(in.name, &doc);
      doc += ":[";
      const size_t rank = in.has_shape ? in.shape.size() : 0;
      for (size_t r = 0; r < rows.size(); ++r) {
        if (r) doc += ',';
        element v = value_of(rows[r], in.name);
        // A feature is a list of values; one value is a scalar for an input
        // [N] and a list of one for [N, 1].
        array list;
        const bool is_list = v.get_array().get(list) == simdjson::SUCCESS;
        element only;
        if (rank == 1 && is_list && list.size() == 1 && list.at(0).get(only) == simdjson::SUCCESS) {
          TIFFIN_RETURN_IF_ERROR(Rewrite(only, model, in.name, b64, &doc));
        } else if (rank == 2 && !is_list) {
          doc += '[';
          TIFFIN_RETURN_IF_ERROR(Rewrite(v, model, in.name, b64, &doc));
          doc += ']';
        } else {
          TIFFIN_RETURN_IF_ERROR(Rewrite(v, model, in.name, b64, &doc));
        }
      }
      doc += ']';
    }
    doc += '}';
    feeds = io::ParseJsonInputs(doc, model.inputs(), limits);
  } else {
    // The features are the model's columns, one value each, bound by name as
    // MLflow's dataframe_records are.
    doc = "[";
    for (size_t r = 0; r < rows.size(); ++r) {
      if (r) doc += ',';
      doc += '{';
      bool first_field = true;
      for (const auto& [name, v0] : first) {
        element v = value_of(rows[r], name);
        array list;
        if (v.get_array().get(list) == simdjson::SUCCESS) {
          if (list.size() != 1) {
            return InvalidArgument(
                "examples[" + std::to_string(r) + "]: feature '" + name + "' holds " +
                std::to_string(list.size()) +
                " values; features bind to the model's columns, one value each, or to its "
                "inputs by name (" +
                InputNames(model) + ")");
          }
          if (list.at(0).get(v) != simdjson::SUCCESS) return InvalidArgument("bad feature list");
        }
        if (!first_field) doc += ',';
        first_field = false;
        AppendJsonString(name, &doc);
        doc += ':';
        TIFFIN_RETURN_IF_ERROR(Rewrite(v, model, "", b64, &doc));
      }
      doc += '}';
    }
    doc += ']';
    feeds = io::ParseTabular(doc, model.inputs(), model.info().feature_names, limits);
  }
  if (!feeds.ok()) {
    return Status(feeds.status().code(), "examples: " + b64->Scrub(feeds.status().message()));
  }
  b64->Fill(&*feeds);
  return feeds;
}

Result<size_t> ClassifyOutput(const Model& model) {
  const int p = ProbabilityOutput(model);
  if (!model.info().class_labels.empty() && p >= 0) return static_cast<size_t>(p);
  const bool regressor = RegressOutput(model).ok();
  return InvalidArgument(
      "':classify' needs a classifier (class labels and a probabilities output); this model " +
      std::string(model.info().class_labels.empty() ? "has no class labels"
                                                    : "has no probabilities output") +
      " (outputs: " + OutputsText(model) + "): use " +
      (regressor ? "':regress' or ':predict'" : "':predict'"));
}

Result<size_t> RegressOutput(const Model& model) {
  if (!model.info().class_labels.empty()) {
    return InvalidArgument(
        "':regress' needs one number per example; this model is a classifier (outputs: " +
        OutputsText(model) + "): use " +
        (ProbabilityOutput(model) >= 0 ? "':classify' or ':predict'" : "':predict'"));
  }
  int found = -1, count = 0;
  const auto& outs = model.outputs();
  for (size_t i = 0; i < outs.size(); ++i) {
    const TensorInfo& o = outs[i];
    if (!Numeric(o.dtype)) continue;
    bool one = !o.has_shape || o.shape.size() == 1 ||
               (o.shape.size() == 2 && (!o.shape[1].fixed() || o.shape[1].value == 1));
    if (!one) continue;
    ++count;
    if (found < 0) found = static_cast<int>(i);
  }
  if (count == 1) return static_cast<size_t>(found);
  return InvalidArgument(
      "':regress' needs a model with one numeric output holding one value per example; this "
      "model has " +
      std::string(count ? "several" : "none") + " (outputs: " + OutputsText(model) +
      "): use ':predict'");
}

Result<std::string> ClassifyResult(const Model& model, const Tensor& probabilities,
                                   int64_t examples) {
  const auto& labels = model.info().class_labels;
  const int64_t classes = static_cast<int64_t>(labels.size());
  if (probabilities.rank() != 2 || probabilities.dim(0) != examples ||
      probabilities.dim(1) != classes) {
    return InvalidArgument("the model's probabilities came back as " +
                           ShapeToString(probabilities.shape()) + ", not [" +
                           std::to_string(examples) + "," + std::to_string(classes) +
                           "] (examples, classes): use ':predict'");
  }
  std::string out = "{\"results\":[";
  for (int64_t r = 0; r < examples; ++r) {
    if (r) out += ',';
    out += '[';
    for (int64_t c = 0; c < classes; ++c) {
      if (c) out += ',';
      out += '[';
      AppendJsonString(labels[static_cast<size_t>(c)], &out);
      out += ',';
      AppendJsonNumber(ElementAsDouble(probabilities, r * classes + c), &out);
      out += ']';
    }
    out += ']';
  }
  return out + "]}";
}

Result<std::string> RegressResult(const std::string& output, const Tensor& values,
                                  int64_t examples) {
  if (values.size() != examples || (values.rank() > 0 && values.dim(0) != examples)) {
    return InvalidArgument("output '" + output + "' came back as " + ShapeToString(values.shape()) +
                           " for " + std::to_string(examples) +
                           " examples; ':regress' needs one value per example: use ':predict'");
  }
  std::string out = "{\"results\":[";
  for (int64_t r = 0; r < examples; ++r) {
    if (r) out += ',';
    AppendJsonNumber(ElementAsDouble(values, r), &out);
  }
  return out + "]}";
}

}  // namespace tiffin::server
