// XGBoost and LightGBM importers, differential against the libraries' own
// predictions:
//  - build/xgboost-fixtures (tests/golden/gen/gen_xgboost.py, Debian's
//    XGBoost 1.7): every objective, in JSON, UBJSON, binary and pickle;
//  - ../shared/fixtures/external: the treelite files with their shipped
//    margins/probabilities/predictions, and every other XGBoost/LightGBM
//    file loading or refused with a reason.
// Tolerance: |got - want| <= 1e-5 * |want| + 1e-6 (margins and outputs).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "importers/gbdt/gbdt_test_util.h"
#include "importers/lightgbm/lightgbm.h"
#include "importers/xgboost/json_value.h"
#include "importers/xgboost/xgboost.h"
#include "tiffin/model.h"

namespace tiffin {
namespace {

namespace fs = std::filesystem;
using gbdt_test::Matrix;
using gbdt_test::Mismatches;
using gbdt_test::ReadLibsvm;
using gbdt_test::ReadMatrix;
using gbdt_test::RunModel;
using gbdt_test::ToTensor;

fs::path XgbFixtures() {
  const char* d = std::getenv("TIFFIN_XGB_FIXTURES");
  return d ? d : TIFFIN_XGB_FIXTURES_DEFAULT;
}
fs::path External() {
  const char* d = std::getenv("TIFFIN_EXTERNAL_FIXTURES");
  return d ? d : TIFFIN_EXTERNAL_FIXTURES_DEFAULT;
}

std::vector<double> Flat(const Matrix& m) {
  std::vector<double> v;
  for (const auto& r : m) v.insert(v.end(), r.begin(), r.end());
  return v;
}

std::vector<double> Column(const std::vector<double>& v, size_t width, size_t col) {
  std::vector<double> out;
  for (size_t i = col; i < v.size(); i += width) out.push_back(v[i]);
  return out;
}

// Checks every model file of case directory `d` (inputs X.txt, XGBoost's
// margin.txt and pred.txt) and returns how many were checked.
int CheckCase(const fs::path& d, const std::vector<fs::path>& models, double* worst) {
  const Matrix x = ReadMatrix(d / "X.txt");
  const std::vector<double> margin = Flat(ReadMatrix(d / "margin.txt"));
  const Matrix pred = ReadMatrix(d / "pred.txt");
  std::string kind;
  std::ifstream(d / "kind.txt") >> kind;
  int checked = 0;
  for (const fs::path& p : models) {
    SCOPED_TRACE(p.string());
    auto model = LoadModel(p.string());
    EXPECT_TRUE(model.ok()) << model.status().ToString();
    if (!model.ok()) continue;
    auto out = RunModel(**model, x);
    std::string first;
    EXPECT_EQ(Mismatches(out["margin"], margin, worst, &first), 0) << "margin " << first;
    const std::vector<double> want = Flat(pred);
    if (kind == "probability") {
      const auto& probs = out["probabilities"];
      if (pred[0].size() == 1)
        EXPECT_EQ(Mismatches(Column(probs, 2, 1), want, worst, &first), 0) << first;
      else
        EXPECT_EQ(Mismatches(probs, want, worst, &first), 0) << first;
    } else if (kind == "label") {
      EXPECT_EQ(Mismatches(out["label"], want, worst, &first), 0) << first;
    } else {
      EXPECT_EQ(Mismatches(out["variable"], want, worst, &first), 0) << first;
    }
    const std::string file = p.filename().string();
    if ((file == "model.pkl" || file == "model.joblib") && fs::exists(d / "proba.txt")) {
      EXPECT_EQ(Mismatches(out["probabilities"], Flat(ReadMatrix(d / "proba.txt")), worst, &first),
                0)
          << "predict_proba " << first;
    }
    ++checked;
  }
  return checked;
}

TEST(XgboostGolden, EveryObjectiveAndEncodingMatchesXgboost) {
  if (!fs::exists(XgbFixtures())) GTEST_SKIP() << "run gen_xgboost.py (make xgboost-fixtures)";
  int checked = 0;
  double worst = 0;
  for (const auto& dir : fs::directory_iterator(XgbFixtures())) {
    if (!dir.is_directory() || !fs::exists(dir.path() / "X.txt")) continue;
    std::vector<fs::path> models;
    for (const char* file : {"model.json", "model.ubj", "model.bin", "model.pkl", "model.joblib"})
      if (fs::exists(dir.path() / file)) models.push_back(dir.path() / file);
    checked += CheckCase(dir.path(), models, &worst);
  }
  EXPECT_GE(checked, 40);
  std::printf("checked %d XGBoost files; worst abs difference %.3g\n", checked, worst);
}

// The external XGBoost files, on random inputs, against Debian's XGBoost
// (gen_xgboost.py's external/ cases).
TEST(XgboostGolden, ExternalFilesMatchXgboost) {
  const fs::path cases = XgbFixtures() / "external";
  if (!fs::exists(cases)) GTEST_SKIP() << "run gen_xgboost.py with the external directory";
  int checked = 0;
  double worst = 0;
  for (const auto& dir : fs::directory_iterator(cases)) {
    std::string source;
    std::ifstream(dir.path() / "source.txt") >> source;
    checked += CheckCase(dir.path(), {External() / "xgboost" / source}, &worst);
  }
  EXPECT_GE(checked, 11);
  std::printf("checked %d external XGBoost files; worst abs difference %.3g\n", checked, worst);
}

struct ExternalCase {
  const char* file;
  const char* test;    // libsvm inputs
  int64_t width;       // feature count
  double absent;       // value of entries the libsvm rows omit
  const char* margin;  // expected margins (or predictions for regressors)
  const char* prob;    // expected probabilities (optional)
};

TEST(GbdtExternal, TreeliteFilesMatchTheirShippedOutputs) {
  const fs::path e = External();
  if (!fs::exists(e)) GTEST_SKIP() << "no external fixtures at " << e;
  const ExternalCase cases[] = {
      {"xgboost/treelite__mushroom.model", "xgboost/treelite__agaricus.test", 127, NAN,
       "xgboost/treelite__agaricus.test.margin", "xgboost/treelite__agaricus.test.prob"},
      {"xgboost/treelite__dermatology.model", "xgboost/treelite__dermatology.test", 33, NAN,
       "xgboost/treelite__dermatology.test.margin", "xgboost/treelite__dermatology.test.prob"},
      {"xgboost/treelite__xgb_toy_categorical_model.json",
       "xgboost/treelite__xgb_toy_categorical.test", 2, NAN,
       "xgboost/treelite__xgb_toy_categorical.test.pred", nullptr},
      {"lightgbm/treelite__toy_categorical_model.txt", "lightgbm/treelite__toy_categorical.test", 2,
       0.0, "lightgbm/treelite__toy_categorical.test.pred", nullptr},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    auto model = LoadModel((e / c.file).string());
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    const Matrix x = ReadLibsvm(e / c.test, c.width, 0, c.absent);
    auto out = RunModel(**model, x);
    double worst = 0;
    std::string first;
    EXPECT_EQ(Mismatches(out["margin"], Flat(ReadMatrix(e / c.margin)), &worst, &first), 0)
        << "margin " << first;
    if (c.prob) {
      const std::vector<double> want = Flat(ReadMatrix(e / c.prob));
      const auto& probs = out["probabilities"];
      const size_t k = probs.size() / x.size();
      EXPECT_EQ(Mismatches(k == 2 ? Column(probs, 2, 1) : probs, want, &worst, &first), 0)
          << "probabilities " << first;
    }
    std::printf("%s: %zu rows, worst abs difference %.3g\n", c.file, x.size(), worst);
  }
}

// Every other external file either loads and runs, or is refused with a
// reason naming what is missing.
TEST(GbdtExternal, EveryFileLoadsOrIsRefusedWithAReason) {
  const fs::path e = External();
  if (!fs::exists(e)) GTEST_SKIP() << "no external fixtures at " << e;
  const std::map<std::string, std::string> refused = {
      {"mlrun__XGBClassifier__xgb1.7.3_proto5.pkl", "cloudpickle"},
  };
  for (const char* sub : {"xgboost", "lightgbm"}) {
    for (const auto& f : fs::directory_iterator(e / sub)) {
      const std::string name = f.path().filename().string();
      if (name.find(".test") != std::string::npos) continue;
      SCOPED_TRACE(name);
      auto model = LoadModel(f.path().string());
      auto it = refused.find(name);
      if (it != refused.end()) {
        ASSERT_FALSE(model.ok());
        EXPECT_NE(model.status().ToString().find(it->second), std::string::npos)
            << model.status().ToString();
        std::printf("%s: refused: %s\n", name.c_str(), model.status().ToString().c_str());
        continue;
      }
      ASSERT_TRUE(model.ok()) << model.status().ToString();
      const int64_t width = (*model)->inputs()[0].shape[1].value;
      Matrix x(3, std::vector<double>(static_cast<size_t>(width), 0.5));
      x[1].assign(static_cast<size_t>(width), std::nan(""));
      x[2].assign(static_cast<size_t>(width), 1.0);
      auto out = (*model)->Run({{"X", ToTensor(x)}});
      ASSERT_TRUE(out.ok()) << out.status().ToString();
      std::printf("%s: loads (%s, %s trees, %s)\n", name.c_str(), (*model)->info().format.c_str(),
                  (*model)->info().metadata.at("num_trees").c_str(),
                  (*model)->info().metadata.at("objective").c_str());
    }
  }
}

TEST(Ubjson, BoundsAndForms) {
  using xgboost::ParseUbjson;
  // {"a": [$d #i 2 1.0 2.0]} as XGBoost writes it.
  std::string ok = std::string(
                       "{i\x01"
                       "a[$d#i\x02",
                       10) +
                   std::string("\x3f\x80\x00\x00\x40\x00\x00\x00", 8) + "}";
  auto v = ParseUbjson(ok);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_NE(v->Find("a"), nullptr);
  EXPECT_EQ(v->Find("a")->numbers, (std::vector<double>{1.0, 2.0}));
  // A count far beyond the data is refused before allocating.
  std::string huge = std::string("[$d#L", 5) + std::string("\x7f\xff\xff\xff\xff\xff\xff\xff", 8);
  EXPECT_FALSE(ParseUbjson(huge).ok());
  EXPECT_FALSE(ParseUbjson("{i\x05"
                           "ab")
                   .ok());
  std::string deep(1000, '[');
  EXPECT_FALSE(ParseUbjson(deep).ok());
}

TEST(LightgbmText, ZeroMissingTypeAndCategoricalSplits) {
  // One split on feature 0 with missing type Zero (decision_type 4 | default
  // left 2 = 6) at threshold -1: 0 and NaN take the default (left) child.
  const char* text =
      "tree\nversion=v3\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n"
      "max_feature_idx=1\nobjective=regression\n\nTree=0\nnum_leaves=3\nnum_cat=1\n"
      "split_feature=0 1\nsplit_gain=1 1\nthreshold=-1 0\ndecision_type=6 1\n"
      "left_child=-1 -2\nright_child=1 -3\nleaf_value=10 20 30\n"
      "cat_boundaries=0 1\ncat_threshold=11\nshrinkage=1\n\nend of trees\n";
  auto m = lightgbm::ReadTextModel(text);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  auto g = gbdt::BuildGbdtGraph(*m);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  const fs::path tmp = fs::temp_directory_path() / "tiffin_lgbm_zero.txt";
  std::ofstream(tmp) << text;
  auto model = LoadModel(tmp.string());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  // Rows: x0 = -2 (left: 10); 0 (zero: default left 10); NaN (default: 10);
  // 5 with x1 = 1 (category 1 in {0, 1, 3}: left 20); 5 with x1 = 2 (right 30);
  // 5 with x1 = NaN (right 30); 5 with x1 = -1 (right 30); x1 = 3.7 is
  // category 3 (C's int cast: left 20); x1 = -0.5 is category 0, in {0, 1, 3} (left 20).
  const Matrix x = {{-2, 0},  {0, 0},  {NAN, 0}, {5, 1},   {5, 2},
                    {5, NAN}, {5, -1}, {5, 3.7}, {5, -0.5}};
  auto out = RunModel(**model, x);
  EXPECT_EQ(out["variable"], (std::vector<double>{10, 10, 10, 20, 30, 30, 30, 20, 20}));
  fs::remove(tmp);
}

TEST(XgboostRefusals, HostileAndUnsupportedInputs) {
  EXPECT_FALSE(xgboost::ReadModelBytes("{\"learner\": 3}").ok());
  EXPECT_FALSE(xgboost::ReadModelBytes("binf").ok());
  auto bad = xgboost::ReadModelBytes(
      R"({"learner":{"learner_model_param":{"num_feature":"2","num_class":"0","base_score":"[5E-1]"},)"
      R"("objective":{"name":"reg:squarederror"},"gradient_booster":{"name":"gbtree","model":{)"
      R"("trees":[{"left_children":[1,-1,-1],"right_children":[0,-1,-1],"split_indices":[0,0,0],)"
      R"("split_conditions":[0.5,1,2],"default_left":[1,0,0],"split_type":[0,0,0]}],"tree_info":[0]}}}})");
  ASSERT_TRUE(bad.ok()) << bad.status().ToString();  // parses; the cycle is caught on build
  auto g = gbdt::BuildGbdtGraph(*bad);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().ToString().find("cycle"), std::string::npos) << g.status().ToString();
  auto obj = xgboost::ReadModelBytes(
      R"({"learner":{"learner_model_param":{"num_feature":"2"},"objective":{"name":"binary:hinge"},)"
      R"("gradient_booster":{"name":"gbtree","model":{"trees":[],"tree_info":[]}}}})");
  ASSERT_FALSE(obj.ok());
  EXPECT_NE(obj.status().ToString().find("binary:hinge"), std::string::npos);
}

}  // namespace
}  // namespace tiffin

namespace tiffin {
namespace {

TEST(LightgbmText, TruncatedFileIsRefused) {
  const fs::path p = External() / "lightgbm" / "lleaves__multiclass_model.txt";
  if (!fs::exists(p)) GTEST_SKIP() << "no external fixtures";
  std::ifstream in(p);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_TRUE(lightgbm::ReadTextModel(text).ok());
  // Cut before a tree block: every block left is whole, but trees are missing.
  const std::string cut = text.substr(0, text.rfind("Tree=", 30000));
  auto m = lightgbm::ReadTextModel(cut);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().ToString().find("truncated"), std::string::npos) << m.status().ToString();
  // Cut inside a block: a line is short of values or missing.
  EXPECT_FALSE(lightgbm::ReadTextModel(text.substr(0, 30000)).ok());
}

}  // namespace
}  // namespace tiffin

namespace tiffin {
namespace {

// XGBoost 3.1 writes base_score as a bracketed vector ("[3E-1]"): the same
// model in that spelling predicts what XGBoost 1.7 predicted.
TEST(XgboostGolden, BaseScoreAsBracketedVector) {
  const fs::path d = XgbFixtures() / "binary_logistic_base03";
  if (!fs::exists(d)) GTEST_SKIP() << "run gen_xgboost.py (make xgboost-fixtures)";
  std::ifstream in(d / "model.json");
  std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string from = "\"base_score\":\"3E-1\"";
  const size_t at = json.find(from);
  ASSERT_NE(at, std::string::npos);
  json.replace(at, from.size(), "\"base_score\":\"[3E-1]\"");
  const fs::path p = fs::temp_directory_path() / "tiffin_xgb_base_vector.json";
  std::ofstream(p) << json;
  double worst = 0;
  EXPECT_EQ(CheckCase(d, {p}, &worst), 1);
  fs::remove(p);
}

}  // namespace
}  // namespace tiffin

namespace tiffin {
namespace {

// binary sigmoid:2 gives p = 1 / (1 + exp(-2 raw)) (LightGBM's
// BinaryLogloss::ConvertOutput); average_output divides the sum of the
// trees by the number of iterations (GBDT::Predict in random-forest mode).
TEST(LightgbmText, SigmoidScaleAndAverageOutput) {
  const std::string trees =
      "Tree=0\nnum_leaves=2\nnum_cat=0\nsplit_feature=0\nsplit_gain=1\nthreshold=0.5\n"
      "decision_type=2\nleft_child=-1\nright_child=-2\nleaf_value=-1 3\nshrinkage=1\n\n"
      "Tree=1\nnum_leaves=1\nnum_cat=0\nleaf_value=0.5\nshrinkage=1\n\nend of trees\n";
  const std::string head =
      "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\n"
      "label_index=0\nmax_feature_idx=0\n";
  const fs::path p = fs::temp_directory_path() / "tiffin_lgbm_sigmoid.txt";
  std::ofstream(p) << head << "objective=binary sigmoid:2\n\n" << trees;
  auto model = LoadModel(p.string());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  auto out = RunModel(**model, {{0.0}, {1.0}});
  // raw = -1 + 0.5 = -0.5 and 3 + 0.5 = 3.5.
  ASSERT_EQ(out["probabilities"].size(), 4u);
  EXPECT_NEAR(out["probabilities"][1], 1 / (1 + std::exp(1.0)), 1e-12);
  EXPECT_NEAR(out["probabilities"][3], 1 / (1 + std::exp(-7.0)), 1e-12);
  EXPECT_EQ(out["margin"], (std::vector<double>{-0.5, 3.5}));
  std::ofstream(p) << head << "objective=regression\naverage_output\n\n" << trees;
  model = LoadModel(p.string());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  out = RunModel(**model, {{0.0}, {1.0}});
  EXPECT_EQ(out["variable"], (std::vector<double>{-0.25, 1.75}));
  fs::remove(p);
}

}  // namespace
}  // namespace tiffin

namespace tiffin {
namespace {

// gblinear: weights are (num_feature + 1) x groups, feature-major, biases
// last; a missing feature adds nothing (XGBoost skips it in its sparse sum).
TEST(XgboostGblinear, WeightsLayoutAndRefusals) {
  auto doc = [](const std::string& weights) {
    return R"({"learner":{"learner_model_param":{"num_feature":"2","num_class":"0","base_score":"0"},)"
           R"("objective":{"name":"reg:squarederror"},"gradient_booster":{"name":"gblinear",)"
           R"("model":{"weights":[)" +
           weights + "]}}}}";
  };
  auto m = xgboost::ReadModelBytes(doc("1, 2, 0.5"));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const fs::path p = fs::temp_directory_path() / "tiffin_gblinear.json";
  std::ofstream(p) << doc("1, 2, 0.5");
  auto model = LoadModel(p.string());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  auto out = RunModel(**model, {{1, 1}, {NAN, 3}, {2, NAN}});
  EXPECT_EQ(out["margin"], (std::vector<double>{3.5, 6.5, 2.5}));
  fs::remove(p);
  // Three weights are needed for two features and one output.
  auto bad = xgboost::ReadModelBytes(doc("1, 2"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().ToString().find("gblinear weights"), std::string::npos)
      << bad.status().ToString();
}

}  // namespace
}  // namespace tiffin
