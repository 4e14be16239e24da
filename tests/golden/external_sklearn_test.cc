// Every scikit-learn pickle and joblib file in shared/fixtures/external
// (written by scikit-learn 0.19 to 1.4, numpy 1 and 2, protocols 2-5,
// joblib 0.9 to 1.6) has a stated outcome here: it predicts, matching the
// reference outputs shipped with it where there are any, or it is refused
// with a precise reason. `TIFFIN_COMPAT_DOC=path` also writes the table as
// docs/compatibility.md (make compat-doc).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "importers/pickle/numpy.h"
#include "importers/pickle/pickle.h"
#include "io/tensor_io.h"
#include "tiffin/model.h"
#include "tiffin/sklearn.h"

namespace tiffin {
namespace {

namespace fs = std::filesystem;

enum class Check {
  kReference,        // X.data.pkl / X.expected.pkl shipped beside it
  kReferenceLabels,  // the same, but only labels are converted (known gap in `reason`)
  kIrisRow0,         // the kserve sklearnserver test: predict([5.1,3.5,1.4,0.2]) == 0
  kHousePrice,       // the kserve mixed-type test: one record -> 12.202832815138274
  kRuns,             // no reference outputs shipped: runs on zeros, outputs well-formed
  kRefused,          // refused, with `reason` in the message
};

struct External {
  const char* file;
  Check check;
  const char* reason;  // kRefused: a substring of the error; otherwise a note
};

const External kFiles[] = {
    {"kserve__sklearnserver_joblib__2020-09-11__sk0.20.3.joblib", Check::kIrisRow0,
     "SVC, joblib 0.12+ inline arrays"},
    {"kserve__sklearnserver_joblib__2020-11-14__sk0.20.3_dill-globals.joblib", Check::kRefused,
     "refusing global 'dill._dill._get_attr'"},
    {"kserve__sklearnserver_joblib__2021-12-22__sk1.0.1_proto4.joblib", Check::kIrisRow0,
     "SVC, protocol 4"},
    {"kserve__sklearnserver_joblib__2023-04-03__sk1.0.1_joblib-aligned.joblib", Check::kIrisRow0,
     "SVC, joblib 1.2 aligned arrays"},
    {"kserve__sklearnserver_joblib__2024-09-27__sk1.3.2.joblib", Check::kIrisRow0,
     "SVC, scikit-learn 1.3"},
    {"kserve__sklearnserver_mixedtype__2023-07-26__sk1.3.0.joblib", Check::kHousePrice,
     "ColumnTransformer + SGDRegressor on a pandas frame, object arrays inline"},
    {"kserve__sklearnserver_pkl__2024-09-27__sk1.3.2.pkl", Check::kIrisRow0, "SVC, plain pickle"},
    {"mlrun__docs_tutorials_model2__sk0.23.2_adaboost.pkl", Check::kRuns, "AdaBoostClassifier"},
    {"mlrun__docs_tutorials_model__sk1.4.0_proto5.pkl", Check::kRuns,
     "RandomForestClassifier, protocol 5 in-band buffers, 1.4 fraction-valued tree values"},
    {"mlserver__benchmark_iris__sk0.23.2.joblib", Check::kRuns, "LogisticRegression"},
    {"mlserver__docs-gb_conda__sk1.1.2.joblib", Check::kRuns, "SVC on 8x8 digits"},
    {"mlserver__tempo_sklearn-iris__sk0.21.2.joblib", Check::kRuns, "Pipeline(LogisticRegression)"},
    {"sagemaker-python-sdk__marketplace_iris__sk1.0.2.joblib", Check::kRuns,
     "DecisionTreeClassifier"},
    {"sklearn-onnx__2018__SklearnBinRandomForestClassifier.model.pkl", Check::kReference,
     "0.19 public module paths, 56-byte tree nodes"},
    {"sklearn-onnx__2018__SklearnLogitisticRegressionBinary.model.pkl", Check::kReference, "0.19"},
    {"sklearn-onnx__2018__SklearnMclDecisionTreeClassifier.model.pkl", Check::kReference, "0.19"},
    {"sklearn-onnx__2018__SklearnMclSVCLinearPF.model.pkl", Check::kReference,
     "0.19 SVC linear, decision_function_shape='ovr' with 0.19's batch-scaled confidences"},
    {"sklearn-onnx__2018__SklearnMinMaxScaler.model.pkl", Check::kReference, "0.19"},
    {"sklearn-onnx__2018__SklearnPipelineScalerMixed-OneOff.model.pkl", Check::kRefused,
     "class 'test_SklearnPipeline.PipeConcatenateInput', which is not a scikit-learn or numpy "
     "class"},
    {"sklearn-onnx__2018__SklearnRegGradientBoostingRegressor.model.pkl", Check::kReference,
     "0.19 GradientBoosting with MeanEstimator init"},
    {"sklearn-onnx__2018__SklearnStandardScalerFloat32.model.pkl", Check::kReference,
     "0.19, float32 input"},
    {"sklearn-onnx__2022__SklearnSGDMultiNoCl.model.pkl", Check::kReference,
     "1.0 SGDClassifier(log)"},
};

fs::path SharedSklearn() {
  const char* src = std::getenv("TIFFIN_SOURCE_DIR");
  fs::path root = src ? fs::path(src) : fs::path(TIFFIN_SOURCE_DIR_DEFAULT);
  return root / ".." / "shared" / "fixtures" / "external" / "sklearn";
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A pickled numpy array, or a list of them, read with the restricted machine.
Result<std::vector<Tensor>> ReadArrays(const fs::path& p) {
  pickle::PickleOptions opts;
  opts.allowed_globals = pickle::kNumpyAllowedGlobals;
  TIFFIN_ASSIGN_OR_RETURN(pickle::PickleValue v, pickle::ParsePickle(ReadFile(p), opts));
  std::vector<Tensor> out;
  if (v.is_list() || v.is_tuple()) {
    for (const auto& item : v.items) {
      TIFFIN_ASSIGN_OR_RETURN(Tensor t, pickle::NumpyArrayToTensor(*item));
      out.push_back(t);
    }
  } else {
    TIFFIN_ASSIGN_OR_RETURN(Tensor t, pickle::NumpyArrayToTensor(v));
    out.push_back(t);
  }
  return out;
}

Tensor ToDouble(const Tensor& t) {
  Tensor d(DType::kFloat64, t.shape());
  for (int64_t i = 0; i < t.size(); ++i) d.data<double>()[i] = ElementAsDouble(t, i);
  return d;
}

// Labels compare as text (classes may be ints or strings on either side).
std::string LabelText(const Tensor& t, int64_t i) {
  if (t.dtype() == DType::kString) return t.data<std::string>()[i];
  return std::to_string(static_cast<int64_t>(ElementAsDouble(t, i)));
}

std::string CompareValues(const Tensor& got, const Tensor& want, double rtol, double atol) {
  if (got.size() != want.size())
    return "size " + ShapeToString(got.shape()) + " vs " + ShapeToString(want.shape());
  int bad = 0;
  double worst = 0;
  for (int64_t i = 0; i < got.size(); ++i) {
    const double a = ElementAsDouble(got, i), b = ElementAsDouble(want, i);
    const double err = std::abs(a - b);
    worst = std::max(worst, err);
    if (!(err <= atol + rtol * std::abs(b))) ++bad;
  }
  if (bad) return std::to_string(bad) + " values differ (max abs " + std::to_string(worst) + ")";
  return "";
}

struct Outcome {
  std::string result;  // "predicts" / "refused"
  std::string detail;
  bool ok = false;
};

Outcome RunOne(const External& e, const fs::path& dir) {
  Outcome o;
  const fs::path path = dir / e.file;
  auto model = LoadModel(path.string());
  if (e.check == Check::kRefused) {
    o.result = "refused";
    if (model.ok()) {
      o.detail = "loaded, but a refusal was expected";
      return o;
    }
    o.detail = model.status().message();
    o.ok = o.detail.find(e.reason) != std::string::npos;
    return o;
  }
  if (!model.ok()) {
    o.result = "error";
    o.detail = model.status().ToString();
    return o;
  }
  const auto& inputs = (*model)->inputs();
  std::map<std::string, Tensor> got;
  auto run = [&](std::vector<NamedTensor> feeds) -> Status {
    TIFFIN_ASSIGN_OR_RETURN(std::vector<Tensor> outs, (*model)->Run(feeds));
    for (size_t i = 0; i < outs.size(); ++i) got[(*model)->outputs()[i].name] = outs[i];
    return Status::Ok();
  };
  o.result = "predicts";
  switch (e.check) {
    case Check::kIrisRow0: {
      Tensor x = Tensor::FromVector<double>({5.1, 3.5, 1.4, 0.2}, {1, 4});
      Status s = run({{inputs[0].name, x}});
      if (!s.ok()) return {"error", s.ToString(), false};
      o.ok = got.count("label") && LabelText(got["label"], 0) == "0";
      o.detail = "iris row 0 predicts class " +
                 (got.count("label") ? LabelText(got["label"], 0) : "?") +
                 " (kserve's test expects 0)";
      return o;
    }
    case Check::kHousePrice: {
      const std::string rec =
          R"([{"MSZoning":"RL","LotArea":8450,"LotShape":"Reg","Utilities":"AllPub","YrSold":2008,)"
          R"("Neighborhood":"CollgCr","OverallQual":7,"YearBuilt":2003,"SaleType":"WD","GarageArea":548}])";
      auto feeds = io::ParseTabular(rec, inputs, (*model)->info().feature_names);
      if (!feeds.ok()) return {"error", feeds.status().ToString(), false};
      Status s = run(*feeds);
      if (!s.ok()) return {"error", s.ToString(), false};
      const double v = got.count("variable") ? ElementAsDouble(got["variable"], 0) : std::nan("");
      o.ok = std::abs(v - 12.202832815138274) <= 1e-5 * 12.2;
      o.detail =
          "the kserve test record predicts " + std::to_string(v) + " (expected 12.202832815138274)";
      return o;
    }
    case Check::kRuns: {
      if (inputs.size() != 1 || inputs[0].shape.size() != 2 || !inputs[0].shape[1].fixed())
        return {"error", "unexpected input layout", false};
      Tensor x(DType::kFloat64, {3, inputs[0].shape[1].value});
      Status s = run({{inputs[0].name, x}});
      if (!s.ok()) return {"error", s.ToString(), false};
      o.ok = got.count("label") && got["label"].size() == 3;
      if (got.count("probabilities")) {
        const Tensor& p = got["probabilities"];
        const int64_t k = p.dim(1);
        for (int64_t r = 0; r < 3; ++r) {
          double sum = 0;
          for (int64_t c = 0; c < k; ++c) sum += ElementAsDouble(p, r * k + c);
          o.ok &= std::abs(sum - 1) < 1e-9;
        }
      }
      o.detail = std::string("runs; no reference outputs ship with this file (") +
                 std::to_string(inputs[0].shape[1].value) + " features, outputs well-formed)";
      return o;
    }
    case Check::kReference:
    case Check::kReferenceLabels: {
      std::string stem = e.file;
      stem = stem.substr(0, stem.size() - std::string(".model.pkl").size());
      auto x = ReadArrays(dir / (stem + ".data.pkl"));
      auto want = ReadArrays(dir / (stem + ".expected.pkl"));
      if (!x.ok() || !want.ok()) return {"error", "reference arrays unreadable", false};
      Status s = run({{inputs[0].name, ToDouble((*x)[0])}});
      if (!s.ok()) return {"error", s.ToString(), false};
      std::string diff;
      // Float32 references (the 2018 scaler tests ran in float32) get the
      // float32 tolerance; float64 references 1e-5.
      const Tensor& w0 = (*want)[0];
      if (want->size() == 2) {
        const Tensor& labels = got["label"];
        for (int64_t i = 0; i < w0.size() && diff.empty(); ++i)
          if (LabelText(labels, i) != LabelText(w0, i))
            diff = "label " + std::to_string(i) + " differs";
        if (e.check == Check::kReferenceLabels) {
          if (got.count("probabilities"))
            diff = "probabilities are produced now: check them (kReference)";
          o.detail = "labels equal on " + std::to_string(w0.size()) + " reference rows";
        } else {
          // The second array is predict_proba, or decision_function for
          // models without it (the 2018 SVC test).
          const char* second = got.count("probabilities") ? "probabilities" : "decision_function";
          if (diff.empty()) diff = CompareValues(got[second], (*want)[1], 1e-5, 1e-7);
          o.detail = "labels equal, " + std::string(second) + " within rtol 1e-5 of " +
                     std::to_string(w0.size()) + " reference rows";
        }
      } else {
        const char* name = got.count("variable")      ? "variable"
                           : got.count("transformed") ? "transformed"
                                                      : "label";
        const double rtol = w0.dtype() == DType::kFloat32 ? 1e-6 : 1e-5;
        diff = std::string(name) == "label" ? "" : CompareValues(got[name], w0, rtol, 1e-7);
        if (std::string(name) == "label") {
          for (int64_t i = 0; i < w0.size() && diff.empty(); ++i)
            if (LabelText(got["label"], i) != LabelText(w0, i))
              diff = "label " + std::to_string(i) + " differs";
        }
        o.detail = std::string(name) + " within rtol " +
                   (rtol == 1e-6 ? "1e-6 (float32 reference)" : "1e-5") + " of " +
                   std::to_string(w0.dim(0)) + " reference rows";
      }
      o.ok = diff.empty();
      if (!o.ok) o.detail = diff;
      return o;
    }
    default:
      return o;
  }
}

TEST(ExternalSklearn, EveryFileHasItsStatedOutcome) {
  const fs::path dir = SharedSklearn();
  if (!fs::exists(dir)) GTEST_SKIP() << "no shared fixtures at " << dir;
  // Every model file in the folder is in the table.
  std::set<std::string> listed;
  for (const auto& e : kFiles) listed.insert(e.file);
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() || name.find(".data.pkl") != std::string::npos ||
        name.find(".expected.pkl") != std::string::npos)
      continue;
    EXPECT_TRUE(listed.count(name)) << name << " has no stated outcome in kFiles";
  }
  std::string doc =
      "# Compatibility: scikit-learn files in the wild\n\n"
      "Every scikit-learn pickle and joblib file in `shared/fixtures/external/sklearn/` "
      "(sources in its `MANIFEST.md`), and what tiffin does with it. Written by "
      "`make compat-doc` from `tests/golden/external_sklearn_test.cc`, which checks each "
      "outcome on every `make test`.\n\n"
      "| File | Written by | Outcome | Checked |\n|---|---|---|---|\n";
  for (const auto& e : kFiles) {
    Outcome o = RunOne(e, dir);
    EXPECT_TRUE(o.ok) << e.file << ": " << o.result << ": " << o.detail;
    std::string version = "not read (refused)";
    auto info = InspectSklearnFile((dir / e.file).string());
    if (info.ok() && !info->objects.empty()) {
      version = "scikit-learn " + info->objects[0].sklearn_version + ", pickle " +
                std::to_string(info->pickle_protocol) +
                (info->compression != "none" ? ", " + info->compression : "");
    }
    std::string detail = o.detail;
    // Paths in messages are this machine's; the doc names files only.
    for (size_t at; (at = detail.find(dir.string() + "/")) != std::string::npos;)
      detail.erase(at, dir.string().size() + 1);
    for (char& c : detail)
      if (c == '|' || c == '\n') c = ' ';
    doc += "| `" + std::string(e.file) + "` | " + version + " | " +
           (o.ok ? o.result : "FAILS: " + o.result) + " | " + e.reason + ": " + detail + " |\n";
  }
  doc +=
      "\nThe `joblib-format/` folder holds joblib's own container test files (numpy arrays, "
      "no estimator, joblib 0.9.2 to 1.6, every compression); `joblib_test` reads each of them "
      "and checks the arrays.\n";
  if (const char* out = std::getenv("TIFFIN_COMPAT_DOC")) {
    // Sections other importers keep after this table ("\n## ...") stay.
    std::string tail;
    {
      std::ifstream in(out);
      std::string old((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const size_t at = old.find("\n## ");
      if (at != std::string::npos) tail = old.substr(at);
    }
    std::ofstream f(out);
    f << doc << tail;
  }
}

// The sklearn-onnx test models of the same cases, converted to ONNX-ML by
// OnnxMLTools/skl2onnx with a ZipMap output (returned by tiffin as the [N, K]
// probability tensor): run on the same reference inputs, row by row when the
// model fixes its batch at 1. float32 models: labels exactly, probabilities
// to rtol 1e-4, atol 1e-6.
TEST(ExternalSklearn, ConvertedOnnxTwinsMatchTheReference) {
  const fs::path dir = SharedSklearn();
  const fs::path onnx_dir = dir / ".." / "onnx";
  if (!fs::exists(onnx_dir)) GTEST_SKIP() << "no shared fixtures";
  struct Twin {
    const char* stem;
    bool compare_second;  // the reference's second array is predict_proba
    // "NoCl" models were converted with skl2onnx's nocl option: they return
    // class indices, and scikit-learn's classes were "cl<index>".
    const char* label_prefix = "";
  };
  const Twin twins[] = {
      {"sklearn-onnx__2018__SklearnLogitisticRegressionBinary", true},
      {"sklearn-onnx__2018__SklearnMclDecisionTreeClassifier", true},
      // The reference's second array is 0.19's decision_function, which the
      // 2018 converter did not reproduce; labels only.
      {"sklearn-onnx__2018__SklearnMclSVCLinearPF", false},
      {"sklearn-onnx__2022__SklearnSGDMultiNoCl", true, "cl"},
  };
  for (const auto& t : twins) {
    SCOPED_TRACE(t.stem);
    auto model = LoadModel((onnx_dir / (std::string(t.stem) + ".model.onnx")).string());
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    auto x = ReadArrays(dir / (std::string(t.stem) + ".data.pkl"));
    auto want = ReadArrays(dir / (std::string(t.stem) + ".expected.pkl"));
    ASSERT_TRUE(x.ok() && want.ok());
    const Tensor xs = (*x)[0];
    const auto& in = (*model)->inputs()[0];
    const bool one_row = in.shape.size() == 2 && in.shape[0].fixed() && in.shape[0].value == 1;
    const int64_t rows = xs.dim(0), width = xs.dim(1);
    std::vector<Tensor> labels, probs;
    for (int64_t r0 = 0; r0 < rows; r0 += one_row ? 1 : rows) {
      const int64_t n = one_row ? 1 : rows;
      Tensor batch(DType::kFloat32, {n, width});
      for (int64_t i = 0; i < n * width; ++i)
        batch.data<float>()[i] = static_cast<float>(ElementAsDouble(xs, r0 * width + i));
      auto out = (*model)->Run({{in.name, batch}});
      ASSERT_TRUE(out.ok()) << out.status().ToString();
      labels.push_back((*out)[0]);
      probs.push_back((*out)[1]);
    }
    for (int64_t r = 0; r < rows; ++r) {
      const Tensor& l = labels[static_cast<size_t>(one_row ? r : 0)];
      EXPECT_EQ(t.label_prefix + LabelText(l, one_row ? 0 : r), LabelText((*want)[0], r))
          << "row " << r;
    }
    if (!t.compare_second) continue;
    const Tensor& w1 = (*want)[1];
    const int64_t k = w1.dim(1);
    for (int64_t r = 0; r < rows; ++r) {
      const Tensor& p = probs[static_cast<size_t>(one_row ? r : 0)];
      for (int64_t c = 0; c < k; ++c) {
        const double got = ElementAsDouble(p, (one_row ? 0 : r) * k + c),
                     expect = ElementAsDouble(w1, r * k + c);
        EXPECT_NEAR(got, expect, 1e-6 + 1e-4 * std::abs(expect)) << "row " << r << " class " << c;
      }
    }
  }
}

}  // namespace
}  // namespace tiffin
