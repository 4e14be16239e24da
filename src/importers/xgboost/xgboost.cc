#include "importers/xgboost/xgboost.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include "importers/pickle/compression.h"
#include "importers/pickle/joblib.h"
#include "importers/pickle/pickle.h"

namespace tiffin::xgboost {

namespace {

using gbdt::GbdtModel;
using gbdt::Mode;
using gbdt::Node;
using gbdt::Transform;
using gbdt::Tree;

constexpr int64_t kMaxTrees = 10000000;
constexpr int64_t kMaxNodesPerTree = int64_t{1} << 26;
constexpr int64_t kMaxFeatures = 10000000;
constexpr int64_t kMaxClasses = 100000;

// ---- objectives ----

struct Objective {
  Transform transform = Transform::kIdentity;
  bool classifier = false;
  enum class Link { kIdentity, kLogit, kLog } link = Link::kIdentity;
};

Result<Objective> ObjectiveFor(const std::string& name, int64_t num_class) {
  Objective o;
  if (name == "binary:logistic") {
    o = {Transform::kSigmoid, true, Objective::Link::kLogit};
  } else if (name == "reg:logistic") {
    o = {Transform::kSigmoid, false, Objective::Link::kLogit};
  } else if (name == "binary:logitraw") {
    // LogisticRaw keeps base_score as given (measured with XGBoost 1.7).
    o = {Transform::kIdentity, false, Objective::Link::kIdentity};
  } else if (name == "multi:softprob" || name == "multi:softmax") {
    if (num_class < 2)
      return InvalidArgument(name + " with num_class " + std::to_string(num_class));
    o = {Transform::kSoftmax, true, Objective::Link::kIdentity};
  } else if (name == "count:poisson" || name == "reg:tweedie" || name == "reg:gamma" ||
             name == "survival:cox") {
    o = {Transform::kExp, false, Objective::Link::kLog};
  } else if (name == "reg:squarederror" || name == "reg:linear" || name == "reg:squaredlogerror" ||
             name == "reg:pseudohubererror" || name == "reg:absoluteerror" ||
             name == "reg:quantileerror" || name.rfind("rank:", 0) == 0) {
    o = {Transform::kIdentity, false, Objective::Link::kIdentity};
  } else {
    return NotSupported(
        "XGBoost objective '" + name +
        "' is not supported (supported: reg:squarederror, reg:linear, reg:logistic, "
        "reg:squaredlogerror, reg:pseudohubererror, reg:absoluteerror, reg:quantileerror, "
        "reg:gamma, reg:tweedie, count:poisson, survival:cox, binary:logistic, binary:logitraw, "
        "multi:softprob, multi:softmax, rank:*)");
  }
  return o;
}

// base_score (output space) -> margin, as XGBoost's ProbToMargin.
double ToMargin(double base, Objective::Link link) {
  switch (link) {
    case Objective::Link::kLogit:
      return -std::log(1.0 / base - 1.0);
    case Objective::Link::kLog:
      return std::log(base);
    case Objective::Link::kIdentity:
      break;
  }
  return base;
}

Status SetObjective(GbdtModel* m, const std::string& objective, int64_t num_class,
                    const std::vector<double>& base_scores, bool base_is_margin) {
  TIFFIN_ASSIGN_OR_RETURN(Objective o, ObjectiveFor(objective, num_class));
  m->objective = objective;
  m->transform = o.transform;
  m->classifier = o.classifier;
  m->base_margin.assign(static_cast<size_t>(m->n_targets), 0.0);
  for (int64_t g = 0; g < m->n_targets; ++g) {
    const double bs =
        base_scores.size() == 1 ? base_scores[0] : base_scores[static_cast<size_t>(g)];
    // XGBoost keeps the margin in float32.
    m->base_margin[static_cast<size_t>(g)] =
        static_cast<float>(base_is_margin ? bs : ToMargin(static_cast<float>(bs), o.link));
  }
  if (objective == "multi:softmax")
    m->notes.push_back(
        "multi:softmax: Booster.predict returns the class index, here `label`; "
        "`probabilities` is the softmax of the margins");
  return Status::Ok();
}

// ---- JSON/UBJSON documents ----

Result<const JValue*> Need(const JValue& obj, std::string_view key, const std::string& where) {
  const JValue* v = obj.Find(key);
  if (!v) return InvalidArgument(where + " has no \"" + std::string(key) + "\"");
  return v;
}

// Numbers written as numbers or as strings ("5E-1", "[5E-1]", "[0.1,0.2]").
Result<std::vector<double>> Numbers(const JValue& v, const std::string& what) {
  if (v.is_number()) return std::vector<double>{v.num};
  if (v.is_array() && v.numeric_array) return v.numbers;
  if (v.is_array() && v.items.empty()) return std::vector<double>{};
  if (v.is_string()) {
    std::string s = v.str;
    if (!s.empty() && s.front() == '[') {
      if (s.back() != ']') return InvalidArgument(what + ": bad value '" + v.str + "'");
      s = s.substr(1, s.size() - 2);
    }
    std::vector<double> out;
    size_t i = 0;
    while (i <= s.size()) {
      size_t j = s.find(',', i);
      if (j == std::string::npos) j = s.size();
      std::string tok = s.substr(i, j - i);
      if (tok.empty() && out.empty() && j == s.size()) break;
      char* end = nullptr;
      const double d = std::strtod(tok.c_str(), &end);
      if (tok.empty() || end == tok.c_str() || *end != '\0')
        return InvalidArgument(what + ": '" + v.str + "' is not a number");
      out.push_back(d);
      i = j + 1;
    }
    return out;
  }
  return InvalidArgument(what + " is not a number or an array of numbers");
}

Result<int64_t> Int(const JValue& v, const std::string& what, int64_t lo, int64_t hi) {
  TIFFIN_ASSIGN_OR_RETURN(std::vector<double> d, Numbers(v, what));
  if (d.size() != 1 || d[0] != std::floor(d[0]) || d[0] < static_cast<double>(lo) ||
      d[0] > static_cast<double>(hi))
    return InvalidArgument(what + " must be an integer in [" + std::to_string(lo) + ", " +
                           std::to_string(hi) + "]");
  return static_cast<int64_t>(d[0]);
}

Result<std::vector<double>> Array(const JValue& tree, std::string_view key, size_t n,
                                  const std::string& where, bool required = true) {
  const JValue* v = tree.Find(key);
  if (!v) {
    if (!required) return std::vector<double>{};
    return InvalidArgument(where + " has no \"" + std::string(key) + "\"");
  }
  if (!v->is_array())
    return InvalidArgument(where + ": \"" + std::string(key) + "\" is not an array");
  if (v->size() == 0) return std::vector<double>{};
  if (!v->numeric_array)
    return InvalidArgument(where + ": \"" + std::string(key) + "\" is not an array of numbers");
  if (n != 0 && v->numbers.size() != n)
    return InvalidArgument(where + ": \"" + std::string(key) + "\" has " +
                           std::to_string(v->numbers.size()) + " entries for " + std::to_string(n) +
                           " nodes");
  return v->numbers;
}

// An index read as a double: an integer in [lo, hi), or an error naming it
// (a cast of an out-of-range double is undefined behaviour).
Result<int64_t> Index(double v, double lo, double hi, const std::string& what) {
  if (!(v >= lo && v < hi) || v != std::floor(v))
    return InvalidArgument(what + " is " + std::to_string(v) + ", outside [" +
                           std::to_string(static_cast<int64_t>(lo)) + ", " +
                           std::to_string(static_cast<int64_t>(hi)) + ")");
  return static_cast<int64_t>(v);
}

Result<Tree> ReadJsonTree(const JValue& t, const std::string& where) {
  if (!t.is_object()) return InvalidArgument(where + " is not an object");
  TIFFIN_ASSIGN_OR_RETURN(auto left, Array(t, "left_children", 0, where));
  const size_t n = left.size();
  if (n == 0) return InvalidArgument(where + " has no nodes");
  if (static_cast<int64_t>(n) > kMaxNodesPerTree)
    return ResourceExhausted(where + " has " + std::to_string(n) + " nodes");
  TIFFIN_ASSIGN_OR_RETURN(auto right, Array(t, "right_children", n, where));
  TIFFIN_ASSIGN_OR_RETURN(auto feat, Array(t, "split_indices", n, where));
  TIFFIN_ASSIGN_OR_RETURN(auto cond, Array(t, "split_conditions", n, where));
  TIFFIN_ASSIGN_OR_RETURN(auto dleft, Array(t, "default_left", n, where));
  TIFFIN_ASSIGN_OR_RETURN(auto stype, Array(t, "split_type", n, where, false));
  if (const JValue* tp = t.Find("tree_param")) {
    if (const JValue* s = tp->Find("size_leaf_vector")) {
      TIFFIN_ASSIGN_OR_RETURN(int64_t slv, Int(*s, where + " size_leaf_vector", 0, 1 << 20));
      if (slv > 1)
        return NotSupported(where + " has vector leaves (size_leaf_vector " + std::to_string(slv) +
                            ", multi_strategy=\"multi_output_tree\"); retrain with the default "
                            "one_output_per_tree or export to ONNX");
    }
  }
  Tree out;
  out.nodes.resize(n);
  for (size_t i = 0; i < n; ++i) {
    Node& nd = out.nodes[i];
    const std::string node = where + " node " + std::to_string(i);
    if (left[i] == -1) {
      nd.is_leaf = true;
      nd.value = static_cast<float>(cond[i]);
      continue;
    }
    if (dleft.size() != n) return InvalidArgument(where + " has no \"default_left\" entries");
    TIFFIN_ASSIGN_OR_RETURN(nd.feature, Index(feat[i], 0, kMaxFeatures, node + " feature"));
    TIFFIN_ASSIGN_OR_RETURN(const int64_t l,
                            Index(left[i], 0, static_cast<double>(n), node + " left child"));
    TIFFIN_ASSIGN_OR_RETURN(const int64_t r,
                            Index(right[i], 0, static_cast<double>(n), node + " right child"));
    nd.mode = Mode::kLt;
    nd.split = static_cast<float>(cond[i]);
    nd.yes = l;
    nd.no = r;
    nd.missing_yes = dleft[i] != 0;
    if (!stype.empty() && stype[i] == 1) {
      // Categorical: the listed categories go right (the non-members, left).
      nd.mode = Mode::kMember;
      nd.split = 0;
      nd.yes = r;
      nd.no = l;
      nd.missing_yes = dleft[i] == 0;
    }
  }
  bool any_cat = false;
  for (double s : stype) any_cat = any_cat || s == 1;
  if (any_cat) {
    TIFFIN_ASSIGN_OR_RETURN(auto cats, Array(t, "categories", 0, where));
    TIFFIN_ASSIGN_OR_RETURN(auto cnodes, Array(t, "categories_nodes", 0, where));
    TIFFIN_ASSIGN_OR_RETURN(auto csegs, Array(t, "categories_segments", cnodes.size(), where));
    TIFFIN_ASSIGN_OR_RETURN(auto csizes, Array(t, "categories_sizes", cnodes.size(), where));
    for (size_t j = 0; j < cnodes.size(); ++j) {
      const double node = cnodes[j], seg = csegs[j], size = csizes[j];
      // Written so that NaN fails too (a cast of NaN is undefined behaviour).
      if (!(node >= 0 && node < static_cast<double>(n) && seg >= 0 && size >= 0 &&
            seg + size <= static_cast<double>(cats.size())))
        return InvalidArgument(where + ": categorical split " + std::to_string(j) +
                               " points outside the node or category arrays");
      Node& nd = out.nodes[static_cast<size_t>(node)];
      if (nd.is_leaf || nd.mode != Mode::kMember)
        return InvalidArgument(where + ": categories given for node " +
                               std::to_string(static_cast<int64_t>(node)) +
                               ", which is not a categorical split");
      for (size_t c = 0; c < static_cast<size_t>(size); ++c)
        nd.set.push_back(cats[static_cast<size_t>(seg) + c]);
    }
  }
  return out;
}

std::string VersionString(const JValue* v) {
  if (!v || !v->is_array() || !v->numeric_array) return "";
  std::string s;
  for (double d : v->numbers) {
    if (!(d >= 0 && d < 1e6)) return "";  // not a version number (NaN included)
    s += (s.empty() ? "" : ".") + std::to_string(static_cast<int64_t>(d));
  }
  return s;
}

// gblinear weights: (num_feature + 1) * groups floats, feature-major
// (weight of feature i for group g at i * groups + g), the biases last.
Status SetLinearWeights(GbdtModel* m, const std::vector<double>& weights) {
  const size_t k = static_cast<size_t>(m->n_targets);
  const size_t f = static_cast<size_t>(m->n_features);
  if (weights.size() != (f + 1) * k)
    return InvalidArgument("gblinear weights have " + std::to_string(weights.size()) +
                           " values; expected (num_feature " + std::to_string(f) + " + 1) x " +
                           std::to_string(k) + " outputs");
  m->linear = true;
  m->linear_weights.clear();
  for (size_t i = 0; i < f * k; ++i) m->linear_weights.push_back(static_cast<float>(weights[i]));
  m->linear_bias.clear();
  for (size_t g = 0; g < k; ++g) m->linear_bias.push_back(static_cast<float>(weights[f * k + g]));
  return Status::Ok();
}

Result<GbdtModel> ReadLearner(const JValue& learner, const std::string& version) {
  const std::string L = "learner";
  GbdtModel m;
  m.library = "xgboost";
  m.float32 = true;  // XGBoost compares and sums in float32
  m.library_version = version;
  TIFFIN_ASSIGN_OR_RETURN(const JValue* mp, Need(learner, "learner_model_param", L));
  TIFFIN_ASSIGN_OR_RETURN(const JValue* nf, Need(*mp, "num_feature", "learner_model_param"));
  TIFFIN_ASSIGN_OR_RETURN(m.n_features, Int(*nf, "num_feature", 0, kMaxFeatures));
  int64_t num_class = 0;
  if (const JValue* nc = mp->Find("num_class")) {
    TIFFIN_ASSIGN_OR_RETURN(num_class, Int(*nc, "num_class", 0, kMaxClasses));
  }
  int64_t num_target = 1;
  if (const JValue* nt = mp->Find("num_target")) {
    TIFFIN_ASSIGN_OR_RETURN(num_target, Int(*nt, "num_target", 1, kMaxClasses));
  }
  std::vector<double> base = {0.5};
  if (const JValue* bs = mp->Find("base_score")) {
    TIFFIN_ASSIGN_OR_RETURN(base, Numbers(*bs, "base_score"));
    if (base.empty()) base = {0.5};
  }
  TIFFIN_ASSIGN_OR_RETURN(const JValue* obj, Need(learner, "objective", L));
  TIFFIN_ASSIGN_OR_RETURN(const JValue* oname, Need(*obj, "name", "objective"));
  if (!oname->is_string()) return InvalidArgument("objective name is not a string");
  m.n_targets = std::max<int64_t>(std::max<int64_t>(num_class, 1), num_target);
  if (base.size() != 1 && static_cast<int64_t>(base.size()) != m.n_targets)
    return InvalidArgument("base_score has " + std::to_string(base.size()) + " values for " +
                           std::to_string(m.n_targets) + " outputs");
  if (m.n_features == 0) return InvalidArgument("num_feature is 0");

  TIFFIN_ASSIGN_OR_RETURN(const JValue* gb, Need(learner, "gradient_booster", L));
  TIFFIN_ASSIGN_OR_RETURN(const JValue* gname, Need(*gb, "name", "gradient_booster"));
  const JValue* model = nullptr;
  std::vector<double> weight_drop;
  if (gname->str == "gbtree") {
    TIFFIN_ASSIGN_OR_RETURN(model, Need(*gb, "model", "gradient_booster"));
  } else if (gname->str == "dart") {
    TIFFIN_ASSIGN_OR_RETURN(const JValue* inner, Need(*gb, "gbtree", "dart booster"));
    TIFFIN_ASSIGN_OR_RETURN(model, Need(*inner, "model", "dart booster"));
    TIFFIN_ASSIGN_OR_RETURN(weight_drop, Array(*gb, "weight_drop", 0, "dart booster"));
  } else if (gname->str == "gblinear") {
    TIFFIN_ASSIGN_OR_RETURN(model, Need(*gb, "model", "gradient_booster"));
    TIFFIN_ASSIGN_OR_RETURN(auto weights, Array(*model, "weights", 0, "gblinear model"));
    TIFFIN_RETURN_IF_ERROR(SetLinearWeights(&m, weights));
    TIFFIN_RETURN_IF_ERROR(SetObjective(&m, oname->str, num_class, base, false));
    if (const JValue* fn = learner.Find("feature_names"); fn && fn->is_array())
      for (const auto& v : fn->items)
        if (v.is_string()) m.feature_names.push_back(v.str);
    m.metadata["booster"] = gname->str;
    return m;
  } else {
    return NotSupported("XGBoost booster '" + gname->str +
                        "' is not supported (gbtree, dart and gblinear are); export the model "
                        "to ONNX");
  }
  TIFFIN_ASSIGN_OR_RETURN(const JValue* trees, Need(*model, "trees", "gbtree model"));
  if (!trees->is_array()) return InvalidArgument("\"trees\" is not an array");
  if (static_cast<int64_t>(trees->items.size()) > kMaxTrees)
    return ResourceExhausted("the model has more than " + std::to_string(kMaxTrees) + " trees");
  TIFFIN_ASSIGN_OR_RETURN(auto info,
                          Array(*model, "tree_info", trees->items.size(), "gbtree model"));
  if (!weight_drop.empty() && weight_drop.size() != trees->items.size())
    return InvalidArgument("dart weight_drop has " + std::to_string(weight_drop.size()) +
                           " entries for " + std::to_string(trees->items.size()) + " trees");
  for (size_t i = 0; i < trees->items.size(); ++i) {
    auto t = ReadJsonTree(trees->items[i], "tree " + std::to_string(i));
    if (!t.ok()) return t.status();
    if (!info.empty()) {
      TIFFIN_ASSIGN_OR_RETURN(t->target, Index(info[i], 0, static_cast<double>(m.n_targets),
                                               "tree_info[" + std::to_string(i) + "]"));
    }
    if (!weight_drop.empty())
      for (Node& nd : t->nodes)
        if (nd.is_leaf) nd.value = static_cast<float>(nd.value * weight_drop[i]);
    m.trees.push_back(std::move(*t));
  }
  TIFFIN_RETURN_IF_ERROR(SetObjective(&m, oname->str, num_class, base, false));
  std::vector<uint8_t> cat(static_cast<size_t>(m.n_features), 0);
  for (const Tree& t : m.trees)
    for (const Node& nd : t.nodes)
      if (!nd.is_leaf && nd.mode == Mode::kMember && nd.feature >= 0 && nd.feature < m.n_features)
        cat[static_cast<size_t>(nd.feature)] = 1;
  for (int64_t f = 0; f < m.n_features; ++f)
    if (cat[static_cast<size_t>(f)]) m.floor_features.push_back(f);
  if (const JValue* fn = learner.Find("feature_names"); fn && fn->is_array())
    for (const auto& v : fn->items)
      if (v.is_string()) m.feature_names.push_back(v.str);
  if (const JValue* attrs = learner.Find("attributes"); attrs && attrs->is_object()) {
    if (const JValue* bi = attrs->Find("best_iteration"); bi && bi->is_string()) {
      m.metadata["best_iteration"] = bi->str;
      const int64_t per_round = std::max<int64_t>(1, m.n_targets);
      const int64_t rounds = static_cast<int64_t>(m.trees.size()) / per_round;
      const int64_t best = std::atoll(bi->str.c_str());
      if (best + 1 < rounds)
        m.notes.push_back("best_iteration is " + bi->str + " of " + std::to_string(rounds) +
                          " rounds: tiffin predicts with all trees, like Booster.predict; the "
                          "scikit-learn wrapper would stop at best_iteration + 1");
    }
  }
  if (!weight_drop.empty()) m.notes.push_back("dart: tree outputs scaled by weight_drop");
  m.metadata["booster"] = gname->str;
  return m;
}

// ---- legacy binary ----

class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  template <typename T>
  Result<T> Get(const char* what) {
    if (b_.size() - pos_ < sizeof(T))
      return DataLoss("XGBoost binary model truncated reading " + std::string(what) +
                      " at offset " + std::to_string(pos_));
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  Status Skip(size_t n, const char* what) {
    if (b_.size() - pos_ < n)
      return DataLoss("XGBoost binary model truncated in " + std::string(what) + " at offset " +
                      std::to_string(pos_));
    pos_ += n;
    return Status::Ok();
  }
  Result<std::string> String(const char* what) {
    TIFFIN_ASSIGN_OR_RETURN(uint64_t n, Get<uint64_t>(what));
    if (n > b_.size() - pos_ || n > 4096)
      return DataLoss("XGBoost binary model: " + std::string(what) + " length " +
                      std::to_string(n) + " at offset " + std::to_string(pos_ - 8) +
                      " is out of range");
    std::string s(b_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  size_t pos() const { return pos_; }
  size_t left() const { return b_.size() - pos_; }

 private:
  std::string_view b_;
  size_t pos_ = 0;
};

bool KnownObjectivePrefix(std::string_view s) {
  for (std::string_view p : {"binary:", "multi:", "reg:", "rank:", "count:", "survival:"})
    if (s.substr(0, p.size()) == p) return true;
  return false;
}

}  // namespace

Result<GbdtModel> ReadModelDocument(const JValue& doc) {
  if (!doc.is_object()) return InvalidArgument("an XGBoost model document must be an object");
  const JValue* root = &doc;
  if (const JValue* model = doc.Find("Model"); model && !doc.Find("learner")) root = model;
  const JValue* learner = root->Find("learner");
  if (!learner || !learner->is_object())
    return InvalidArgument("not an XGBoost model: no \"learner\" object at the top level");
  return ReadLearner(*learner, VersionString(root->Find("version")));
}

Result<GbdtModel> ReadBinaryModel(std::string_view bytes) {
  Reader r(bytes);
  if (bytes.substr(0, 4) == "bs64")
    return NotSupported("base64-encoded XGBoost binary models (\"bs64\") are not supported");
  if (bytes.substr(0, 4) == "binf") TIFFIN_RETURN_IF_ERROR(r.Skip(4, "header"));
  TIFFIN_ASSIGN_OR_RETURN(float base_score, r.Get<float>("base_score"));
  TIFFIN_ASSIGN_OR_RETURN(uint32_t num_feature, r.Get<uint32_t>("num_feature"));
  TIFFIN_ASSIGN_OR_RETURN(int32_t num_class, r.Get<int32_t>("num_class"));
  TIFFIN_ASSIGN_OR_RETURN(int32_t extra_attrs, r.Get<int32_t>("contain_extra_attrs"));
  TIFFIN_ASSIGN_OR_RETURN(int32_t eval_metrics, r.Get<int32_t>("contain_eval_metrics"));
  TIFFIN_ASSIGN_OR_RETURN(uint32_t major, r.Get<uint32_t>("major_version"));
  TIFFIN_ASSIGN_OR_RETURN(uint32_t minor, r.Get<uint32_t>("minor_version"));
  TIFFIN_ASSIGN_OR_RETURN(uint32_t num_target, r.Get<uint32_t>("num_target"));
  (void)extra_attrs;
  (void)eval_metrics;
  TIFFIN_RETURN_IF_ERROR(r.Skip(26 * 4, "learner parameter padding"));
  TIFFIN_ASSIGN_OR_RETURN(std::string objective, r.String("objective name"));
  TIFFIN_ASSIGN_OR_RETURN(std::string booster, r.String("booster name"));
  if (booster != "gbtree" && booster != "dart" && booster != "gblinear")
    return NotSupported("XGBoost booster '" + booster +
                        "' is not supported (gbtree, dart and gblinear are); export the model "
                        "to ONNX");
  if (num_feature == 0 || num_feature > kMaxFeatures)
    return InvalidArgument("num_feature " + std::to_string(num_feature) + " is out of range");
  if (num_class < 0 || num_class > kMaxClasses)
    return InvalidArgument("num_class " + std::to_string(num_class) + " is out of range");
  if (booster == "gblinear") {
    // GBLinearModelParam {uint32 num_feature, int32 num_output_group,
    // int32 reserved[32]}, then the weights as a uint64 count and floats.
    GbdtModel m;
    m.library = "xgboost";
    m.float32 = true;
    m.library_version =
        major == 0 && minor == 0 ? "< 1.0" : std::to_string(major) + "." + std::to_string(minor);
    m.n_features = num_feature;
    TIFFIN_RETURN_IF_ERROR(r.Skip(4, "gblinear num_feature"));
    TIFFIN_ASSIGN_OR_RETURN(int32_t groups, r.Get<int32_t>("gblinear num_output_group"));
    TIFFIN_RETURN_IF_ERROR(r.Skip(32 * 4, "gblinear parameter padding"));
    if (groups < 0 || groups > kMaxClasses || num_target > kMaxClasses)
      return InvalidArgument("gblinear num_output_group " + std::to_string(groups) +
                             " is out of range");
    m.n_targets =
        std::max<int64_t>({int64_t{1}, num_class, groups, static_cast<int64_t>(num_target)});
    TIFFIN_ASSIGN_OR_RETURN(uint64_t len, r.Get<uint64_t>("gblinear weights"));
    if (len > r.left() / 4)
      return DataLoss("gblinear weight count " + std::to_string(len) + " does not fit in the file");
    std::vector<double> weights(static_cast<size_t>(len));
    for (double& w : weights) {
      TIFFIN_ASSIGN_OR_RETURN(float v, r.Get<float>("gblinear weights"));
      w = v;
    }
    TIFFIN_RETURN_IF_ERROR(SetLinearWeights(&m, weights));
    TIFFIN_RETURN_IF_ERROR(SetObjective(&m, objective, num_class, {base_score}, major < 1));
    m.metadata["booster"] = booster;
    return m;
  }
  // GBTreeModelParam.
  TIFFIN_ASSIGN_OR_RETURN(int32_t num_trees, r.Get<int32_t>("num_trees"));
  TIFFIN_RETURN_IF_ERROR(r.Skip(4 + 4 + 4 + 8, "gbtree parameters"));
  TIFFIN_ASSIGN_OR_RETURN(int32_t num_output_group, r.Get<int32_t>("num_output_group"));
  TIFFIN_ASSIGN_OR_RETURN(int32_t size_leaf_vector, r.Get<int32_t>("size_leaf_vector"));
  TIFFIN_RETURN_IF_ERROR(r.Skip(32 * 4, "gbtree parameter padding"));
  if (num_output_group < 0 || num_output_group > kMaxClasses || num_target > kMaxClasses)
    return InvalidArgument("num_output_group " + std::to_string(num_output_group) +
                           " / num_target " + std::to_string(num_target) + " is out of range");
  if (num_trees < 0 || num_trees > kMaxTrees)
    return InvalidArgument("num_trees " + std::to_string(num_trees) + " is out of range");
  if (size_leaf_vector > 1)
    return NotSupported("vector-leaf trees (size_leaf_vector " + std::to_string(size_leaf_vector) +
                        ") are not supported");
  GbdtModel m;
  m.library = "xgboost";
  m.float32 = true;  // XGBoost compares and sums in float32
  m.library_version =
      major == 0 && minor == 0 ? "< 1.0" : std::to_string(major) + "." + std::to_string(minor);
  m.n_features = num_feature;
  m.n_targets = std::max<int64_t>(
      {int64_t{1}, num_class, num_output_group, static_cast<int64_t>(num_target)});
  for (int32_t t = 0; t < num_trees; ++t) {
    const std::string where = "tree " + std::to_string(t);
    TIFFIN_RETURN_IF_ERROR(r.Skip(4, "tree parameters"));
    TIFFIN_ASSIGN_OR_RETURN(int32_t num_nodes, r.Get<int32_t>("num_nodes"));
    TIFFIN_RETURN_IF_ERROR(r.Skip(4 * 3, "tree parameters"));
    TIFFIN_ASSIGN_OR_RETURN(int32_t slv, r.Get<int32_t>("size_leaf_vector"));
    TIFFIN_RETURN_IF_ERROR(r.Skip(31 * 4, "tree parameter padding"));
    if (num_nodes <= 0 || static_cast<uint64_t>(num_nodes) * 36 > r.left())
      return DataLoss(where + ": num_nodes " + std::to_string(num_nodes) +
                      " does not fit in the file");
    Tree tree;
    tree.nodes.resize(static_cast<size_t>(num_nodes));
    for (int32_t i = 0; i < num_nodes; ++i) {
      TIFFIN_RETURN_IF_ERROR(r.Skip(4, "node parent"));
      TIFFIN_ASSIGN_OR_RETURN(int32_t cleft, r.Get<int32_t>("node"));
      TIFFIN_ASSIGN_OR_RETURN(int32_t cright, r.Get<int32_t>("node"));
      TIFFIN_ASSIGN_OR_RETURN(uint32_t sindex, r.Get<uint32_t>("node"));
      TIFFIN_ASSIGN_OR_RETURN(float info, r.Get<float>("node"));
      Node& nd = tree.nodes[static_cast<size_t>(i)];
      if (cleft == -1) {
        nd.is_leaf = true;
        nd.value = info;
      } else {
        nd.feature = static_cast<int64_t>(sindex & 0x7fffffffu);
        nd.mode = Mode::kLt;
        nd.split = info;
        nd.yes = cleft;
        nd.no = cright;
        nd.missing_yes = (sindex >> 31) != 0;
      }
    }
    TIFFIN_RETURN_IF_ERROR(r.Skip(static_cast<size_t>(num_nodes) * 16, "node statistics"));
    if (slv != 0 && major < 2) {
      TIFFIN_ASSIGN_OR_RETURN(uint64_t len, r.Get<uint64_t>("leaf vector"));
      if (len > r.left() / 4) return DataLoss(where + ": leaf vector length out of range");
      TIFFIN_RETURN_IF_ERROR(r.Skip(len * 4, "leaf vector"));
    }
    m.trees.push_back(std::move(tree));
  }
  if (num_trees > 0) {
    for (int32_t t = 0; t < num_trees; ++t) {
      TIFFIN_ASSIGN_OR_RETURN(int32_t g, r.Get<int32_t>("tree_info"));
      m.trees[static_cast<size_t>(t)].target = g;
    }
  }
  if (booster == "dart") {
    TIFFIN_ASSIGN_OR_RETURN(uint64_t len, r.Get<uint64_t>("weight_drop"));
    if (len != static_cast<uint64_t>(num_trees))
      return DataLoss("dart weight_drop has " + std::to_string(len) + " entries for " +
                      std::to_string(num_trees) + " trees");
    for (int32_t t = 0; t < num_trees; ++t) {
      TIFFIN_ASSIGN_OR_RETURN(float w, r.Get<float>("weight_drop"));
      for (Node& nd : m.trees[static_cast<size_t>(t)].nodes)
        if (nd.is_leaf) nd.value = static_cast<float>(nd.value * w);
    }
  }
  // Before 1.0 the file holds base_score already as a margin.
  TIFFIN_RETURN_IF_ERROR(SetObjective(&m, objective, num_class, {base_score}, major < 1));
  m.metadata["booster"] = booster;
  return m;
}

Result<GbdtModel> ReadModelBytes(std::string_view bytes) {
  if (LooksLikeUbjson(bytes)) {
    TIFFIN_ASSIGN_OR_RETURN(JValue doc, ParseUbjson(bytes));
    auto m = ReadModelDocument(doc);
    if (m.ok()) m->format = "XGBoost UBJSON";
    return m;
  }
  size_t i = 0;
  while (i < bytes.size() && std::isspace(static_cast<unsigned char>(bytes[i]))) ++i;
  if (i < bytes.size() && bytes[i] == '{') {
    TIFFIN_ASSIGN_OR_RETURN(JValue doc, ParseJson(bytes));
    auto m = ReadModelDocument(doc);
    if (m.ok()) m->format = "XGBoost JSON";
    return m;
  }
  if (bytes.substr(0, 14) == "CONFIG-offset:") {
    // XGBoost 1.0-1.2 pickles: header, 8-byte offset, binary model, JSON config.
    if (bytes.size() < 22) return DataLoss("truncated XGBoost serialisation header");
    auto m = ReadBinaryModel(bytes.substr(22));
    if (m.ok()) m->format = "XGBoost binary (pickled)";
    return m;
  }
  if (LooksLikeXgboostBinary(bytes)) {
    auto m = ReadBinaryModel(bytes);
    if (m.ok())
      m->format = bytes.substr(0, 4) == "binf" ? "XGBoost binary" : "XGBoost binary (0.x)";
    return m;
  }
  return InvalidArgument("not an XGBoost model (neither JSON, UBJSON nor the binary format)");
}

bool LooksLikeXgboostDocument(std::string_view head) {
  if (LooksLikeUbjson(head))
    return head.find("learner") != std::string_view::npos ||
           head.find("Config") != std::string_view::npos;
  return head.find("\"learner\"") != std::string_view::npos;
}

bool LooksLikeXgboostBinary(std::string_view head) {
  if (head.substr(0, 4) == "binf") return true;
  // 0.x: a 136-byte parameter block, then a length-prefixed objective name.
  if (head.size() < 136 + 8 + 4) return false;
  uint64_t len = 0;
  std::memcpy(&len, head.data() + 136, 8);
  if (len < 4 || len > 64 || head.size() < 144 + len) return false;
  return KnownObjectivePrefix(head.substr(144, len));
}

namespace {

Result<std::string> ReadAll(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open '" + path + "'");
  in.seekg(0, std::ios::end);
  const auto size = static_cast<size_t>(in.tellg());
  if (size > max_bytes)
    return ResourceExhausted(path + " is " + std::to_string(size) + " bytes, over the " +
                             std::to_string(max_bytes) + "-byte limit (--max-file-bytes)");
  in.seekg(0);
  std::string s(size, '\0');
  in.read(s.data(), static_cast<std::streamsize>(size));
  if (!in) return DataLoss("cannot read '" + path + "'");
  return s;
}

}  // namespace

Result<sklearn::ImportedGraph> ImportXgboostFile(const std::string& path,
                                                 const LoadOptions& options) {
  TIFFIN_ASSIGN_OR_RETURN(std::string bytes, ReadAll(path, options.max_file_bytes));
  auto m = ReadModelBytes(bytes);
  if (!m.ok()) return m.status().WithContext(path);
  auto g = gbdt::BuildGbdtGraph(*m);
  if (!g.ok()) return g.status().WithContext(path);
  return g;
}

bool PickleIsXgboost(std::string_view bytes) {
  auto globals = pickle::ListGlobals(bytes);
  if (!globals.ok()) {
    // joblib streams hold raw array bytes between opcodes, which stop the
    // opcode walk: look for the module names instead (only a sniff: the
    // import itself is restricted to the allow-list).
    const std::string_view head = bytes.substr(0, size_t{1} << 20);
    return head.find("xgboost.sklearn") != std::string_view::npos ||
           head.find("xgboost.core") != std::string_view::npos;
  }
  for (const auto& g : *globals)
    if (g.module == "xgboost.sklearn" || g.module == "xgboost.core") return true;
  return false;
}

bool FileIsXgboostPickle(const std::string& path, size_t max_bytes) {
  auto bytes = ReadAll(path, max_bytes);
  if (!bytes.ok()) return false;
  if (pickle::DetectCompression(*bytes) == "none") return PickleIsXgboost(*bytes);
  auto raw = pickle::DecompressStream(*bytes, max_bytes, nullptr);
  return raw.ok() && PickleIsXgboost(*raw);
}

Result<sklearn::ImportedGraph> ImportXgboostPickle(const std::string& path,
                                                   const LoadOptions& options) {
  pickle::PickleOptions po;
  po.max_bytes = options.max_file_bytes;
  // Only what an XGBoost estimator's state holds: the estimator and its
  // Booster (whose state is the model bytes), numpy arrays (classes_).
  po.allowed_globals = {"xgboost.sklearn.XGBClassifier",
                        "xgboost.sklearn.XGBRegressor",
                        "xgboost.sklearn.XGBRanker",
                        "xgboost.sklearn.XGBRFClassifier",
                        "xgboost.sklearn.XGBRFRegressor",
                        "xgboost.core.Booster",
                        "numpy._core.multiarray._reconstruct",
                        "numpy._core.numeric._frombuffer",
                        "numpy.ndarray",
                        "numpy.dtype",
                        "copyreg._reconstructor"};
  // Plain pickles and joblib.dump files (compressed or not).
  auto file = pickle::ReadJoblibOrPickle(path, po);
  if (!file.ok()) {
    return file.status().WithContext(path +
                                     " (an XGBoost pickle: only XGBoost estimators, "
                                     "their Booster and numpy arrays are read)");
  }
  const pickle::PickleValue* parsed = &file->root;
  // Find the Booster: the value itself, or the estimator's _Booster.
  const pickle::PickleValue* booster = parsed;
  std::string estimator = "Booster";
  if (parsed->is_object() && parsed->global.module == "xgboost.sklearn") {
    estimator = parsed->global.name;
    const pickle::PickleValue* st = parsed->state.get();
    booster = st ? st->Find("_Booster") : nullptr;
    if (!booster)
      return InvalidArgument(path + ": the " + estimator +
                             " has no fitted _Booster (was it pickled before fit?)");
  }
  if (!booster->is_object() || booster->global.FullName() != "xgboost.core.Booster" ||
      !booster->state)
    return InvalidArgument(path + ": no xgboost.core.Booster with a state found (top-level " +
                           parsed->TypeName() + ")");
  const pickle::PickleValue* handle = booster->state->Find("handle");
  if (!handle || !handle->is_bytes())
    return InvalidArgument(path + ": the pickled Booster has no 'handle' bytes");
  auto m = ReadModelBytes(handle->str_value);
  if (!m.ok()) return m.status().WithContext(path + " (the pickled Booster's model)");
  m->format = "XGBoost pickle (" + estimator + ", " + m->format + ")";
  m->metadata["estimator"] = estimator;
  // A regressor/ranker wrapper never predicts labels.
  if (estimator == "XGBRegressor" || estimator == "XGBRanker" || estimator == "XGBRFRegressor")
    m->classifier = false;
  auto g = gbdt::BuildGbdtGraph(*m);
  if (!g.ok()) return g.status().WithContext(path);
  return g;
}

}  // namespace tiffin::xgboost
