// The external PyTorch files (../shared/fixtures/external/torch): each one's
// stated outcome. The files torch writes itself are compared tensor by tensor
// in tests/golden/torch_archives_test.cc.
#include "importers/torch/torch_archive.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>

namespace tiffin::torch_import {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path ExternalDir() {
  const char* env = std::getenv("TIFFIN_SOURCE_DIR");
  fs::path src = env ? fs::path(env) : fs::path(TIFFIN_SOURCE_DIR_DEFAULT);
  return src / "../shared/fixtures/external/torch";
}

std::map<std::string, const TorchTensor*> ByName(const TorchArchive& a) {
  std::map<std::string, const TorchTensor*> m;
  for (const auto& t : a.tensors) m[t.name] = &t;
  return m;
}

TEST(TorchExternal, ZipStateDictLinear) {
  auto a = ReadTorchFile((ExternalDir() / "burn__linear.pt").string());
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->format, "torch.save zip");
  EXPECT_EQ(a->record, "linear");
  EXPECT_TRUE(a->is_state_dict);
  auto m = ByName(*a);
  ASSERT_EQ(a->tensors.size(), 3u);  // fc2 has no bias
  ASSERT_TRUE(m.count("fc1.weight"));
  EXPECT_EQ(m["fc1.weight"]->torch_dtype, "float32");
}

TEST(TorchExternal, BatchNormHasInt64Counter) {
  auto a = ReadTorchFile((ExternalDir() / "burn__batch_norm2d.pt").string());
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  bool found = false;
  for (const auto& t : a->tensors) {
    if (t.name.find("num_batches_tracked") != std::string::npos) {
      found = true;
      EXPECT_EQ(t.tensor.dtype(), DType::kInt64);
      EXPECT_TRUE(t.tensor.shape().empty());
    }
  }
  EXPECT_TRUE(found);
}

TEST(TorchExternal, HalfAndBFloat16) {
  auto h = ReadTorchFile((ExternalDir() / "burn__reader_float16.pt").string());
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_FALSE(h->tensors.empty());
  EXPECT_EQ(h->tensors[0].tensor.dtype(), DType::kFloat16);
  auto b = ReadTorchFile((ExternalDir() / "burn__reader_bfloat16.pt").string());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_FALSE(b->tensors.empty());
  EXPECT_EQ(b->tensors[0].torch_dtype, "bfloat16");
  EXPECT_EQ(b->tensors[0].tensor.dtype(), DType::kFloat32);
  ASSERT_FALSE(b->notes.empty());
  EXPECT_THAT(b->notes[0], HasSubstr("widened"));
}

TEST(TorchExternal, LegacyFiles) {
  for (const char* f : {"burn__reader_simple_legacy.pt", "burn__reader_legacy_shared_storage.pt",
                        "hls4ml__graph_model_1iteration.pt"}) {
    auto a = ReadTorchFile((ExternalDir() / f).string());
    ASSERT_TRUE(a.ok()) << f << ": " << a.status().ToString();
    EXPECT_EQ(a->format, "torch.save legacy") << f;
    EXPECT_FALSE(a->tensors.empty()) << f;
  }
}

TEST(TorchExternal, WholeModulePickleIsRefusedByClass) {
  auto a = ReadTorchFile((ExternalDir() / "hls4ml__three_layer_model.pt").string());
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(a.status().message(), HasSubstr("torch.nn.modules.container.Sequential"));
  EXPECT_THAT(a.status().message(), HasSubstr("state_dict"));
}

TEST(TorchExternal, TorchScriptIsRefused) {
  for (const char* f :
       {"tch-rs__foo.pt", "tch-rs__foo2.pt", "tch-rs__foo3.pt", "tch-rs__foo_2019.pt"}) {
    auto a = ReadTorchFile((ExternalDir() / f).string());
    ASSERT_FALSE(a.ok()) << f;
    EXPECT_EQ(a.status().code(), StatusCode::kNotSupported) << f;
    EXPECT_THAT(a.status().message(), HasSubstr("TorchScript")) << f;
    EXPECT_THAT(a.status().message(), HasSubstr("torch.onnx.export")) << f;
  }
  auto a = ReadTorchFile((ExternalDir() / "tch-rs__foo.pt").string());
  EXPECT_THAT(a.status().message(), HasSubstr("__torch__.Foo"));
}

TEST(TorchExternal, BrokenFile) {
  auto a = ReadTorchFile((ExternalDir() / "burn__reader_broken.pt").string());
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.status().message(), HasSubstr("not a PyTorch file"));
}

TEST(TorchBytes, Garbage) {
  EXPECT_EQ(DetectTorchBytes("abc"), TorchFileKind::kNone);
  EXPECT_FALSE(ReadTorchBytes(std::string("PK\x03\x04garbage", 11)).ok());
}

}  // namespace
}  // namespace tiffin::torch_import
