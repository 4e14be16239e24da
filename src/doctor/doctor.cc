#include "doctor/doctor.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/json.h"
#include "io/tensor_io.h"
#include "tiffin/model.h"
#include "tiffin/sklearn.h"

namespace tiffin::doctor {
namespace {

namespace fs = std::filesystem;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

void Add(Report* r, std::string id, Level level, std::string message, std::string fix = "") {
  r->checks.push_back({std::move(id), level, std::move(message), std::move(fix)});
}

// What an extension promises, for the "named X but is Y" check.
std::string ExpectedFormat(const std::string& ext) {
  static const std::map<std::string, std::string> kByExt = {
      {".onnx", "onnx"},  {".pkl", "pickle"},       {".pickle", "pickle"}, {".joblib", "pickle"},
      {".sav", "pickle"}, {".h5", "hdf5"},          {".hdf5", "hdf5"},     {".keras", "zip"},
      {".pt", "zip"},     {".pth", "zip"},          {".tiffin", "zip"},    {".json", "json"},
      {".npy", "npy"},    {".txt", "lightgbm-text"}};
  auto it = kByExt.find(ext);
  return it == kByExt.end() ? "" : it->second;
}

std::string Describe(const std::string& format) {
  if (format == "onnx") return "an ONNX model";
  if (format == "pickle") return "a Python pickle";
  if (format == "hdf5") return "an HDF5 file (legacy Keras .h5 format)";
  if (format == "zip") return "a zip archive (.keras, PyTorch, or a .tiffin bundle)";
  if (format == "json") return "a JSON document";
  if (format == "npy") return "a numpy .npy array";
  if (format == "lightgbm-text") return "a LightGBM text model";
  if (format == "torch-legacy") return "a PyTorch torch.save file (legacy, pre-1.6 format)";
  if (IsPickleFormat(format)) return "a compressed (" + format + ") joblib file";
  return "an unrecognised file";
}

struct ColumnStats {
  std::string name;
  double min = NAN, max = NAN;
  int64_t missing = 0, rows = 0;
  bool numeric = false;
};

// Per-column summaries of the parsed input (numeric [N,F] or [N,1] columns).
std::vector<ColumnStats> Summarize(const std::vector<NamedTensor>& feeds,
                                   const std::vector<std::string>& names) {
  std::vector<ColumnStats> out;
  auto add_column = [&](const std::string& name, const Tensor& t, int64_t col, int64_t width) {
    ColumnStats c;
    c.name = name;
    c.rows = t.rank() >= 1 ? t.dim(0) : 1;
    if (t.dtype() == DType::kFloat64 || t.dtype() == DType::kFloat32) {
      c.numeric = true;
      for (int64_t r = 0; r < c.rows; ++r) {
        const double v = t.dtype() == DType::kFloat64 ? t.data<double>()[r * width + col]
                                                      : t.data<float>()[r * width + col];
        if (std::isnan(v)) {
          ++c.missing;
          continue;
        }
        c.min = std::isnan(c.min) ? v : std::min(c.min, v);
        c.max = std::isnan(c.max) ? v : std::max(c.max, v);
      }
    } else if (t.dtype() == DType::kString) {
      for (int64_t r = 0; r < c.rows; ++r)
        c.missing += t.data<std::string>()[r * width + col].empty();
    }
    out.push_back(c);
  };
  if (feeds.size() == 1 && feeds[0].tensor.rank() == 2) {
    const Tensor& t = feeds[0].tensor;
    for (int64_t j = 0; j < t.dim(1); ++j)
      add_column(j < static_cast<int64_t>(names.size()) ? names[static_cast<size_t>(j)]
                                                        : "x" + std::to_string(j),
                 t, j, t.dim(1));
  } else {
    for (const auto& f : feeds) add_column(f.name, f.tensor, 0, 1);
  }
  return out;
}

bool AnyNaN(const std::vector<Tensor>& outs) {
  for (const Tensor& t : outs) {
    if (t.dtype() != DType::kFloat64 && t.dtype() != DType::kFloat32) continue;
    for (int64_t i = 0; i < t.size(); ++i) {
      const double v = t.dtype() == DType::kFloat64 ? t.data<double>()[i] : t.data<float>()[i];
      if (std::isnan(v)) return true;
    }
  }
  return false;
}

// The range a transformer maps its own training range to, found by running
// it on two rows made of that range's ends (MinMaxScaler: feature_range;
// StandardScaler on mean -+ std: -1..1).
struct Mapped {
  double lo = NAN, hi = NAN;          // the transformer's input, as trained
  double out_lo = NAN, out_hi = NAN;  // what the estimator after it saw
};

std::vector<Mapped> TransformerRanges(const Model& t) {
  const auto& stats = t.info().training_stats;
  std::vector<Mapped> out(stats.size());
  if (t.inputs().size() != 1 || stats.empty()) return out;
  const int64_t f = static_cast<int64_t>(stats.size());
  Tensor x(DType::kFloat64, {2, f});
  bool ok = true;
  for (int64_t j = 0; j < f; ++j) {
    const FeatureStats& s = stats[static_cast<size_t>(j)];
    double lo = s.min, hi = s.max;
    if (std::isnan(lo) && !std::isnan(s.mean) && !std::isnan(s.std)) {
      lo = s.mean - s.std;
      hi = s.mean + s.std;
    }
    if (std::isnan(lo) || std::isnan(hi)) ok = false;
    x.data<double>()[j] = lo;
    x.data<double>()[f + j] = hi;
    out[static_cast<size_t>(j)].lo = lo;
    out[static_cast<size_t>(j)].hi = hi;
  }
  if (!ok) return std::vector<Mapped>(stats.size());
  auto y = t.Run({{t.inputs()[0].name, x}});
  if (!y.ok() || y->empty() || (*y)[0].dtype() != DType::kFloat64 || (*y)[0].size() != 2 * f) {
    return std::vector<Mapped>(stats.size());
  }
  for (int64_t j = 0; j < f; ++j) {
    const double a = (*y)[0].data<double>()[j], b = (*y)[0].data<double>()[f + j];
    out[static_cast<size_t>(j)].out_lo = std::min(a, b);
    out[static_cast<size_t>(j)].out_hi = std::max(a, b);
  }
  return out;
}

bool Inside(double v, double lo, double hi, double slack) {
  const double w = std::max(hi - lo, 1e-12);
  return v >= lo - slack * w && v <= hi + slack * w;
}

void CheckData(const std::string& path, const Options& options, const Model& model,
               const SklearnFileInfo* sk, Report* r) {
  std::error_code ec;
  if (!fs::exists(options.data_path, ec)) {
    Add(r, "data", Level::kFail, "--data file '" + options.data_path + "' not found",
        "check the path");
    return;
  }
  const std::string text = ReadAll(options.data_path);
  const auto& inputs = model.inputs();
  const auto& names = model.info().feature_names;
  std::vector<NamedTensor> feeds;
  if (io::LooksLikeNpy(text)) {
    auto t = io::ParseNpy(text);
    if (!t.ok() || inputs.size() != 1) {
      Add(r, "columns", Level::kFail,
          t.ok() ? "a .npy array feeds a model with one input" : t.status().message(),
          "give a CSV or JSON table");
      return;
    }
    feeds.push_back({inputs[0].name, *t});
  } else {
    auto parsed = io::ParseTabular(text, inputs, names);
    if (!parsed.ok()) {
      const std::string& m = parsed.status().message();
      const bool dtype = m.find("is not a number") != std::string::npos;
      Add(r, dtype ? "dtypes" : "columns", Level::kFail, m,
          dtype ? "clean the column or encode it as the model expects"
                : "send the columns the model was trained on");
      return;
    }
    feeds = std::move(parsed).value();
    // Reordered columns are fine when the model knows their names.
    std::string header = text.substr(0, text.find('\n'));
    if (!names.empty() && header.find(names[0]) != std::string::npos &&
        header.rfind(names[0], 0) != 0) {
      Add(r, "columns", Level::kPass,
          "all " + std::to_string(names.size()) +
              " columns present, in another order: matched by name");
    } else {
      Add(r, "columns", Level::kPass,
          "the input's columns match the model's " +
              std::to_string(inputs.size() == 1 && inputs[0].shape.size() == 2 &&
                                     inputs[0].shape[1].fixed()
                                 ? inputs[0].shape[1].value
                                 : static_cast<int64_t>(inputs.size())) +
              " inputs");
    }
  }
  Add(r, "dtypes", Level::kPass, "every value converts to the input types the model takes");
  std::vector<ColumnStats> cols = Summarize(feeds, names);

  // Missing values: fine if the model handles them, a FAIL if they reach the
  // outputs.
  std::vector<std::string> with_missing;
  for (const auto& c : cols)
    if (c.missing) with_missing.push_back(c.name + " (" + std::to_string(c.missing) + ")");
  auto out = model.Run(feeds);
  if (!out.ok()) {
    Add(r, "predict", Level::kFail, out.status().message(), "");
    return;
  }
  if (!with_missing.empty()) {
    std::string list;
    for (const auto& s : with_missing) list += (list.empty() ? "" : ", ") + s;
    if (AnyNaN(*out)) {
      Add(r, "missing", Level::kFail,
          "missing values in " + list + " reach the predictions (NaN outputs)",
          "impute them before predicting, or save a pipeline with a SimpleImputer");
    } else {
      Add(r, "missing", Level::kPass, "missing values in " + list + " are handled by the model");
    }
  } else {
    Add(r, "missing", Level::kPass, "no missing values");
  }

  // Ranges against what training left in the model. A feature outside its
  // training range whose values sit where the pipeline's own scaler would
  // put them ([0, 1] after MinMaxScaler, about -3..3 after StandardScaler)
  // suggests input that was scaled already.
  const auto& stats = model.info().training_stats;
  int far = 0, scaled_like = 0, outside = 0;
  std::string first_far, scaled_example;
  for (size_t j = 0; j < cols.size() && j < stats.size(); ++j) {
    const ColumnStats& c = cols[j];
    const FeatureStats& s = stats[j];
    if (!c.numeric || std::isnan(c.min) || std::isnan(s.min) || std::isnan(s.max)) continue;
    if (Inside(c.min, s.min, s.max, 0.5) && Inside(c.max, s.min, s.max, 0.5)) continue;
    ++outside;
    const bool minmax = s.source.find("MinMaxScaler") != std::string::npos;
    const bool standard = s.source.find("StandardScaler") != std::string::npos;
    if ((minmax && c.min >= -0.5 && c.max <= 1.5) || (standard && c.min >= -4 && c.max <= 4)) {
      ++scaled_like;
      if (scaled_example.empty())
        scaled_example = "feature `" + c.name + "`: values " + Num(c.min) + "-" + Num(c.max) +
                         ", but this pipeline scales raw values that ranged " + Num(s.min) + "-" +
                         Num(s.max) + " in training";
      continue;
    }
    ++far;
    if (first_far.empty())
      first_far = "feature `" + c.name + "`: values " + Num(c.min) + "-" + Num(c.max) +
                  ", but the model was trained on " + Num(s.min) + "-" + Num(s.max) + " (" +
                  s.source + ")";
  }
  const bool looks_scaled = scaled_like > 0 && scaled_like * 2 >= outside;
  if (looks_scaled) {
    Add(r, "ranges", Level::kFail,
        scaled_example +
            (scaled_like > 1 ? " (and " + std::to_string(scaled_like - 1) + " more features)"
                             : "") +
            ". This input looks already scaled, and the pipeline scales it again",
        "send the raw values: the model carries its own scaler");
  } else if (far + scaled_like > 0) {
    Add(r, "ranges", Level::kWarn,
        (first_far.empty() ? scaled_example : first_far) +
            (far + scaled_like > 1
                 ? " (and " + std::to_string(far + scaled_like - 1) + " more features)"
                 : ""),
        "check the units and the preprocessing of this input");
  }

  // The seed's story: an estimator saved beside its scaler, run without it.
  bool unscaled = false;
  if (sk && options.steps.empty() && stats.empty()) {
    for (const auto& o : sk->objects) {
      if (o.role != "transformer") continue;
      LoadOptions lo;
      lo.steps = {o.name};
      auto t = LoadModel(path, lo);
      if (!t.ok()) continue;
      std::vector<Mapped> m = TransformerRanges(**t);
      for (size_t j = 0; j < cols.size() && j < m.size(); ++j) {
        const ColumnStats& c = cols[j];
        const Mapped& g = m[j];
        if (!c.numeric || std::isnan(c.min) || std::isnan(g.out_lo)) continue;
        const bool like_raw = Inside(c.min, g.lo, g.hi, 0.5) && Inside(c.max, g.lo, g.hi, 0.5);
        const bool like_trained =
            Inside(c.min, g.out_lo, g.out_hi, 0.5) && Inside(c.max, g.out_lo, g.out_hi, 0.5);
        if (like_raw && !like_trained) {
          std::string model_name = "model";
          for (const auto& p : sk->objects)
            if (p.role == "classifier" || p.role == "regressor") model_name = p.name;
          const std::string cls = o.class_name.substr(o.class_name.rfind('.') + 1);
          Add(r, "ranges", Level::kFail,
              "feature `" + c.name + "`: values " + Num(c.min) + "-" + Num(c.max) +
                  ", but the estimator was trained on " + Num(g.out_lo) + "-" + Num(g.out_hi) +
                  ". This input looks unscaled, and this file holds the estimator "
                  "without its " +
                  cls,
              "apply it first: --steps " + o.name + "," + model_name +
                  " (or pack it with --steps " + o.name + "," + model_name + ")");
          unscaled = true;
          break;
        }
      }
      if (unscaled) break;
    }
  }
  if (outside == 0 && !unscaled) {
    Add(r, "ranges", stats.empty() ? Level::kInfo : Level::kPass,
        stats.empty() ? "the model keeps no training ranges to compare this input with"
                      : "every feature lies within the range the model was trained on");
  }
}

}  // namespace

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kPass:
      return "PASS";
    case Level::kInfo:
      return "INFO";
    case Level::kWarn:
      return "WARN";
    case Level::kFail:
      return "FAIL";
  }
  return "?";
}

bool Report::ok() const {
  return std::none_of(checks.begin(), checks.end(),
                      [](const Check& c) { return c.level == Level::kFail; });
}

Report Diagnose(const std::string& path, const Options& options) {
  Report r;
  std::error_code ec;
  // 1. The file and its format, by content.
  if (!fs::exists(path, ec) || fs::is_directory(path, ec)) {
    Add(&r, "format", Level::kFail,
        "'" + path + "' " + (fs::exists(path, ec) ? "is a directory" : "not found"),
        "give the path of the model file");
    return r;
  }
  auto detected = DetectFileFormat(path);
  if (!detected.ok()) {
    Add(&r, "format", Level::kFail, detected.status().message(),
        "give the path of a complete model file");
    return r;
  }
  const std::string format = *detected;
  const std::string ext = Lower(fs::path(path).extension().string());
  const std::string expected = ExpectedFormat(ext);
  const bool pickle = IsPickleFormat(format) && !IsGradientBoostingFile(path);
  if (format == "unknown") {
    Add(&r, "format", Level::kFail, "the content is not a model format tiffin recognises",
        "check that the file is a model (ONNX, scikit-learn pickle/joblib) and was copied "
        "completely");
    return r;
  }
  const bool mismatch =
      !expected.empty() && expected != format && !(expected == "pickle" && pickle) &&
      !(expected == "zip" && format == "torch-legacy");  // .pt: zip or legacy torch.save
  Add(&r, "format", mismatch ? Level::kWarn : Level::kPass,
      mismatch ? "named " + ext + " but its content is " + Describe(format) +
                     "; tiffin reads it by content"
               : "content is " + Describe(format),
      mismatch ? "rename it to match its content, so other tools read it correctly" : "");

  // 2. Integrity, and 3. provenance.
  SklearnFileInfo sk;
  bool have_sk = false;
  if (pickle) {
    auto info = InspectSklearnFile(path);
    if (!info.ok()) {
      const std::string& m = info.status().message();
      const bool hostile = m.find("refusing") != std::string::npos ||
                           m.find("not a scikit-learn") != std::string::npos;
      Add(&r, "integrity", Level::kFail, m,
          hostile ? "do not load this file in Python either: it asks to run code. Re-save the "
                    "model from its source"
                  : "the file is truncated or corrupt: copy it again from its source");
      return r;
    }
    sk = *info;
    have_sk = true;
    std::string objs;
    for (const auto& o : sk.objects)
      objs += (objs.empty() ? "" : ", ") + o.name + " (" +
              o.class_name.substr(o.class_name.rfind('.') + 1) + ")";
    Add(&r, "integrity", Level::kPass,
        "the " + sk.container + " stream is complete (pickle protocol " +
            std::to_string(sk.pickle_protocol) +
            (sk.compression != "none" ? ", " + sk.compression + " compression" : "") +
            "); it holds " + objs);
    const std::string v = sk.objects.empty() ? "" : sk.objects[0].sklearn_version;
    int major = 0, minor = 0;
    const bool parsed = std::sscanf(v.c_str(), "%d.%d", &major, &minor) == 2;
    const bool known = parsed && (major == 0 ? minor >= 18 : major == 1 && minor <= 5);
    std::string adapted = sk.numpy2 ? "numpy 2 module paths (numpy._core)" : "";
    Add(&r, "provenance", known ? Level::kPass : Level::kWarn,
        "written by scikit-learn " + v + (known ? ", a version whose layout tiffin reads" : "") +
            (adapted.empty() ? "" : "; read with " + adapted),
        known ? ""
              : "tiffin is tested on files from scikit-learn 0.19 to 1.5; compare predictions with "
                "the source");
  }

  // 4. Operators (and, for bundles, integrity and reference cases).
  LoadOptions lo;
  lo.steps = options.steps;
  auto model = LoadModel(path, lo);
  if (!model.ok()) {
    const Status& s = model.status();
    const bool unsupported = s.code() == StatusCode::kNotSupported;
    Add(&r, unsupported ? "operators" : "load", Level::kFail, s.message(),
        unsupported ? "export the model with standard operators, or file an issue naming them"
                    : "see the message: it names what is wrong");
    return r;
  }
  const ModelInfo& info = (*model)->info();
  if (!pickle) {
    Add(&r, "integrity", Level::kPass, "the file parses completely");
    std::string opsets;
    for (const auto& [d, v] : info.opsets)
      opsets += (opsets.empty() ? "" : ", ") + d + " " + std::to_string(v);
    Add(&r, "provenance", Level::kPass,
        "written by " +
            (info.producer_name.empty() ? std::string("an unnamed producer")
                                        : info.producer_name + " " + info.producer_version) +
            (opsets.empty() ? "" : "; opsets " + opsets));
  }
  int64_t nodes = 0;
  for (const auto& [op, n] : info.op_counts) nodes += n;
  Add(&r, "operators", Level::kPass,
      "all " + std::to_string(info.op_counts.size()) + " operator types (" + std::to_string(nodes) +
          " nodes) are supported");
  if (auto it = info.metadata.find("notes"); it != info.metadata.end()) {
    Add(&r, "adapted", Level::kInfo, it->second);
  }
  if (have_sk && sk.objects.size() > 1 && options.steps.empty()) {
    std::string model_name, others;
    for (const auto& o : sk.objects) {
      if (o.role == "classifier" || o.role == "regressor" || o.role == "outlier detector")
        model_name = o.name;
      else
        others += (others.empty() ? "" : ",") + o.name;
    }
    Add(&r, "objects", Level::kWarn,
        "this file holds " + std::to_string(sk.objects.size()) +
            " objects; without --steps only '" + model_name + "' runs, and " + others +
            " is left out",
        "if the model was trained on their output, use --steps " + others + "," + model_name);
  }
  // 5. Reference cases.
  if (info.format.rfind("tiffin bundle", 0) == 0) {
    Add(&r, "reference", Level::kPass,
        "the bundle's checksums and reference cases were verified on load");
  } else {
    Add(&r, "reference", Level::kInfo, "this file carries no reference cases to replay",
        "pack it with `tiffin pack MODEL --reference DATA` so every load checks its predictions");
  }
  if (!options.data_path.empty()) CheckData(path, options, **model, have_sk ? &sk : nullptr, &r);
  return r;
}

std::string ToText(const Report& r) {
  std::string s;
  for (const auto& c : r.checks) {
    s += std::string(LevelName(c.level)) + "  " + c.id + ": " + c.message + "\n";
    if (!c.fix.empty()) s += "      fix: " + c.fix + "\n";
  }
  s += r.ok() ? "no failures\n" : "FAILED\n";
  return s;
}

std::string ToJson(const Report& r, const std::string& path) {
  std::string s =
      "{\"path\":" + JsonQuote(path) + ",\"ok\":" + (r.ok() ? "true" : "false") + ",\"checks\":[";
  for (size_t i = 0; i < r.checks.size(); ++i) {
    const Check& c = r.checks[i];
    s += std::string(i ? "," : "") + "{\"id\":" + JsonQuote(c.id) + ",\"level\":\"" +
         std::string(LevelName(c.level)) + "\",\"message\":" + JsonQuote(c.message) +
         ",\"fix\":" + JsonQuote(c.fix) + "}";
  }
  return s + "]}";
}

}  // namespace tiffin::doctor
