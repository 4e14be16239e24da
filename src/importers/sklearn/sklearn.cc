// Entry points of the scikit-learn importer: reading the file, naming the
// objects in it, and building the graph with its inputs and outputs.
#include "importers/sklearn/sklearn.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <set>

#include "core/json.h"
#include "importers/pickle/joblib.h"
#include "importers/pickle/numpy.h"
#include "importers/sklearn/convert.h"
#include "importers/sklearn/trees.h"

namespace tiffin::sklearn {
namespace {

std::vector<std::string> AllowedGlobals() {
  std::vector<std::string> g = pickle::kNumpyAllowedGlobals;
  g.insert(g.end(), {
                        "sklearn.*",        // estimators, Tree, losses, KDTree, ...
                        "numpy.random.*",   // RandomState reconstructors (never used)
                        "builtins.slice",   // ColumnTransformer column slices
                        "builtins.object",  // copyreg reconstruction
                        "numpy.ma.core._mareconstruct",
                        "numpy.ma.core.MaskedArray",
                    });
  return g;
}

std::string VersionOf(const Obj& obj) {
  const PickleValue* v = obj.Find("_sklearn_version");
  if (v && v->is_str()) return v->str_value;
  return "before 0.18";
}

bool IsEstimator(const PickleValue& v) {
  return v.is_object() && v.global.module.rfind("sklearn.", 0) == 0;
}

std::string RoleOf(const Obj& obj) {
  const std::string cls = obj.ClassName();
  if (cls == "LabelEncoder" || cls == "LabelBinarizer") return "label encoder";
  if (cls == "Pipeline") {
    const PickleValue* steps = obj.Find("steps");
    if (steps && (steps->is_list() || steps->is_tuple()) && !steps->items.empty()) {
      const PickleValue* last = steps->items.back().get();
      if ((last->is_tuple() || last->is_list()) && last->items.size() == 2 &&
          IsEstimator(*last->items[1]))
        return RoleOf(Obj(last->items[1].get()));
    }
    return "transformer";
  }
  if (cls == "IsolationForest" || cls == "OneClassSVM" || cls == "LocalOutlierFactor")
    return "outlier detector";
  if (cls.find("KMeans") != std::string::npos || cls == "DBSCAN") return "clusterer";
  const ConverterRow* row = FindConverter(obj);
  if (row && row->transform) return "transformer";
  if (obj.Has("classes_") || cls.find("Classifier") != std::string::npos || cls == "SVC" ||
      cls == "NuSVC" || cls == "LinearSVC" || cls.find("NB") != std::string::npos ||
      cls == "LogisticRegression" || cls == "Perceptron") {
    return "classifier";
  }
  if (row && row->predict) return "regressor";
  if (cls.find("Regressor") != std::string::npos || cls.find("Regression") != std::string::npos)
    return "regressor";
  if (cls.find("Scaler") != std::string::npos || cls.find("Encoder") != std::string::npos ||
      cls.find("Transformer") != std::string::npos) {
    return "transformer";
  }
  return "other";
}

std::string DefaultName(const Obj& obj, const std::string& role) {
  const std::string cls = obj.ClassName();
  if (role == "classifier" || role == "regressor" || role == "outlier detector" ||
      role == "clusterer")
    return "model";
  if (role == "label encoder") return "label_encoder";
  if (cls.find("Scaler") != std::string::npos || cls == "Normalizer") return "scaler";
  if (cls.find("Encoder") != std::string::npos) return "encoder";
  if (cls.find("Imputer") != std::string::npos) return "imputer";
  if (cls == "Pipeline" || cls == "ColumnTransformer" || cls == "FeatureUnion")
    return "preprocessor";
  return "transformer";
}

// Key hyper-parameters shown by inspect, when present.
const char* const kKeyParams[] = {
    "kernel",
    "C",
    "gamma",
    "degree",
    "penalty",
    "solver",
    "multi_class",
    "loss",
    "alpha",
    "l1_ratio",
    "n_estimators",
    "max_depth",
    "learning_rate",
    "max_iter",
    "criterion",
    "algorithm",
    "hidden_layer_sizes",
    "activation",
    "n_neighbors",
    "weights",
    "metric",
    "strategy",
    "norm",
    "threshold",
    "feature_range",
    "clip",
    "with_mean",
    "with_std",
    "handle_unknown",
    "drop",
    "n_components",
    "whiten",
    "encode",
    "n_bins",
    "k",
    "voting",
    "method",
    "remainder",
    "probability",
    "fit_intercept",
};

std::string Params(const Obj& obj) {
  std::string s;
  for (const char* key : kKeyParams) {
    const PickleValue* v = obj.Find(key);
    if (!v || v->is_object()) continue;
    if (!s.empty()) s += ", ";
    s += std::string(key) + "=" + v->DebugString(40);
  }
  std::string fitted;
  if (const PickleValue* n = obj.Find("n_features_in_"); n && n->is_int()) {
    fitted += "features=" + std::to_string(n->int_value);
  }
  if (obj.HasValue("classes_")) {
    auto labels = ToLabels(*obj.Find("classes_"), "classes_");
    if (labels.ok()) {
      std::string c;
      const int64_t n = labels->size();
      for (int64_t i = 0; i < std::min<int64_t>(n, 6); ++i) {
        if (i) c += ", ";
        c += labels->is_string() ? "'" + labels->values.data<std::string>()[i] + "'"
             : labels->values.dtype() == DType::kInt64
                 ? std::to_string(labels->values.data<int64_t>()[i])
                 : std::to_string(labels->values.data<double>()[i]);
      }
      if (n > 6) c += ", ...";
      fitted += std::string(fitted.empty() ? "" : ", ") + "classes=[" + c + "]";
    }
  }
  if (!fitted.empty()) s += std::string(s.empty() ? "" : "; ") + "fitted: " + fitted;
  return s;
}

void Describe(const PickleValue& v, int indent, const std::string& label,
              std::vector<std::string>* out, int depth = 0) {
  const std::string pad(static_cast<size_t>(indent) * 2, ' ');
  if (depth > 12) {
    out->push_back(pad + "...");
    return;
  }
  if (!v.is_object()) {
    out->push_back(pad + label + v.DebugString(40));
    return;
  }
  Obj obj(&v);
  const bool known =
      FindConverter(obj) != nullptr || !IsEstimator(v) ||
      obj.ClassName() == "LabelEncoder";  // decodes labels (--steps model,label_encoder)
  out->push_back(pad + label + obj.ClassName() + "(" + Params(obj) + ")" +
                 (IsEstimator(v) && !known ? "   <- not supported by tiffin" : ""));
  auto children = [&](const char* key, bool pairs) {
    const PickleValue* list = obj.Find(key);
    if (!list) return;
    auto seq = ToSequence(*list, key);
    if (!seq.ok()) return;
    for (const PickleValue* item : *seq) {
      if (pairs && (item->is_tuple() || item->is_list()) && item->items.size() >= 2) {
        std::string name = item->items[0]->is_str() ? item->items[0]->str_value : "?";
        std::string cols = item->items.size() >= 3 ? " on " + item->items[2]->DebugString(50) : "";
        Describe(*item->items[1], indent + 1, name + cols + ": ", out, depth + 1);
      } else if (!pairs) {
        Describe(*item, indent + 1, "", out, depth + 1);
        if (std::string(key) == "estimators_" && seq->size() > 1) {
          out->push_back(pad + "  ... " + std::to_string(seq->size()) +
                         " fitted estimators in all");
          break;
        }
      }
    }
  };
  const std::string cls = obj.ClassName();
  if (cls == "Pipeline") children("steps", true);
  if (cls == "ColumnTransformer")
    children(obj.Has("transformers_") ? "transformers_" : "transformers", true);
  if (cls == "FeatureUnion") children("transformer_list", true);
  if (cls == "VotingClassifier" || cls == "VotingRegressor") children("estimators", true);
}

Result<int64_t> InferWidth(const PickleValue& v, int depth = 0);

Result<int64_t> WidthFromShapes(const Obj& obj) {
  auto dim = [&](const char* key, int axis) -> int64_t {
    if (!obj.HasValue(key)) return -1;
    auto t = obj.Doubles(key);
    if (!t.ok() || t->rank() <= axis) return -1;
    return t->dim(axis < 0 ? t->rank() - 1 : axis);
  };
  for (auto [key, axis] :
       std::initializer_list<std::pair<const char*, int>>{{"coef_", -1},
                                                          {"scale_", 0},
                                                          {"mean_", 0},
                                                          {"center_", 0},
                                                          {"statistics_", 0},
                                                          {"theta_", 1},
                                                          {"feature_log_prob_", 1},
                                                          {"support_vectors_", 1},
                                                          {"_fit_X", 1},
                                                          {"components_", 1},
                                                          {"variances_", 0},
                                                          {"scores_", 0}}) {
    int64_t d = dim(key, axis);
    if (d >= 0) return d;
  }
  return int64_t{-1};
}

Result<int64_t> InferWidth(const PickleValue& v, int depth) {
  if (depth > 16) return int64_t{-1};
  Obj obj(&v);
  int64_t n = obj.IntOr("n_features_in_", -1);
  if (n >= 0) return n;
  n = obj.IntOr("n_features_", -1);
  if (n >= 0) return n;
  n = obj.IntOr("n_input_features_", -1);
  if (n >= 0) return n;
  const std::string cls = obj.ClassName();
  if (cls == "Pipeline") {
    const PickleValue* steps = obj.Find("steps");
    if (steps && (steps->is_list() || steps->is_tuple())) {
      for (const auto& s : steps->items) {
        if ((s->is_tuple() || s->is_list()) && s->items.size() == 2 && s->items[1]->is_object())
          return InferWidth(*s->items[1], depth + 1);
      }
    }
  }
  if (const PickleValue* cats = obj.Find("categories_")) {
    auto seq = ToSequence(*cats, "categories_");
    if (seq.ok()) return static_cast<int64_t>(seq->size());
  }
  if (const PickleValue* ests = obj.Find("estimators_")) {
    auto seq = ToSequence(*ests, "estimators_");
    if (seq.ok() && !seq->empty() && (*seq)[0]->is_object())
      return InferWidth(*(*seq)[0], depth + 1);
  }
  if (const PickleValue* tree = obj.Find("tree_");
      tree && tree->is_object() && !tree->items.empty()) {
    const PickleValue* args =
        tree->items.size() == 1 && tree->items[0]->is_tuple() ? tree->items[0].get() : tree;
    if (!args->items.empty() && args->items[0]->is_int()) return args->items[0]->int_value;
  }
  if (const PickleValue* coefs = obj.Find("coefs_")) {
    auto seq = ToSequence(*coefs, "coefs_");
    if (seq.ok() && !seq->empty()) {
      auto t = ToDoubleTensor(*(*seq)[0], "coefs_");
      if (t.ok() && t->rank() == 2) return t->dim(0);
    }
  }
  return WidthFromShapes(obj);
}

// True when `v` (a transformer) expects text input.
bool ConsumesStrings(const PickleValue& v, int depth = 0) {
  if (depth > 16 || !v.is_object()) return false;
  Obj obj(&v);
  const std::string cls = obj.ClassName();
  if (cls == "Pipeline") {
    const PickleValue* steps = obj.Find("steps");
    if (!steps || !(steps->is_list() || steps->is_tuple())) return false;
    for (const auto& s : steps->items) {
      if ((s->is_tuple() || s->is_list()) && s->items.size() == 2 && s->items[1]->is_object())
        return ConsumesStrings(*s->items[1], depth + 1);
    }
    return false;
  }
  if (cls == "OneHotEncoder" || cls == "OrdinalEncoder") {
    const PickleValue* cats = obj.Find("categories_");
    if (!cats) return false;
    auto seq = ToSequence(*cats, "categories_");
    if (!seq.ok()) return false;
    for (const PickleValue* c : *seq) {
      auto l = ToLabels(*c, "categories_");
      if (l.ok() && l->is_string()) return true;
    }
    return false;
  }
  if (cls == "SimpleImputer") {
    const PickleValue* s = obj.Find("statistics_");
    if (!s) return false;
    auto l = ToLabels(*s, "statistics_");
    return l.ok() && l->is_string();
  }
  return false;
}

struct Named {
  const PickleValue* value;
  SklearnObject info;
};

void Collect(const PickleValue& v, const std::string& path, const std::string& key,
             std::vector<Named>* out, int depth = 0) {
  if (depth > 4) return;
  if (IsEstimator(v)) {
    Named n{&v, {}};
    Obj obj(&v);
    n.info.path = path;
    n.info.class_name = obj.FullName();
    n.info.role = RoleOf(obj);
    n.info.name = key.empty() ? DefaultName(obj, n.info.role) : key;
    n.info.sklearn_version = VersionOf(obj);
    n.info.supported = FindConverter(obj) != nullptr || n.info.role == "label encoder";
    Describe(v, 0, "", &n.info.tree);
    out->push_back(std::move(n));
    return;
  }
  if (v.is_tuple() || v.is_list()) {
    for (size_t i = 0; i < v.items.size(); ++i)
      Collect(*v.items[i], path + "[" + std::to_string(i) + "]", "", out, depth + 1);
  } else if (v.is_dict()) {
    for (const auto& [k, item] : v.entries) {
      if (!k->is_str()) continue;
      Collect(*item, path + "['" + k->str_value + "']", k->str_value, out, depth + 1);
    }
  }
}

std::vector<Named> CollectObjects(const PickleValue& root) {
  std::vector<Named> out;
  Collect(root, "", "", &out);
  // Make names unique: model, model2, ...
  std::map<std::string, int> seen;
  for (auto& n : out) {
    int c = ++seen[n.info.name];
    if (c > 1) n.info.name += std::to_string(c);
  }
  return out;
}

Result<const Named*> ResolveStep(const std::vector<Named>& objects, const std::string& step) {
  for (const auto& n : objects)
    if (n.info.name == step) return &n;
  for (size_t i = 0; i < objects.size(); ++i)
    if (std::to_string(i) == step || objects[i].info.path == step ||
        objects[i].info.path == "[" + step + "]")
      return &objects[i];
  const Named* match = nullptr;
  for (const auto& n : objects) {
    std::string cls = n.info.class_name.substr(n.info.class_name.rfind('.') + 1);
    std::string lower = cls;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (cls == step || lower == step) {
      if (match)
        return InvalidArgument("--steps '" + step + "' matches several objects; use their names");
      match = &n;
    }
  }
  if (match) return match;
  std::string names;
  for (const auto& n : objects)
    names += (names.empty() ? "" : ", ") + n.info.name + " (" +
             n.info.class_name.substr(n.info.class_name.rfind('.') + 1) + ")";
  return InvalidArgument("--steps '" + step + "' names no object in this file; it holds: " + names);
}

std::vector<std::string> ParseNames(const PickleValue* v) {
  std::vector<std::string> out;
  if (!v) return out;
  auto l = ToLabels(*v, "feature_names_in_");
  if (!l.ok() || !l->is_string()) return out;
  for (int64_t i = 0; i < l->size(); ++i) out.push_back(l->values.data<std::string>()[i]);
  return out;
}

}  // namespace

namespace {

// Shared by the file and bytes readers: the parse, with refusals of custom
// classes rephrased in the user's terms.
Result<ParsedFile> FinishParse(Result<pickle::JoblibFile> read, const std::string& where) {
  if (!read.ok()) {
    // A class outside scikit-learn and numpy is almost always code from the
    // training project; say so in the user's terms.
    const std::string& msg = read.status().message();
    const size_t at = msg.find("refusing to call '");
    if (at != std::string::npos && msg.find("allow-list") != std::string::npos) {
      const size_t start = at + 18, end = msg.find('\'', start);
      const std::string cls =
          msg.substr(start, end == std::string::npos ? std::string::npos : end - start);
      return NotSupported(where + ": the pickle holds an object of class '" + cls +
                          "', which is not a scikit-learn or numpy class (custom code from the "
                          "training project?). tiffin rebuilds only known classes and never runs "
                          "code from a file: re-save the model with standard scikit-learn steps, "
                          "or export it to ONNX where that code is available");
    }
    return read.status();
  }
  pickle::JoblibFile jf = std::move(read).value();
  ParsedFile f;
  f.root = std::make_shared<pickle::PickleValue>(std::move(jf.root));
  f.info.container = jf.numpy_arrays_inline || jf.compression != "none" ? "joblib" : "pickle";
  f.info.compression = jf.compression;
  f.info.pickle_protocol = jf.pickle_protocol;
  f.info.numpy2 = jf.numpy2_paths;
  return f;
}

pickle::PickleOptions ParseOptions(size_t max_bytes) {
  pickle::PickleOptions opts;
  opts.allowed_globals = AllowedGlobals();
  opts.max_bytes = max_bytes;
  return opts;
}

// ---- training statistics: what the first step knows about each input

// Fills stats[cols[i]] from `est`, whose i-th input column is cols[i].
void StatsFrom(const PickleValue& v, const std::vector<int64_t>& cols,
               std::vector<FeatureStats>* stats, int depth = 0) {
  if (depth > 8 || !v.is_object()) return;
  Obj obj(&v);
  const std::string cls = obj.ClassName();
  auto at = [&](size_t i) -> FeatureStats* {
    if (i >= cols.size()) return nullptr;
    const int64_t c = cols[i];
    if (c < 0 || c >= static_cast<int64_t>(stats->size())) return nullptr;
    return &(*stats)[static_cast<size_t>(c)];
  };
  auto note = [](FeatureStats* f, const std::string& text) {
    f->source += (f->source.empty() ? "" : "; ") + text;
  };
  auto doubles = [&](const char* key) -> std::vector<double> {
    if (!obj.HasValue(key)) return {};
    auto t = obj.Doubles(key);
    if (!t.ok() || t->rank() != 1 || t->size() != static_cast<int64_t>(cols.size())) return {};
    return std::vector<double>(t->data<double>(), t->data<double>() + t->size());
  };
  if (cls == "Pipeline") {
    // Steps that keep the columns as they are (imputers, scalers) each add
    // what they know; the first step that changes the columns ends it.
    const PickleValue* steps = obj.Find("steps");
    if (!steps || !(steps->is_list() || steps->is_tuple())) return;
    for (const auto& s : steps->items) {
      if (!(s->is_tuple() || s->is_list()) || s->items.size() != 2 || !s->items[1]->is_object())
        continue;
      StatsFrom(*s->items[1], cols, stats, depth + 1);
      Obj step(s->items[1].get());
      const std::string c = step.ClassName();
      const bool keeps_columns = (c == "SimpleImputer" && !step.HasValue("indicator_")) ||
                                 c == "StandardScaler" || c == "MinMaxScaler" ||
                                 c == "MaxAbsScaler" || c == "RobustScaler";
      if (!keeps_columns) return;
    }
    return;
  }
  if (cls == "ColumnTransformer") {
    const PickleValue* tv = obj.Find("transformers_");
    if (!tv || !(tv->is_list() || tv->is_tuple())) return;
    std::vector<std::string> names;
    for (const auto& f : *stats) names.push_back(f.name);
    for (const auto& t : tv->items) {
      if (!(t->is_tuple() || t->is_list()) || t->items.size() < 3) continue;
      auto l = ToLabels(*t->items[2], "columns");
      std::vector<int64_t> sub;
      if (t->items[2]->is_int()) {
        sub.push_back(t->items[2]->int_value);
      } else if (t->items[2]->is_str()) {
        for (size_t j = 0; j < names.size(); ++j)
          if (names[j] == t->items[2]->str_value) sub.push_back(static_cast<int64_t>(j));
      } else if (l.ok() && l->is_string()) {
        for (int64_t i = 0; i < l->size(); ++i)
          for (size_t j = 0; j < names.size(); ++j)
            if (names[j] == l->values.data<std::string>()[i])
              sub.push_back(static_cast<int64_t>(j));
      } else if (l.ok() && l->values.dtype() == DType::kInt64) {
        for (int64_t i = 0; i < l->size(); ++i) sub.push_back(l->values.data<int64_t>()[i]);
      }
      std::vector<int64_t> mapped;
      for (int64_t c : sub)
        if (c >= 0 && static_cast<size_t>(c) < cols.size())
          mapped.push_back(cols[static_cast<size_t>(c)]);
      if (!mapped.empty()) StatsFrom(*t->items[1], mapped, stats, depth + 1);
    }
    return;
  }
  if (cls == "MinMaxScaler") {
    auto lo = doubles("data_min_"), hi = doubles("data_max_");
    for (size_t i = 0; i < lo.size() && i < hi.size(); ++i) {
      if (FeatureStats* f = at(i)) {
        f->min = lo[i];
        f->max = hi[i];
        note(f, "MinMaxScaler.data_min_/data_max_");
      }
    }
    return;
  }
  if (cls == "StandardScaler") {
    auto mean = doubles("mean_"), var = doubles("var_");
    for (size_t i = 0; i < cols.size(); ++i) {
      FeatureStats* f = at(i);
      if (!f) continue;
      if (i < mean.size()) f->mean = mean[i];
      if (i < var.size()) f->std = std::sqrt(var[i]);
      if (!mean.empty() || !var.empty()) note(f, "StandardScaler.mean_/var_");
    }
    return;
  }
  if (cls == "MaxAbsScaler") {
    auto m = doubles("max_abs_");
    for (size_t i = 0; i < m.size(); ++i) {
      if (FeatureStats* f = at(i)) {
        f->min = -m[i];
        f->max = m[i];
        note(f, "MaxAbsScaler.max_abs_ (|x| <= max_abs_)");
      }
    }
    return;
  }
  if (cls == "SimpleImputer") {
    auto st = doubles("statistics_");
    const std::string strategy = obj.StrOr("strategy", "mean");
    for (size_t i = 0; i < st.size(); ++i) {
      FeatureStats* f = at(i);
      if (!f) continue;
      if (strategy == "mean") f->mean = st[i];
      note(f, "SimpleImputer.statistics_ (" + strategy + ")");
    }
    return;
  }
  if (cls == "OneHotEncoder" || cls == "OrdinalEncoder") {
    const PickleValue* cats = obj.Find("categories_");
    if (!cats) return;
    auto seq = ToSequence(*cats, "categories_");
    if (!seq.ok()) return;
    for (size_t i = 0; i < seq->size(); ++i) {
      FeatureStats* f = at(i);
      auto l = ToLabels(*(*seq)[i], "categories_");
      if (!f || !l.ok()) continue;
      for (int64_t j = 0; j < l->size(); ++j) {
        f->categories.push_back(l->is_string() ? l->values.data<std::string>()[j]
                                : l->values.dtype() == DType::kInt64
                                    ? std::to_string(l->values.data<int64_t>()[j])
                                    : std::to_string(l->values.data<double>()[j]));
      }
      note(f, cls + ".categories_");
    }
    return;
  }
  // Trees and forests: the split thresholds bound where training data lay.
  std::vector<const PickleValue*> trees;
  if (obj.Has("tree_")) trees.push_back(&v);
  if (const PickleValue* ests = obj.Find("estimators_")) {
    auto seq = ToSequence(*ests, "estimators_");
    if (seq.ok())
      for (const PickleValue* e : *seq)
        if (e->is_object() && Obj(e).Has("tree_")) trees.push_back(e);
  }
  if (trees.empty()) return;
  std::vector<double> lo(cols.size(), std::numeric_limits<double>::infinity());
  std::vector<double> hi(cols.size(), -std::numeric_limits<double>::infinity());
  for (const PickleValue* e : trees) {
    auto t = ReadSklearnTree(*Obj(e).Find("tree_"), static_cast<int64_t>(cols.size()), "tree");
    if (!t.ok()) return;
    for (int64_t n = 0; n < t->size(); ++n) {
      if (t->is_leaf(n)) continue;
      const size_t fidx = static_cast<size_t>(t->feature[static_cast<size_t>(n)]);
      lo[fidx] = std::min(lo[fidx], t->threshold[static_cast<size_t>(n)]);
      hi[fidx] = std::max(hi[fidx], t->threshold[static_cast<size_t>(n)]);
    }
  }
  for (size_t i = 0; i < cols.size(); ++i) {
    FeatureStats* f = at(i);
    if (!f || !(lo[i] <= hi[i])) continue;
    f->min = lo[i];
    f->max = hi[i];
    note(f, "tree split thresholds (training data reached at least this range)");
  }
}

}  // namespace

Result<ParsedFile> ParseSklearnFile(const std::string& path, size_t max_bytes) {
  return FinishParse(pickle::ReadJoblibOrPickle(path, ParseOptions(max_bytes)), path);
}

Result<ParsedFile> ParseSklearnBytes(std::string_view bytes, size_t max_bytes) {
  return FinishParse(pickle::ReadJoblibOrPickleBytes(bytes, "", ParseOptions(max_bytes)), "pickle");
}

SklearnFileInfo ListObjects(const ParsedFile& file) {
  SklearnFileInfo info = file.info;
  for (auto& n : CollectObjects(*file.root)) info.objects.push_back(n.info);
  return info;
}

Result<ImportedGraph> ImportSklearn(const ParsedFile& file, const std::vector<std::string>& steps) {
  std::vector<Named> objects = CollectObjects(*file.root);
  if (objects.empty()) {
    return InvalidArgument("this pickle holds no scikit-learn estimator (top-level value: " +
                           file.root->TypeName() + ")");
  }
  std::vector<const Named*> chosen;
  if (!steps.empty()) {
    for (const auto& s : steps) {
      TIFFIN_ASSIGN_OR_RETURN(const Named* n, ResolveStep(objects, s));
      chosen.push_back(n);
    }
  } else if (objects.size() == 1) {
    chosen.push_back(&objects[0]);
  } else {
    const Named* predictor = nullptr;
    int n_predictors = 0;
    for (const auto& n : objects) {
      if (n.info.role == "classifier" || n.info.role == "regressor" ||
          n.info.role == "outlier detector") {
        predictor = &n;
        ++n_predictors;
      }
    }
    if (n_predictors != 1) {
      std::string names;
      for (const auto& n : objects) names += (names.empty() ? "" : ", ") + n.info.name;
      return InvalidArgument("this file holds " + std::to_string(objects.size()) + " objects (" +
                             names +
                             "); choose which to run with --steps, e.g. "
                             "--steps " +
                             objects[1].info.name + "," + objects[0].info.name);
    }
    chosen.push_back(predictor);
  }

  ImportedGraph out;
  GraphBuilder b;
  Ctx ctx{b, &out.notes};
  const PickleValue& first = *chosen[0]->value;
  Obj first_obj(&first);
  TIFFIN_ASSIGN_OR_RETURN(int64_t width, InferWidth(first));
  std::vector<std::string> names = ParseNames(first_obj.Find("feature_names_in_"));
  // Tables with text columns: one input per column, named by feature.
  const PickleValue* ct = &first;
  if (first_obj.ClassName() == "Pipeline") {
    const PickleValue* s = first_obj.Find("steps");
    if (s && (s->is_list() || s->is_tuple()) && !s->items.empty() && s->items[0]->items.size() == 2)
      ct = s->items[0]->items[1].get();
  }
  Features in;
  std::vector<bool> is_text;
  bool table = false;
  if (ct->is_object() && Obj(ct).ClassName() == "ColumnTransformer" && width > 0 &&
      width <= 100000) {
    Obj cto(ct);
    if (names.empty()) names = ParseNames(cto.Find("feature_names_in_"));
    is_text.assign(static_cast<size_t>(width), false);
    const PickleValue* tv = cto.Find("transformers_");
    if (tv && (tv->is_list() || tv->is_tuple())) {
      for (const auto& t : tv->items) {
        if (!(t->is_tuple() || t->is_list()) || t->items.size() < 3) continue;
        if (!ConsumesStrings(*t->items[1])) continue;
        // Resolve the columns the same way the converter will.
        Features probe;
        for (int64_t i = 0; i < width; ++i)
          probe.columns.push_back(
              {names.empty() ? "x" + std::to_string(i) : names[static_cast<size_t>(i)], "",
               DType::kFloat64});
        std::vector<std::string> probe_names;
        for (const auto& c : probe.columns) probe_names.push_back(c.name);
        // Only names/ints/masks: reuse ToLabels/ToInt rules.
        auto l = ToLabels(*t->items[2], "columns");
        if (l.ok() && l->is_string()) {
          for (int64_t i = 0; i < l->size(); ++i)
            for (size_t j = 0; j < probe_names.size(); ++j)
              if (probe_names[j] == l->values.data<std::string>()[i]) is_text[j] = true;
        } else if (l.ok()) {
          for (int64_t i = 0; i < l->size(); ++i) {
            int64_t c = l->values.dtype() == DType::kInt64
                            ? l->values.data<int64_t>()[i]
                            : static_cast<int64_t>(l->values.data<double>()[i]);
            if (c < 0) c += width;
            if (c >= 0 && c < width) is_text[static_cast<size_t>(c)] = true;
          }
        } else if (t->items[2]->is_int()) {
          int64_t c = t->items[2]->int_value;
          if (c >= 0 && c < width) is_text[static_cast<size_t>(c)] = true;
        } else if (t->items[2]->is_str()) {
          for (size_t j = 0; j < probe_names.size(); ++j)
            if (probe_names[j] == t->items[2]->str_value) is_text[j] = true;
        }
      }
    }
    table = std::find(is_text.begin(), is_text.end(), true) != is_text.end();
  }
  if (table) {
    for (int64_t i = 0; i < width; ++i) {
      const std::string name =
          names.empty() ? "x" + std::to_string(i) : names[static_cast<size_t>(i)];
      const DType dt = is_text[static_cast<size_t>(i)] ? DType::kString : DType::kFloat64;
      b.AddInput(name, dt, {Dim{-1, "N"}, Dim{1, ""}});
      out.inputs.push_back(TensorInfo{name, dt, true, {Dim{-1, "N"}, Dim{1, ""}}});
      in.columns.push_back({name, name, dt});
    }
  } else {
    const DType dt = ConsumesStrings(first) ? DType::kString : DType::kFloat64;
    std::vector<Dim> shape = {Dim{-1, "N"}, width >= 0 ? Dim{width, ""} : Dim{-1, "F"}};
    b.AddInput("X", dt, shape);
    out.inputs.push_back(TensorInfo{"X", dt, true, shape});
    in.value = "X";
    in.width = width;
    in.dtype = dt;
  }

  // Transform through every chosen object but a final predictor.
  Features cur = in;
  size_t n_transform = chosen.size();
  const Obj last(chosen.back()->value);
  const bool decode = chosen.size() >= 2 && chosen.back()->info.role == "label encoder";
  const Named* predictor_step = decode ? chosen[chosen.size() - 2] : chosen.back();
  if (IsPredictor(Obj(predictor_step->value)))
    n_transform = static_cast<size_t>(predictor_step - chosen[0]) + 0;
  n_transform = decode
                    ? chosen.size() - 2
                    : (IsPredictor(Obj(chosen.back()->value)) ? chosen.size() - 1 : chosen.size());
  for (size_t i = 0; i < n_transform; ++i) {
    if (chosen[i]->info.role == "label encoder") {
      return InvalidArgument(
          "--steps: a LabelEncoder can only come last, after a classifier, to "
          "decode its labels");
    }
    auto r = Transform(ctx, Obj(chosen[i]->value), cur);
    if (!r.ok()) return r.status().WithContext("step '" + chosen[i]->info.name + "'");
    cur = *r;
  }
  auto add_out = [&](const std::string& value, const std::string& name, DType dt,
                     std::vector<Dim> shape) {
    b.AddOutput(value, name, dt, shape);
    out.outputs.push_back(TensorInfo{name, dt, true, std::move(shape)});
  };
  const Dim n{-1, "N"};
  std::string summary_class = chosen.back()->info.class_name;
  if (n_transform < chosen.size()) {
    const Named* pstep = chosen[n_transform];
    auto pr = Predict(ctx, Obj(pstep->value), cur);
    if (!pr.ok()) return pr.status().WithContext("step '" + pstep->info.name + "'");
    Prediction p = *pr;
    if (p.is_classifier()) {
      std::string label = p.label;
      DType label_dt = p.classes.values.dtype();
      if (decode) {
        TIFFIN_ASSIGN_OR_RETURN(Labels le, Classes(last));
        if (p.classes.values.dtype() != DType::kInt64)
          return InvalidArgument(
              "--steps: the LabelEncoder follows a classifier whose labels are not integers");
        for (int64_t i = 0; i < p.classes.size(); ++i) {
          const int64_t c = p.classes.values.data<int64_t>()[i];
          if (c < 0 || c >= le.size())
            return InvalidArgument("--steps: the classifier predicts class " + std::to_string(c) +
                                   ", which the LabelEncoder's " + std::to_string(le.size()) +
                                   " classes do not cover");
        }
        label = b.Op("Gather", {b.Const(le.values, "label_encoder_classes"), label},
                     {{"axis", AttrInt(0)}});
        label_dt = le.values.dtype();
      }
      add_out(label, "label", label_dt, {n});
      // The labels as text, in probability column order (decoded when a
      // LabelEncoder follows).
      const Labels* shown = &p.classes;
      Labels decoded;
      if (decode) {
        auto le = Classes(last);
        if (le.ok()) {
          decoded.values = Tensor(le->values.dtype(), {p.classes.size()});
          for (int64_t i = 0; i < p.classes.size(); ++i) {
            const int64_t c = p.classes.values.data<int64_t>()[i];
            if (le->is_string())
              decoded.values.data<std::string>()[i] = le->values.data<std::string>()[c];
            else if (le->values.dtype() == DType::kInt64)
              decoded.values.data<int64_t>()[i] = le->values.data<int64_t>()[c];
            else
              decoded.values.data<double>()[i] = le->values.data<double>()[c];
          }
          shown = &decoded;
        }
      }
      for (int64_t i = 0; i < shown->size(); ++i) {
        const Tensor& v = shown->values;
        out.info.class_labels.push_back(v.dtype() == DType::kString ? v.data<std::string>()[i]
                                        : v.dtype() == DType::kInt64
                                            ? std::to_string(v.data<int64_t>()[i])
                                            : std::to_string(v.data<double>()[i]));
      }
      if (!p.probabilities.empty())
        add_out(p.probabilities, "probabilities", DType::kFloat64, {n, Dim{p.classes.size(), ""}});
    }
    if (!p.decision.empty()) {
      add_out(
          p.decision, "decision_function", DType::kFloat64,
          p.decision_width ? std::vector<Dim>{n, Dim{p.decision_width, ""}} : std::vector<Dim>{n});
    }
    if (!p.score_samples.empty()) add_out(p.score_samples, "score_samples", DType::kFloat64, {n});
    if (!p.variable.empty()) {
      add_out(p.variable, "variable", DType::kFloat64,
              p.variable_2d ? std::vector<Dim>{n, Dim{p.n_targets, ""}} : std::vector<Dim>{n});
    }
    summary_class = pstep->info.class_name;
  } else {
    TIFFIN_ASSIGN_OR_RETURN(std::string d, Dense(ctx, cur, "the last step"));
    add_out(d, "transformed", DType::kFloat64,
            {n, cur.Width() >= 0 ? Dim{cur.Width(), ""} : Dim{-1, "W"}});
  }
  out.graph = b.Finish();

  ModelInfo& info = out.info;
  info.format = "scikit-learn " + file.info.container;
  info.producer_name = "scikit-learn";
  info.producer_version = VersionOf(Obj(chosen.back()->value));
  info.opsets["ai.onnx"] = kOnnxOpset;  // ModelInfo names domains in full
  for (const auto& node : out.graph->nodes) {
    ++info.op_counts[node.domain.empty() ? node.op_type : node.domain + ":" + node.op_type];
    if (!node.domain.empty()) info.opsets[node.domain] = node.opset;
    for (const auto& [k, a] : node.attributes) {
      if (a.kind == ir::Attribute::Kind::kTensor) {
        info.parameter_count += a.t.size();
        info.parameter_bytes += static_cast<int64_t>(a.t.nbytes());
      }
    }
  }
  for (const auto& [id, t] : out.graph->constants) {
    info.parameter_count += t.size();
    info.parameter_bytes += static_cast<int64_t>(t.nbytes());
  }
  info.metadata["container"] = file.info.container;
  info.metadata["compression"] = file.info.compression;
  info.metadata["pickle_protocol"] = std::to_string(file.info.pickle_protocol);
  info.metadata["numpy2"] = file.info.numpy2 ? "true" : "false";
  info.metadata["estimator"] = summary_class;
  std::vector<std::string> step_names;
  for (const Named* c : chosen) step_names.push_back(c->info.name);
  info.metadata["steps"] = JsonStringList(step_names);
  std::string structure;
  for (const auto& e : ctx.structure) structure += (structure.empty() ? "" : " > ") + e;
  info.metadata["structure"] = structure;
  if (!names.empty()) info.metadata["feature_names"] = JsonStringList(names);
  info.feature_names = names;
  if (width > 0 && width <= 100000) {
    std::vector<FeatureStats> stats(static_cast<size_t>(width));
    std::vector<int64_t> cols;
    for (int64_t i = 0; i < width; ++i) {
      stats[static_cast<size_t>(i)].name =
          names.empty() ? "x" + std::to_string(i) : names[static_cast<size_t>(i)];
      cols.push_back(i);
    }
    StatsFrom(first, cols, &stats);
    const bool any = std::any_of(stats.begin(), stats.end(),
                                 [](const FeatureStats& f) { return !f.source.empty(); });
    if (any) info.training_stats = std::move(stats);
  }
  if (!out.notes.empty()) info.metadata["notes"] = JsonStringList(out.notes);
  return out;
}

Result<ImportedGraph> ImportSklearnFile(const std::string& path, const LoadOptions& options) {
  TIFFIN_ASSIGN_OR_RETURN(ParsedFile file, ParseSklearnFile(path, options.max_file_bytes));
  auto r = ImportSklearn(file, options.steps);
  if (!r.ok()) return r.status().WithContext(path);
  return r;
}

}  // namespace tiffin::sklearn

namespace tiffin {

Result<SklearnFileInfo> InspectSklearnFile(const std::string& path) {
  TIFFIN_ASSIGN_OR_RETURN(sklearn::ParsedFile file,
                          sklearn::ParseSklearnFile(path, size_t{2} << 30));
  return sklearn::ListObjects(file);
}

std::vector<std::string> SklearnSupportedClasses() { return sklearn::SupportedClasses(); }

}  // namespace tiffin
