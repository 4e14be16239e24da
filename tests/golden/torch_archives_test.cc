// torch.save files written by Debian's torch (tests/golden/gen/
// gen_torch_archives.py), read back by tiffin and compared bit for bit with
// the tensors torch itself held (written as .npy by the same script).
// Scripted Sequentials predict like torch (rtol 1e-5); other TorchScript and
// the hostile corpus are refused, naming the reason.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "importers/torch/torch_archive.h"
#include "io/tensor_io.h"
#include "tiffin/model.h"

namespace tiffin::torch_import {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path FixtureDir() {
  const char* env = std::getenv("TIFFIN_TORCH_FIXTURES");
  return env ? fs::path(env) : fs::path(TIFFIN_TORCH_FIXTURES_DEFAULT);
}

std::string ReadFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  EXPECT_TRUE(f.good()) << "missing fixture " << p
                        << " (run tests/golden/gen/gen_torch_archives.py)";
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class TorchArchives : public ::testing::Test {
 protected:
  void SetUp() override {
    json_ = simdjson::padded_string(ReadFile(FixtureDir() / "index.json"));
    doc_ = parser_.parse(json_);
  }
  simdjson::padded_string json_;
  simdjson::dom::parser parser_;
  simdjson::dom::element doc_;
};

TEST_F(TorchArchives, EveryTensorBitExact) {
  int files = 0, tensors = 0;
  for (simdjson::dom::element c : doc_["cases"].get_array()) {
    const std::string name(c["name"].get_string().value());
    for (simdjson::dom::element f : c["files"].get_array()) {
      const fs::path path = FixtureDir() / "cases" / name / std::string(f.get_string().value());
      auto a = ReadTorchFile(path.string());
      ASSERT_TRUE(a.ok()) << path << ": " << a.status().ToString();
      ++files;
      simdjson::dom::array expected = c["tensors"].get_array();
      ASSERT_EQ(a->tensors.size(), expected.size()) << path;
      EXPECT_EQ(a->is_state_dict, c["state_dict"].get_bool().value()) << path;
      size_t i = 0;
      for (simdjson::dom::element e : expected) {
        const TorchTensor& t = a->tensors[i++];
        EXPECT_EQ(t.name, std::string(e["name"].get_string().value())) << path;
        EXPECT_EQ(t.torch_dtype, std::string(e["torch_dtype"].get_string().value()))
            << path << " " << t.name;
        EXPECT_EQ(t.is_parameter, e["parameter"].get_bool().value()) << path << " " << t.name;
        auto npy = io::ParseNpy(
            ReadFile(FixtureDir() / "cases" / name / std::string(e["file"].get_string().value())));
        ASSERT_TRUE(npy.ok()) << npy.status().ToString();
        ASSERT_EQ(t.tensor.dtype(), npy->dtype()) << path << " " << t.name;
        ASSERT_EQ(t.tensor.shape(), npy->shape()) << path << " " << t.name;
        ASSERT_EQ(t.tensor.nbytes(), npy->nbytes());
        EXPECT_EQ(std::memcmp(t.tensor.raw_data(), npy->raw_data(), npy->nbytes()), 0)
            << path << " " << t.name << " differs from what torch saved";
        ++tensors;
      }
    }
  }
  EXPECT_GE(files, 12);
  std::printf("compared %d tensors in %d files bit for bit\n", tensors, files);
}

TEST_F(TorchArchives, ScriptedSequentialsPredictLikeTorch) {
  int n = 0;
  for (simdjson::dom::element c : doc_["script"]["converted"].get_array()) {
    const fs::path dir = FixtureDir() / "script";
    const std::string f(c["file"].get_string().value());
    auto model = LoadModel((dir / f).string());
    ASSERT_TRUE(model.ok()) << f << ": " << model.status().ToString();
    auto x = io::ParseNpy(ReadFile(dir / std::string(c["input"].get_string().value())));
    auto want = io::ParseNpy(ReadFile(dir / std::string(c["expected"].get_string().value())));
    ASSERT_TRUE(x.ok() && want.ok());
    auto got = (*model)->Run({{"input", *x}});
    ASSERT_TRUE(got.ok()) << f << ": " << got.status().ToString();
    ASSERT_EQ((*got)[0].shape(), want->shape()) << f;
    const double rtol = c["rtol"].get_double().value(), atol = c["atol"].get_double().value();
    double worst = 0;
    for (int64_t i = 0; i < want->size(); ++i) {
      const double a = ElementAsDouble((*got)[0], i), b = ElementAsDouble(*want, i);
      EXPECT_LE(std::fabs(a - b), atol + rtol * std::fabs(b)) << f << " element " << i;
      worst = std::max(worst, std::fabs(a - b));
    }
    std::printf("%s: largest |tiffin - torch| = %.3g over %lld values\n", f.c_str(), worst,
                static_cast<long long>(want->size()));
    ++n;
  }
  EXPECT_GE(n, 4);
}

TEST_F(TorchArchives, OtherTorchScriptIsRefusedWithAdvice) {
  int n = 0;
  for (simdjson::dom::element c : doc_["script"]["refused"].get_array()) {
    const std::string f(c["file"].get_string().value());
    auto model = LoadModel((FixtureDir() / "script" / f).string());
    ASSERT_FALSE(model.ok()) << f << " was converted";
    EXPECT_EQ(model.status().code(), StatusCode::kNotSupported) << f;
    EXPECT_THAT(model.status().message(), HasSubstr(std::string(c["expect"].get_string().value())))
        << f;
    EXPECT_THAT(model.status().message(), HasSubstr("torch.onnx.export")) << f;
    ++n;
  }
  EXPECT_GE(n, 4);
}

TEST_F(TorchArchives, HostileCorpusIsRefused) {
  int n = 0;
  for (simdjson::dom::element h : doc_["hostile"].get_array()) {
    const std::string f(h["file"].get_string().value());
    auto a = ReadTorchFile((FixtureDir() / "hostile" / f).string());
    ASSERT_FALSE(a.ok()) << f << " was read";
    EXPECT_THAT(a.status().message(), HasSubstr(std::string(h["expect"].get_string().value())))
        << f;
    std::string_view marker;
    if (h["marker"].get(marker) == simdjson::SUCCESS) {
      EXPECT_FALSE(fs::exists(std::string(marker))) << f << " ran its payload";
    }
    ++n;
  }
  EXPECT_GE(n, 6);
}

}  // namespace
}  // namespace tiffin::torch_import
