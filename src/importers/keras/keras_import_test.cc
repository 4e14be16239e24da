// The Keras importer against the external files (../shared/fixtures/
// external/keras: the hls4ml test benches ship Keras' own predictions), the
// generated differential cases (build/keras-fixtures, from
// tests/golden/gen/gen_keras.py: Keras-layout files whose weights come from
// an equivalent torch model, compared with torch's outputs) and hostile
// files (refused with a message naming the problem).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "importers/keras/h5.h"
#include "tiffin/model.h"

namespace tiffin {
namespace {

namespace fs = std::filesystem;

fs::path SourceDir() {
  const char* src = std::getenv("TIFFIN_SOURCE_DIR");
  return fs::path(src ? src : TIFFIN_SOURCE_DIR_DEFAULT);
}

fs::path ExternalDir() {
  fs::path dir = SourceDir() / "../shared/fixtures/external/keras";
  if (!fs::exists(dir)) dir = "/work/shared/fixtures/external/keras";
  return dir;
}

fs::path GeneratedDir() {
  const char* d = std::getenv("TIFFIN_KERAS_FIXTURES");
  return fs::path(d ? d : TIFFIN_KERAS_FIXTURES_DEFAULT);
}

std::vector<std::vector<double>> ReadDat(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::vector<double>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::vector<double> row;
    double v;
    while (ls >> v) row.push_back(v);
    if (!row.empty()) rows.push_back(row);
  }
  return rows;
}

// |got - want| <= atol + rtol * |want|, element by element.
void ExpectClose(const Tensor& got, const std::vector<double>& want, double rtol, double atol,
                 const std::string& what) {
  ASSERT_EQ(got.size(), static_cast<int64_t>(want.size())) << what;
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double g = got.data<float>()[i];
    const double err = std::abs(g - want[i]);
    worst = std::max(worst, err / (atol + rtol * std::abs(want[i])));
    ASSERT_LE(err, atol + rtol * std::abs(want[i]))
        << what << " element " << i << ": " << g << " vs " << want[i];
  }
  std::printf("  %s: worst error %.3g of tolerance\n", what.c_str(), worst);
}

struct External {
  const char* model;
  const char* config;  // architecture JSON or nullptr
  const char* inputs;  // .dat or nullptr
  const char* outputs;
};

// hls4ml writes inputs and Keras' predictions as text, one sample a line.
// Tolerance: rtol 1e-5, atol 1e-6 (the .dat files hold 8 to 17 digits).
TEST(KerasExternal, PredictionsMatchShippedOutputs) {
  const External cases[] = {
      {"hls4ml__prjs_relu.h5", nullptr, "hls4ml__prjs_relu.tb_input_features.dat",
       "hls4ml__prjs_relu.tb_output_predictions.dat"},
      {"hls4ml__prjs_softmax.h5", nullptr, "hls4ml__prjs_softmax.tb_input_features.dat",
       "hls4ml__prjs_softmax.tb_output_predictions.dat"},
      {"hls4ml__prjs_prelu.h5", nullptr, "hls4ml__prjs_prelu.tb_input_features.dat",
       "hls4ml__prjs_prelu.tb_output_predictions.dat"},
      {"hls4ml__prjs_conv1d_1layer.h5", nullptr, "hls4ml__prjs_conv1d_1layer.tb_input_features.dat",
       "hls4ml__prjs_conv1d_1layer.tb_output_predictions.dat"},
      {"hls4ml__prjs_conv2d_1layer.h5", nullptr, "hls4ml__prjs_conv2d_1layer.tb_input_features.dat",
       "hls4ml__prjs_conv2d_1layer.tb_output_predictions.dat"},
      {"hls4ml__models_KERAS_mnist_mlp_weights.h5", "hls4ml__models_KERAS_mnist_mlp.json",
       "hls4ml__models_KERAS_mnist_mlp_inputs.dat", "hls4ml__models_KERAS_mnist_mlp_outputs.dat"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.model);
    LoadOptions o;
    if (c.config) o.config_path = (ExternalDir() / c.config).string();
    auto model = LoadModel((ExternalDir() / c.model).string(), o);
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    const auto& in = (*model)->inputs()[0];
    auto xs = ReadDat(ExternalDir() / c.inputs);
    auto ys = ReadDat(ExternalDir() / c.outputs);
    ASSERT_EQ(xs.size(), ys.size());
    ASSERT_FALSE(xs.empty());
    for (size_t r = 0; r < xs.size(); ++r) {
      Shape shape = {1};
      for (size_t k = 1; k < in.shape.size(); ++k) shape.push_back(in.shape[k].value);
      std::vector<float> xf(xs[r].begin(), xs[r].end());
      Tensor x = Tensor::FromVector(xf, shape);
      auto out = (*model)->Run({{in.name, x}});
      ASSERT_TRUE(out.ok()) << out.status().ToString();
      ExpectClose((*out)[0], ys[r], 1e-5, 1e-6, std::string(c.model) + " row " + std::to_string(r));
    }
  }
}

// Files with no shipped outputs: they load (the generated cases check the
// same layers' math), or are refused with the reason.
TEST(KerasExternal, EveryOtherFileLoadsOrIsRefusedByName) {
  const struct {
    const char* model;
    const char* config;
    const char* refusal;  // nullptr: loads
  } cases[] = {
      {"hls4ml__models_KERAS_3layer_weights.h5", "hls4ml__models_KERAS_3layer.json", nullptr},
      {"hls4ml__models_KERAS_conv1d_small_weights.h5", "hls4ml__models_KERAS_conv1d_small.json",
       nullptr},
      {"hls4ml__models_KERAS_lstm_model_weights.h5", "hls4ml__models_KERAS_lstm_model.json",
       nullptr},
      {"hls4ml__models_KERAS_gru_model_weights.h5", "hls4ml__models_KERAS_gru_model.json", nullptr},
      {"hls4ml__models_KERAS_lstm_model_weights.h5", nullptr, nullptr},
      {"hls4ml__experiments_mlp_streaming__keras_model.keras", nullptr, nullptr},
      {"sagemaker-python-sdk__mlflow_tensorflow__model.keras", nullptr, nullptr},
      {"hls4ml__models_QKERAS_3layer.h5", nullptr, "'QDense'"},
      {"hls4ml__models_KERAS_3layer_weights.h5", nullptr, "--config"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.model);
    LoadOptions o;
    if (c.config) o.config_path = (ExternalDir() / c.config).string();
    auto model = LoadModel((ExternalDir() / c.model).string(), o);
    if (!c.refusal) {
      ASSERT_TRUE(model.ok()) << model.status().ToString();
      // One row of zeros runs.
      const auto& in = (*model)->inputs()[0];
      Shape shape = {1};
      for (size_t k = 1; k < in.shape.size(); ++k) shape.push_back(in.shape[k].value);
      auto out = (*model)->Run({{in.name, Tensor(DType::kFloat32, shape)}});
      ASSERT_TRUE(out.ok()) << out.status().ToString();
    } else {
      ASSERT_FALSE(model.ok());
      EXPECT_NE(model.status().message().find(c.refusal), std::string::npos)
          << model.status().ToString();
    }
  }
}

// convert writes the same graph LoadModel runs: the ONNX file predicts what
// the .h5 predicts (weights-only file + --config here).
TEST(KerasExternal, ConvertedOnnxPredictsTheSame) {
  LoadOptions o;
  o.config_path = (ExternalDir() / "hls4ml__models_KERAS_conv1d_small.json").string();
  const std::string h5 = (ExternalDir() / "hls4ml__models_KERAS_conv1d_small_weights.h5").string();
  const fs::path onnx = fs::temp_directory_path() / "tiffin_keras_conv1d_small.onnx";
  ASSERT_TRUE(ConvertToOnnx(h5, onnx.string(), o).ok());
  auto a = LoadModel(h5, o);
  auto b = LoadOnnxFile(onnx.string());
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const auto& in = (*a)->inputs()[0];
  Shape shape = {2};
  for (size_t k = 1; k < in.shape.size(); ++k) shape.push_back(in.shape[k].value);
  Tensor x(DType::kFloat32, shape);
  for (int64_t i = 0; i < x.size(); ++i)
    x.data<float>()[i] = static_cast<float>(i % 7) * 0.25f - 0.5f;
  auto ya = (*a)->Run({{in.name, x}});
  auto yb = (*b)->Run({{(*b)->inputs()[0].name, x}});
  ASSERT_TRUE(ya.ok() && yb.ok());
  std::vector<double> want((*ya)[0].data<float>(), (*ya)[0].data<float>() + (*ya)[0].size());
  ExpectClose((*yb)[0], want, 0, 0, "converted conv1d_small");
  fs::remove(onnx);
}

Tensor ReadBin(const fs::path& p, const Shape& shape) {
  std::ifstream in(p, std::ios::binary);
  Tensor t(DType::kFloat32, shape);
  in.read(static_cast<char*>(t.raw_data()), static_cast<std::streamsize>(t.nbytes()));
  return t;
}

Shape ParseShape(const std::string& s) {
  Shape out;
  std::stringstream ss(s);
  std::string d;
  while (std::getline(ss, d, ',')) out.push_back(std::stoll(d));
  return out;
}

// cases.txt, one case a line:
//   NAME MODEL CONFIG|- RTOL ATOL NIN (INPUT SHAPE FILE)... NOUT (SHAPE FILE)...
TEST(KerasGenerated, PredictionsMatchTorch) {
  const fs::path dir = GeneratedDir();
  std::ifstream list(dir / "cases.txt");
  if (!list) GTEST_SKIP() << "no " << (dir / "cases.txt") << " (run make keras-fixtures)";
  std::string line;
  int n = 0;
  while (std::getline(list, line)) {
    std::istringstream ls(line);
    std::string name, model_file, config;
    double rtol, atol;
    size_t nin, nout;
    ls >> name >> model_file >> config >> rtol >> atol >> nin;
    SCOPED_TRACE(name);
    LoadOptions o;
    if (config != "-") o.config_path = (dir / config).string();
    auto model = LoadModel((dir / model_file).string(), o);
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    std::vector<NamedTensor> ins;
    for (size_t i = 0; i < nin; ++i) {
      std::string in_name, shape, file;
      ls >> in_name >> shape >> file;
      ins.push_back({in_name, ReadBin(dir / file, ParseShape(shape))});
    }
    auto out = (*model)->Run(ins);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ls >> nout;
    ASSERT_EQ(out->size(), nout);
    for (size_t i = 0; i < nout; ++i) {
      std::string shape, file;
      ls >> shape >> file;
      Tensor want = ReadBin(dir / file, ParseShape(shape));
      EXPECT_EQ((*out)[i].shape(), want.shape());
      std::vector<double> w(want.data<float>(), want.data<float>() + want.size());
      ExpectClose((*out)[i], w, rtol, atol, name + " output " + std::to_string(i));
    }
    ++n;
  }
  std::printf("%d generated Keras cases matched torch\n", n);
  EXPECT_GT(n, 0);
}

// hostile.txt: FILE<TAB>CONFIG|-<TAB>expected words of the refusal.
TEST(KerasGenerated, HostileFilesAreRefusedByName) {
  const fs::path dir = GeneratedDir();
  std::ifstream list(dir / "hostile.txt");
  if (!list) GTEST_SKIP() << "no " << (dir / "hostile.txt") << " (run make keras-fixtures)";
  std::string line;
  int n = 0;
  while (std::getline(list, line)) {
    const auto t1 = line.find('\t'), t2 = line.find('\t', t1 + 1);
    const std::string file = line.substr(0, t1), config = line.substr(t1 + 1, t2 - t1 - 1),
                      want = line.substr(t2 + 1);
    SCOPED_TRACE(file);
    LoadOptions o;
    if (config != "-") o.config_path = (dir / config).string();
    auto model = LoadModel((dir / file).string(), o);
    ASSERT_FALSE(model.ok()) << file << " loaded";
    EXPECT_NE(model.status().message().find(want), std::string::npos) << model.status().ToString();
    ++n;
  }
  EXPECT_GT(n, 0);
}

}  // namespace
}  // namespace tiffin

namespace tiffin {
namespace {

// Files on which Debian's libhdf5 1.10 loops, crashes or over-allocates
// (found by fuzz_keras_file; fuzz/known_libhdf5_bugs/README.md). libhdf5
// runs in a child process, so each is an error naming the damage, and this
// process lives on.
TEST(KerasHdf5Isolation, LibHdf5CrashesAndLoopsAreErrors) {
  const fs::path dir = SourceDir() / "fuzz" / "known_libhdf5_bugs";
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".h5") continue;
    SCOPED_TRACE(e.path().filename().string());
    std::ifstream in(e.path(), std::ios::binary);
    const std::string image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto start = std::chrono::steady_clock::now();
    auto r = keras::ReadLegacyH5(image, size_t{1} << 30, /*timeout_ms=*/2000);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_FALSE(r.ok()) << "a damaged file read as valid";
    EXPECT_TRUE(r.status().code() == StatusCode::kDataLoss ||
                r.status().code() == StatusCode::kInvalidArgument)
        << r.status().ToString();
    EXPECT_LT(seconds, 10.0) << r.status().ToString();
    ++n;
  }
  EXPECT_GE(n, 4);
  // The looping one is cut off by the time limit, the crashing one by its signal.
  std::ifstream loop(dir / "libhdf5_1.10_H5HG_read_loop.h5", std::ios::binary);
  const std::string image((std::istreambuf_iterator<char>(loop)), std::istreambuf_iterator<char>());
  auto r = keras::ReadLegacyH5(image, size_t{1} << 30, /*timeout_ms=*/1000);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("did not finish"), std::string::npos)
      << r.status().ToString();
  std::ifstream crash(dir / "libhdf5_1.10_H5HG_read_memcpy.h5", std::ios::binary);
  const std::string image2((std::istreambuf_iterator<char>(crash)),
                           std::istreambuf_iterator<char>());
  r = keras::ReadLegacyH5(image2, size_t{1} << 30, /*timeout_ms=*/5000);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("crashed"), std::string::npos) << r.status().ToString();
}

// A good file still reads through the child: every weight arrives intact.
TEST(KerasHdf5Isolation, GoodFileReadsThroughTheChild) {
  const fs::path f =
      SourceDir() / "../shared/fixtures/external/keras/hls4ml__models_KERAS_3layer_weights.h5";
  if (!fs::exists(f)) GTEST_SKIP() << "no shared fixtures";
  std::ifstream in(f, std::ios::binary);
  const std::string image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto r = keras::ReadLegacyH5(image, size_t{1} << 30);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_FALSE(r->layers.empty());
  int64_t params = 0;
  for (const auto& [name, lw] : r->layers) {
    EXPECT_EQ(lw.names.size(), lw.values.size()) << name;
    for (const auto& t : lw.values) params += t.size();
  }
  EXPECT_GT(params, 0);
}

}  // namespace
}  // namespace tiffin
