// The converter table and the dispatch shared by every family.
#include <algorithm>

#include "importers/sklearn/convert.h"

namespace tiffin::sklearn {
namespace {

// One row per class: adding a class is one line here plus its function.
const ConverterRow kRows[] = {
    // Composition.
    {"Pipeline", ConvertPipelineTransform, ConvertPipelinePredict},
    {"ColumnTransformer", ConvertColumnTransformer, nullptr},
    {"FeatureUnion", ConvertFeatureUnion, nullptr},
    {"VotingClassifier", nullptr, ConvertVotingClassifier},
    {"VotingRegressor", nullptr, ConvertVotingRegressor},
    {"CalibratedClassifierCV", nullptr, ConvertCalibratedClassifierCV},
    // Preprocessing.
    {"StandardScaler", ConvertStandardScaler, nullptr},
    {"MinMaxScaler", ConvertMinMaxScaler, nullptr},
    {"MaxAbsScaler", ConvertMaxAbsScaler, nullptr},
    {"RobustScaler", ConvertRobustScaler, nullptr},
    {"Normalizer", ConvertNormalizer, nullptr},
    {"Binarizer", ConvertBinarizer, nullptr},
    {"SimpleImputer", ConvertSimpleImputer, nullptr},
    {"PCA", ConvertPCA, nullptr},
    {"TruncatedSVD", ConvertTruncatedSVD, nullptr},
    {"SelectKBest", ConvertSelector, nullptr},
    {"SelectPercentile", ConvertSelector, nullptr},
    {"VarianceThreshold", ConvertSelector, nullptr},
    {"SelectFromModel", ConvertSelector, nullptr},
    {"PolynomialFeatures", ConvertPolynomialFeatures, nullptr},
    {"KBinsDiscretizer", ConvertKBinsDiscretizer, nullptr},
    {"OneHotEncoder", ConvertOneHotEncoder, nullptr},
    {"OrdinalEncoder", ConvertOrdinalEncoder, nullptr},
    {"FunctionTransformer", ConvertFunctionTransformer, nullptr},
    // Linear models.
    {"LogisticRegression", nullptr, ConvertLinearClassifier},
    {"LogisticRegressionCV", nullptr, ConvertLinearClassifier},
    {"RidgeClassifier", nullptr, ConvertLinearClassifier},
    {"RidgeClassifierCV", nullptr, ConvertLinearClassifier},
    {"SGDClassifier", nullptr, ConvertLinearClassifier},
    {"Perceptron", nullptr, ConvertLinearClassifier},
    {"PassiveAggressiveClassifier", nullptr, ConvertLinearClassifier},
    {"LinearSVC", nullptr, ConvertLinearClassifier},
    {"LinearRegression", nullptr, ConvertLinearRegressor},
    {"Ridge", nullptr, ConvertLinearRegressor},
    {"RidgeCV", nullptr, ConvertLinearRegressor},
    {"Lasso", nullptr, ConvertLinearRegressor},
    {"LassoCV", nullptr, ConvertLinearRegressor},
    {"ElasticNet", nullptr, ConvertLinearRegressor},
    {"ElasticNetCV", nullptr, ConvertLinearRegressor},
    {"Lars", nullptr, ConvertLinearRegressor},
    {"LassoLars", nullptr, ConvertLinearRegressor},
    {"BayesianRidge", nullptr, ConvertLinearRegressor},
    {"ARDRegression", nullptr, ConvertLinearRegressor},
    {"HuberRegressor", nullptr, ConvertLinearRegressor},
    {"TheilSenRegressor", nullptr, ConvertLinearRegressor},
    {"SGDRegressor", nullptr, ConvertLinearRegressor},
    {"PassiveAggressiveRegressor", nullptr, ConvertLinearRegressor},
    {"LinearSVR", nullptr, ConvertLinearRegressor},
    // Trees and ensembles of trees.
    {"DecisionTreeClassifier", nullptr, ConvertDecisionTreeClassifier},
    {"ExtraTreeClassifier", nullptr, ConvertDecisionTreeClassifier},
    {"DecisionTreeRegressor", nullptr, ConvertDecisionTreeRegressor},
    {"ExtraTreeRegressor", nullptr, ConvertDecisionTreeRegressor},
    {"RandomForestClassifier", nullptr, ConvertForestClassifier},
    {"ExtraTreesClassifier", nullptr, ConvertForestClassifier},
    {"RandomForestRegressor", nullptr, ConvertForestRegressor},
    {"ExtraTreesRegressor", nullptr, ConvertForestRegressor},
    {"GradientBoostingClassifier", nullptr, ConvertGradientBoostingClassifier},
    {"GradientBoostingRegressor", nullptr, ConvertGradientBoostingRegressor},
    {"HistGradientBoostingClassifier", nullptr, ConvertHistGradientBoostingClassifier},
    {"HistGradientBoostingRegressor", nullptr, ConvertHistGradientBoostingRegressor},
    {"AdaBoostClassifier", nullptr, ConvertAdaBoostClassifier},
    {"AdaBoostRegressor", nullptr, ConvertAdaBoostRegressor},
    {"IsolationForest", nullptr, ConvertIsolationForest},
    // Others.
    {"GaussianNB", nullptr, ConvertGaussianNB},
    {"MultinomialNB", nullptr, ConvertDiscreteNB},
    {"BernoulliNB", nullptr, ConvertDiscreteNB},
    {"ComplementNB", nullptr, ConvertDiscreteNB},
    {"MLPClassifier", nullptr, ConvertMLPClassifier},
    {"MLPRegressor", nullptr, ConvertMLPRegressor},
    {"KNeighborsClassifier", nullptr, ConvertKNeighborsClassifier},
    {"KNeighborsRegressor", nullptr, ConvertKNeighborsRegressor},
    {"SVC", nullptr, ConvertSVC},
    {"NuSVC", nullptr, ConvertSVC},
    {"SVR", nullptr, ConvertSVR},
    {"NuSVR", nullptr, ConvertSVR},
    {"OneClassSVM", nullptr, ConvertSVR},
    {"DummyClassifier", nullptr, ConvertDummyClassifier},
    {"DummyRegressor", nullptr, ConvertDummyRegressor},
};

constexpr int kMaxNesting = 32;

}  // namespace

const ConverterRow* FindConverter(const Obj& obj) {
  if (!obj.value().is_object() || obj.value().global.module.rfind("sklearn.", 0) != 0)
    return nullptr;
  const std::string name = obj.ClassName();
  for (const ConverterRow& row : kRows)
    if (name == row.class_name) return &row;
  return nullptr;
}

std::vector<std::string> SupportedClasses() {
  std::vector<std::string> out;
  for (const ConverterRow& row : kRows) out.push_back(row.class_name);
  return out;
}

namespace {
Status Unsupported(const Obj& obj) {
  if (!obj.value().is_object()) {
    return NotSupported("expected a scikit-learn estimator, found " + obj.value().TypeName());
  }
  return NotSupported("scikit-learn class " + obj.FullName() +
                      " has no tiffin converter yet (supported: see `tiffin ops --sklearn`); "
                      "export it with skl2onnx if you can, or file an issue naming the class");
}
}  // namespace

bool IsPredictor(const Obj& obj) {
  const ConverterRow* row = FindConverter(obj);
  if (!row) return false;
  if (obj.ClassName() == "Pipeline") {
    const PickleValue* steps = obj.Find("steps");
    if (!steps) return false;
    auto seq = ToSequence(*steps, "Pipeline.steps");
    if (!seq.ok() || seq->empty()) return false;
    const PickleValue* last = seq->back();
    if (!last->is_tuple() || last->items.size() != 2) return false;
    return IsPredictor(Obj(last->items[1].get()));
  }
  return row->predict != nullptr;
}

namespace {

// Folds the entries the children of `class_name` added since `first_child`
// into one "Class(child, child)" entry.
void RecordStructure(Ctx& ctx, const char* class_name, size_t first_child) {
  std::string entry = class_name;
  if (ctx.structure.size() > first_child) {
    entry += "(";
    for (size_t i = first_child; i < ctx.structure.size(); ++i) {
      entry += (i > first_child ? ", " : "") + ctx.structure[i];
    }
    entry += ")";
    ctx.structure.resize(first_child);
  }
  ctx.structure.push_back(std::move(entry));
}

}  // namespace

Result<Features> Transform(Ctx& ctx, const Obj& obj, const Features& in) {
  if (ctx.depth > kMaxNesting) return ResourceExhausted("estimators nested deeper than 32 levels");
  const ConverterRow* row = FindConverter(obj);
  if (!row) return Unsupported(obj);
  if (!row->transform) {
    return InvalidArgument(obj.ClassName() +
                           " is a predictor; it can only be the last step of a "
                           "pipeline");
  }
  const size_t first_child = ctx.structure.size();
  auto scope = ctx.b.Scope(row->class_name);
  ++ctx.depth;
  auto out = row->transform(ctx, obj, in);
  --ctx.depth;
  RecordStructure(ctx, row->class_name, first_child);
  if (!out.ok() && ctx.depth == 0) return out.status();
  return out;
}

Result<Prediction> Predict(Ctx& ctx, const Obj& obj, const Features& in) {
  if (ctx.depth > kMaxNesting) return ResourceExhausted("estimators nested deeper than 32 levels");
  const ConverterRow* row = FindConverter(obj);
  if (!row) return Unsupported(obj);
  if (!row->predict) {
    return InvalidArgument(obj.ClassName() + " is a transformer, not a predictor");
  }
  const size_t first_child = ctx.structure.size();
  auto scope = ctx.b.Scope(row->class_name);
  ++ctx.depth;
  auto out = row->predict(ctx, obj, in);
  --ctx.depth;
  RecordStructure(ctx, row->class_name, first_child);
  return out;
}

Features DenseFeatures(std::string value, int64_t width) {
  Features f;
  f.value = std::move(value);
  f.width = width;
  return f;
}

Result<std::string> Dense(Ctx& ctx, const Features& in, const std::string& who) {
  if (!in.is_table()) {
    if (in.dtype == DType::kString) {
      return InvalidArgument(who +
                             " needs numeric input, but its input holds strings; encode them "
                             "first (OneHotEncoder/OrdinalEncoder)");
    }
    if (in.dtype != DType::kFloat64) return ctx.b.Cast(in.value, DType::kFloat64);
    return in.value;
  }
  std::vector<std::string> cols;
  for (const Column& c : in.columns) {
    if (c.dtype == DType::kString) {
      return InvalidArgument(who + " needs numeric input, but column '" + c.name +
                             "' holds strings; encode it first (OneHotEncoder/OrdinalEncoder)");
    }
    cols.push_back(c.dtype == DType::kFloat64 ? c.value : ctx.b.Cast(c.value, DType::kFloat64));
  }
  if (cols.empty()) return InvalidArgument(who + " received no columns");
  return ctx.b.Concat(cols);
}

Result<Labels> Classes(const Obj& obj) {
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* v, obj.Get("classes_"));
  return ToLabels(*v, obj.Where("classes_"));
}

std::string LabelFromScores(Ctx& ctx, const std::string& scores, const Labels& classes) {
  std::string idx = ctx.b.Op("ArgMax", {scores}, {{"axis", AttrInt(1)}, {"keepdims", AttrInt(0)}});
  return ctx.b.Op("Gather", {ctx.b.Const(classes.values, "classes"), idx}, {{"axis", AttrInt(0)}});
}

std::string BinaryLabel(Ctx& ctx, const std::string& positive, const Labels& classes) {
  // One Where over two scalar labels: cheaper than Cast + Gather.
  auto at = [&](int64_t i) {
    const Tensor& v = classes.values;
    switch (v.dtype()) {
      case DType::kString:
        return Tensor::Scalar(v.data<std::string>()[i]);
      case DType::kFloat64:
        return Tensor::Scalar(v.data<double>()[i]);
      default:
        return Tensor::Scalar(v.data<int64_t>()[i]);
    }
  };
  return ctx.b.Op("Where", {positive, ctx.b.Const(at(1), "class1"), ctx.b.Const(at(0), "class0")});
}

Status CheckWidth(const Obj& obj, const Features& in) {
  const int64_t fitted = obj.IntOr("n_features_in_", -1);
  const int64_t width = in.Width();
  if (fitted >= 0 && width >= 0 && fitted != width) {
    return InvalidArgument(obj.ClassName() + " was fitted on " + std::to_string(fitted) +
                           " features, but the step before it produces " + std::to_string(width));
  }
  return Status::Ok();
}

}  // namespace tiffin::sklearn
