// Differential tests against PyTorch: every folder under tests/golden/torch
// holds a model exported by torch.onnx.export, its input and PyTorch's
// outputs (tests/golden/gen/gen_torch.py). tiffin must match to rtol 1e-4,
// atol 1e-5 (float32 accumulation order differs between BLAS libraries, so
// an absolute floor is needed for outputs near zero).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "importers/onnx/tensor_proto.h"
#include "io/tensor_io.h"
#include "tiffin/model.h"

namespace tiffin {
namespace {

namespace fs = std::filesystem;

constexpr double kRtol = 1e-4;
constexpr double kAtol = 1e-5;

fs::path SourceDir() {
  const char* env = std::getenv("TIFFIN_SOURCE_DIR");
  return env ? fs::path(env) : fs::path(TIFFIN_SOURCE_DIR_DEFAULT);
}

Tensor ReadNpy(const fs::path& p) {
  auto bytes = onnx_import::ReadFileBytes(p.string(), size_t{1} << 30);
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto t = io::ParseNpy(*bytes);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return *t;
}

// Rows [begin, begin+1) of a tensor along axis 0.
Tensor Row(const Tensor& t, int64_t r) {
  Shape s = t.shape();
  s[0] = 1;
  Tensor out(t.dtype(), s);
  const size_t row_bytes = t.nbytes() / static_cast<size_t>(t.dim(0));
  std::memcpy(out.raw_data(), static_cast<const char*>(t.raw_data()) + row_bytes * r, row_bytes);
  return out;
}

void ExpectClose(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.dtype(), DType::kFloat32) << what;
  ASSERT_EQ(got.shape(), want.shape()) << what;
  double max_err = 0;
  for (int64_t i = 0; i < want.size(); ++i) {
    double g = got.data<float>()[i], w = want.data<float>()[i];
    double err = std::fabs(g - w);
    max_err = std::max(max_err, err);
    ASSERT_LE(err, kAtol + kRtol * std::fabs(w))
        << what << " element " << i << ": got " << g << ", expected " << w;
  }
  std::printf("  %-40s max abs err %.3g\n", what.c_str(), max_err);
}

class TorchGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(TorchGolden, MatchesPyTorch) {
  fs::path dir = SourceDir() / "tests/golden/torch" / GetParam();
  auto model = LoadModel((dir / "model.onnx").string());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  Tensor input = ReadNpy(dir / "input_0.npy");
  const std::string in_name = (*model)->inputs()[0].name;
  auto out = (*model)->Run({{in_name, input}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  std::vector<Tensor> expected;
  for (int i = 0; fs::exists(dir / ("expected_" + std::to_string(i) + ".npy")); ++i)
    expected.push_back(ReadNpy(dir / ("expected_" + std::to_string(i) + ".npy")));
  ASSERT_EQ(out->size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i)
    ExpectClose((*out)[i], expected[i], GetParam() + " output " + std::to_string(i));

  // The batch dim is dynamic: each row alone must give that row's outputs.
  // Running twice per shape also exercises the planned (arena) path.
  for (int pass = 0; pass < 2; ++pass) {
    for (int64_t r = 0; r < input.dim(0); ++r) {
      auto row_out = (*model)->Run({{in_name, Row(input, r)}});
      ASSERT_TRUE(row_out.ok()) << row_out.status().ToString();
      for (size_t i = 0; i < expected.size(); ++i) {
        ExpectClose((*row_out)[i], Row(expected[i], r),
                    GetParam() + " row " + std::to_string(r) + " output " + std::to_string(i));
      }
    }
  }
}

std::vector<std::string> GoldenCases() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(SourceDir() / "tests/golden/torch"))
    if (e.is_directory()) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

INSTANTIATE_TEST_SUITE_P(Torch, TorchGolden, ::testing::ValuesIn(GoldenCases()),
                         [](const auto& p) { return p.param; });

// The shipped expected outputs of ONNX's backend tests and of PyTorch's
// converted-module tests in shared/fixtures/external/onnx.
class ExternalOnnx : public ::testing::TestWithParam<std::string> {};

TEST_P(ExternalOnnx, MatchesShippedOutputs) {
  fs::path dir = SourceDir() / "../shared/fixtures/external/onnx" / GetParam();
  auto model = LoadModel((dir / "model.onnx").string());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  for (const auto& set : fs::directory_iterator(dir)) {
    if (!set.is_directory()) continue;
    std::vector<NamedTensor> feeds;
    for (size_t i = 0; fs::exists(set.path() / ("input_" + std::to_string(i) + ".pb")); ++i) {
      auto t = onnx_import::ReadTensorProtoFile(
          (set.path() / ("input_" + std::to_string(i) + ".pb")).string());
      ASSERT_TRUE(t.ok()) << t.status().ToString();
      ASSERT_LT(i, (*model)->inputs().size());
      feeds.push_back({(*model)->inputs()[i].name, *t});
    }
    auto out = (*model)->Run(feeds);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    for (size_t i = 0; fs::exists(set.path() / ("output_" + std::to_string(i) + ".pb")); ++i) {
      auto want = onnx_import::ReadTensorProtoFile(
          (set.path() / ("output_" + std::to_string(i) + ".pb")).string());
      ASSERT_TRUE(want.ok()) << want.status().ToString();
      ASSERT_LT(i, out->size());
      const Tensor& got = (*out)[i];
      ASSERT_EQ(got.dtype(), want->dtype());
      ASSERT_EQ(got.shape(), want->shape());
      for (int64_t k = 0; k < want->size(); ++k) {
        double g, w;
        if (want->dtype() == DType::kFloat16) {
          g = static_cast<float>(got.data<Float16>()[k]);
          w = static_cast<float>(want->data<Float16>()[k]);
        } else if (want->dtype() == DType::kFloat32) {
          g = got.data<float>()[k];
          w = want->data<float>()[k];
        } else if (want->dtype() == DType::kUInt8) {
          g = got.data<uint8_t>()[k];
          w = want->data<uint8_t>()[k];
        } else {
          FAIL() << "unexpected dtype in fixture";
        }
        if (std::isnan(w) || std::isinf(w)) {
          ASSERT_TRUE(std::isnan(w) ? std::isnan(g) : g == w) << "output " << i << " element " << k;
          continue;
        }
        ASSERT_LE(std::fabs(g - w), 1e-7 + 1e-3 * std::fabs(w))
            << "output " << i << " element " << k;
      }
    }
  }
}

std::vector<std::string> ExternalCases() {
  std::vector<std::string> names;
  fs::path root = SourceDir() / "../shared/fixtures/external/onnx";
  if (!fs::exists(root)) return names;
  for (const auto& e : fs::directory_iterator(root)) {
    std::string n = e.path().filename().string();
    if (e.is_directory() &&
        (n.rfind("onnx-backend-node__", 0) == 0 || n.rfind("onnx-pytorch-converted__", 0) == 0))
      names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  return names;
}

INSTANTIATE_TEST_SUITE_P(Shared, ExternalOnnx, ::testing::ValuesIn(ExternalCases()),
                         [](const auto& p) {
                           std::string s = p.param;
                           for (auto& c : s)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return s;
                         });

}  // namespace
}  // namespace tiffin
