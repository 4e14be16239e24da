// The converter interface: each scikit-learn class becomes ONNX nodes.
//
// Data flows between steps as Features: one dense [N, width] value, or (for
// tables with string columns, before a ColumnTransformer) named [N, 1]
// columns. Numbers are float64 throughout, because scikit-learn computes in
// float64; models that compute in float32 (trees) cast explicitly.
//
// A converter is one row in the table in converters.cc: the class name and
// a transform function (transformers) or a predict function (estimators).
#ifndef TIFFIN_IMPORTERS_SKLEARN_CONVERT_H_
#define TIFFIN_IMPORTERS_SKLEARN_CONVERT_H_

#include <string>
#include <vector>

#include "importers/sklearn/graph_builder.h"
#include "importers/sklearn/state.h"

namespace tiffin::sklearn {

struct Column {
  std::string name;   // the feature name, or "x3"
  std::string value;  // [N, 1]
  DType dtype = DType::kFloat64;
};

struct Features {
  std::string value;  // dense [N, width] (empty when `columns` is used)
  int64_t width = -1;
  DType dtype = DType::kFloat64;
  std::vector<Column> columns;  // a table of [N, 1] columns

  bool is_table() const { return value.empty(); }
  int64_t Width() const { return is_table() ? static_cast<int64_t>(columns.size()) : width; }
};

struct Prediction {
  // Classifiers: label [N] and probabilities [N, K] (columns in classes_ order).
  std::string label;
  std::string probabilities;
  Labels classes;
  // decision_function: [N] for binary/one-score models, [N, K] otherwise.
  std::string decision;
  int64_t decision_width = 0;  // 0: [N]
  // Regressors: [N] (n_targets == 1) or [N, n_targets].
  std::string variable;
  int64_t n_targets = 0;
  bool variable_2d = false;  // [N, n_targets] even when n_targets == 1
  // Outlier detectors: score_samples [N].
  std::string score_samples;

  bool is_classifier() const { return !label.empty(); }
};

struct Ctx {
  GraphBuilder& b;
  // What the importer adapted to read the file (shown by inspect/doctor).
  std::vector<std::string>* notes = nullptr;
  int depth = 0;
  // The estimators converted so far, as class names; a composite's entry
  // nests its children: "Pipeline(StandardScaler, LogisticRegression)".
  // `tiffin diff` compares it as the preprocessing steps.
  std::vector<std::string> structure;
};

using TransformFn = Result<Features> (*)(Ctx&, const Obj&, const Features&);
using PredictFn = Result<Prediction> (*)(Ctx&, const Obj&, const Features&);

struct ConverterRow {
  const char* class_name;  // short scikit-learn class name
  TransformFn transform;   // null for estimators
  PredictFn predict;       // null for transformers
};

// The row for `obj`'s class, or null. Only sklearn.* classes match.
const ConverterRow* FindConverter(const Obj& obj);
// Every registered class name (for docs and `tiffin ops`).
std::vector<std::string> SupportedClasses();

// Runs a transformer step (any registered transformer, or Pipeline /
// ColumnTransformer / FeatureUnion of them).
Result<Features> Transform(Ctx& ctx, const Obj& obj, const Features& in);
// Runs a final estimator (or a Pipeline ending in one).
Result<Prediction> Predict(Ctx& ctx, const Obj& obj, const Features& in);
bool IsPredictor(const Obj& obj);

// A dense float64 [N, width] value from `in` (a table's columns are
// concatenated; string columns are refused with their name).
Result<std::string> Dense(Ctx& ctx, const Features& in, const std::string& who);
Features DenseFeatures(std::string value, int64_t width);

// Shared classifier tail: label = classes_[ArgMax(scores)].
std::string LabelFromScores(Ctx& ctx, const std::string& scores, const Labels& classes);
// Two classes: classes_[1] where `positive` (bool [N]) holds, else classes_[0].
std::string BinaryLabel(Ctx& ctx, const std::string& positive, const Labels& classes);
Result<Labels> Classes(const Obj& obj);
// Checks that `in` has the width the estimator was fitted on.
Status CheckWidth(const Obj& obj, const Features& in);

// Family converters (one .cc each).
#define TIFFIN_TRANSFORM(name) Result<Features> name(Ctx&, const Obj&, const Features&)
#define TIFFIN_PREDICT(name) Result<Prediction> name(Ctx&, const Obj&, const Features&)
// convert_preprocess.cc
TIFFIN_TRANSFORM(ConvertStandardScaler);
TIFFIN_TRANSFORM(ConvertMinMaxScaler);
TIFFIN_TRANSFORM(ConvertMaxAbsScaler);
TIFFIN_TRANSFORM(ConvertRobustScaler);
TIFFIN_TRANSFORM(ConvertNormalizer);
TIFFIN_TRANSFORM(ConvertBinarizer);
TIFFIN_TRANSFORM(ConvertSimpleImputer);
TIFFIN_TRANSFORM(ConvertPCA);
TIFFIN_TRANSFORM(ConvertTruncatedSVD);
TIFFIN_TRANSFORM(ConvertSelector);
TIFFIN_TRANSFORM(ConvertPolynomialFeatures);
TIFFIN_TRANSFORM(ConvertKBinsDiscretizer);
TIFFIN_TRANSFORM(ConvertOneHotEncoder);
TIFFIN_TRANSFORM(ConvertOrdinalEncoder);
TIFFIN_TRANSFORM(ConvertFunctionTransformer);
// convert_compose.cc
TIFFIN_TRANSFORM(ConvertPipelineTransform);
TIFFIN_PREDICT(ConvertPipelinePredict);
TIFFIN_TRANSFORM(ConvertColumnTransformer);
TIFFIN_TRANSFORM(ConvertFeatureUnion);
TIFFIN_PREDICT(ConvertVotingClassifier);
TIFFIN_PREDICT(ConvertVotingRegressor);
TIFFIN_PREDICT(ConvertCalibratedClassifierCV);
// convert_linear.cc
TIFFIN_PREDICT(ConvertLinearClassifier);
TIFFIN_PREDICT(ConvertLinearRegressor);
// convert_tree.cc
TIFFIN_PREDICT(ConvertDecisionTreeClassifier);
TIFFIN_PREDICT(ConvertDecisionTreeRegressor);
TIFFIN_PREDICT(ConvertForestClassifier);
TIFFIN_PREDICT(ConvertForestRegressor);
TIFFIN_PREDICT(ConvertGradientBoostingClassifier);
TIFFIN_PREDICT(ConvertGradientBoostingRegressor);
TIFFIN_PREDICT(ConvertHistGradientBoostingClassifier);
TIFFIN_PREDICT(ConvertHistGradientBoostingRegressor);
TIFFIN_PREDICT(ConvertAdaBoostClassifier);
TIFFIN_PREDICT(ConvertAdaBoostRegressor);
TIFFIN_PREDICT(ConvertIsolationForest);
// convert_other.cc
TIFFIN_PREDICT(ConvertGaussianNB);
TIFFIN_PREDICT(ConvertDiscreteNB);
TIFFIN_PREDICT(ConvertMLPClassifier);
TIFFIN_PREDICT(ConvertMLPRegressor);
TIFFIN_PREDICT(ConvertKNeighborsClassifier);
TIFFIN_PREDICT(ConvertKNeighborsRegressor);
TIFFIN_PREDICT(ConvertSVC);
TIFFIN_PREDICT(ConvertSVR);
TIFFIN_PREDICT(ConvertDummyClassifier);
TIFFIN_PREDICT(ConvertDummyRegressor);
#undef TIFFIN_TRANSFORM
#undef TIFFIN_PREDICT

}  // namespace tiffin::sklearn

#endif  // TIFFIN_IMPORTERS_SKLEARN_CONVERT_H_
