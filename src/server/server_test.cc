// The server's model repository and batcher, without HTTP: version policies,
// atomic swaps that keep a failed version's predecessor serving, labels,
// unload, and the batcher handing every concurrent request its own rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "server/batcher.h"
#include "server/model_config.h"
#include "server/repository.h"
#include "server/service.h"
#include "server/tf_serving.h"

namespace tiffin::server {
namespace {

namespace fs = std::filesystem;

std::string SourceDir() {
  const char* env = std::getenv("TIFFIN_SOURCE_DIR");
  return env ? env : TIFFIN_SOURCE_DIR_DEFAULT;
}

class RepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("tiffin_repo_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  void AddVersion(const std::string& model, int v) {
    fs::create_directories(root_ / model / std::to_string(v));
    fs::copy_file(SourceDir() + "/examples/iris_mlp/model.onnx",
                  root_ / model / std::to_string(v) / "model.onnx");
  }
  void AddBroken(const std::string& model, int v) {
    fs::create_directories(root_ / model / std::to_string(v));
    std::ofstream(root_ / model / std::to_string(v) / "model.onnx") << "not a model";
  }
  fs::path root_;
};

TEST(VersionPolicy, Parses) {
  EXPECT_EQ(ParseVersionPolicy("latest")->latest, 1);
  EXPECT_EQ(ParseVersionPolicy("latest:3")->latest, 3);
  EXPECT_EQ(ParseVersionPolicy("all")->kind, VersionPolicy::kAll);
  auto s = ParseVersionPolicy("specific:1,3");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->specific, (std::vector<int64_t>{1, 3}));
  EXPECT_FALSE(ParseVersionPolicy("latest:0").ok());
  EXPECT_FALSE(ParseVersionPolicy("specific:").ok());
  EXPECT_FALSE(ParseVersionPolicy("newest").ok());
}

TEST_F(RepositoryTest, LatestServesAndAFailedVersionKeepsThePreviousOne) {
  AddVersion("m", 1);
  AddVersion("m", 2);
  RepositoryOptions o;
  o.path = root_.string();
  o.labels["m"]["stable"] = 1;
  Repository repo(o);
  ASSERT_TRUE(repo.Init().ok());
  auto latest = repo.Find("m", "", "");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ((*latest)->version, 2);
  EXPECT_FALSE(repo.Find("m", "1", "").ok());  // latest:1 serves only 2
  EXPECT_EQ(repo.Find("m", "7", "").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(repo.Find("nope", "", "").status().code(), StatusCode::kNotFound);

  AddBroken("m", 3);
  EXPECT_TRUE(repo.Load("m").ok());  // 3 fails, 2 keeps serving
  auto state = repo.Get("m");
  EXPECT_EQ(state->versions.count(2), 1u);
  ASSERT_EQ(state->failed.count(3), 1u);
  EXPECT_NE(state->reason().find("version 3"), std::string::npos) << state->reason();
  // The same version object (not a reload) serves on.
  EXPECT_EQ(repo.Find("m", "", "")->get(), latest->get());

  AddVersion("n", 1);
  EXPECT_TRUE(repo.Load("n").ok());  // a model added after start
  EXPECT_TRUE(repo.Unload("n").ok());
  EXPECT_EQ(repo.Find("n", "", "").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(repo.AllReady());
}

TEST_F(RepositoryTest, AllPolicyAndLabels) {
  AddVersion("m", 1);
  AddVersion("m", 2);
  RepositoryOptions o;
  o.path = root_.string();
  o.policy.kind = VersionPolicy::kAll;
  o.labels["*"]["stable"] = 1;
  Repository repo(o);
  ASSERT_TRUE(repo.Init().ok());
  EXPECT_EQ(repo.Get("m")->versions.size(), 2u);
  EXPECT_EQ((*repo.Find("m", "", "stable"))->version, 1);
  EXPECT_FALSE(repo.Find("m", "", "canary").ok());
}

TEST_F(RepositoryTest, ASingleFileThatFailsIsAnError) {
  fs::create_directories(root_);
  std::ofstream(root_ / "bad.onnx") << "nope";
  RepositoryOptions o;
  o.path = (root_ / "bad.onnx").string();
  Repository repo(o);
  EXPECT_FALSE(repo.Init().ok());
  RepositoryOptions missing;
  missing.path = (root_ / "absent").string();
  Repository repo2(missing);
  EXPECT_EQ(repo2.Init().code(), StatusCode::kNotFound);
}

TEST_F(RepositoryTest, BatcherGivesEveryRequestItsOwnRows) {
  AddVersion("m", 1);
  RepositoryOptions o;
  o.path = root_.string();
  o.batching = {16, 2000};
  Repository repo(o);
  ASSERT_TRUE(repo.Init().ok());
  auto sv = *repo.Find("m", "", "");
  Batcher batcher;
  constexpr int kThreads = 8, kRequests = 40;
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRequests; ++r) {
        const int64_t rows = 1 + (t + r) % 3;
        Tensor x(DType::kFloat32, {rows, 4});
        for (int64_t i = 0; i < x.size(); ++i)
          x.data<float>()[i] = float(t * 0.5 + r * 0.01 + i * 0.1);
        auto alone = sv->model->Run({{"features", x}});
        std::chrono::steady_clock::time_point start;
        auto batched = batcher.Run(*sv, {{"features", x}}, &start);
        if (!alone.ok() || !batched.ok() || (*batched)[0].shape() != (*alone)[0].shape()) {
          ++wrong;
          continue;
        }
        for (int64_t i = 0; i < (*alone)[0].size(); ++i)
          // Kernels may block a 1-row and a 16-row product differently.
          if (std::abs((*alone)[0].data<float>()[i] - (*batched)[0].data<float>()[i]) > 1e-6f)
            ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  const auto& st = *sv->stats;
  EXPECT_LT(st.exec_count.load(), uint64_t{kThreads * kRequests});  // some batches formed
  EXPECT_GT(st.batched_requests.load(), 0u);
}

TEST(ModelConfig, ReadsTritonsFieldsOverTheFlags) {
  auto c = ParseModelConfig(R"(
    name: "m"
    max_batch_size: 8
    dynamic_batching { max_queue_delay_microseconds: 250 }
    version_policy { specific { versions: [1, 3] } }
    version_labels { key: "stable" value: 1 }
  )",
                            "config.pbtxt", {0, 77});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->name, "m");
  ASSERT_TRUE(c->batching);
  EXPECT_EQ(c->batching->max_batch_size, 8);
  EXPECT_EQ(c->batching->max_queue_delay_us, 250);
  ASSERT_TRUE(c->policy);
  EXPECT_EQ(c->policy->kind, VersionPolicy::kSpecific);
  EXPECT_EQ(c->policy->specific, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(c->labels.at("stable"), 1);
  EXPECT_TRUE(c->warnings.empty());

  auto latest = ParseModelConfig("version_policy: { latest: { num_versions: 2 } }", "c");
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  EXPECT_EQ(latest->policy->latest, 2);
  EXPECT_FALSE(latest->batching);  // the flags decide
  auto all = ParseModelConfig("version_policy { all {} }", "c");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->policy->kind, VersionPolicy::kAll);
  // Triton: max_batch_size without dynamic_batching batches nothing; the
  // delay left out is the flag's.
  auto off = ParseModelConfig("max_batch_size: 4", "c", {32, 77});
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->batching->max_batch_size, 0);
  auto delay = ParseModelConfig("max_batch_size: 4 dynamic_batching {}", "c", {0, 77});
  ASSERT_TRUE(delay.ok());
  EXPECT_EQ(delay->batching->max_batch_size, 4);
  EXPECT_EQ(delay->batching->max_queue_delay_us, 77);
}

TEST(ModelConfig, IgnoresTritonFieldsItDoesNotUseAndRefusesOthers) {
  // A Triton ONNX model's config, as written for Triton.
  auto c = ParseModelConfig(R"(
    name: "m"
    platform: "onnxruntime_onnx"
    max_batch_size: 8
    input [ { name: "x" data_type: TYPE_FP32 dims: [ 3 ] } ]
    output [ { name: "y" data_type: TYPE_FP32 dims: [ 3 ] } ]
    instance_group [ { count: 2 kind: KIND_CPU } ]
    dynamic_batching { preferred_batch_size: [ 4, 8 ] max_queue_delay_microseconds: 100 }
  )",
                            "m/config.pbtxt");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->batching->max_batch_size, 8);
  std::string all;
  for (const auto& w : c->warnings) all += w + "\n";
  EXPECT_EQ(c->warnings.size(), 5u) << all;
  for (const char* f :
       {"'platform'", "'input'", "'output'", "'instance_group'", "'preferred_batch_size'"})
    EXPECT_NE(all.find(f), std::string::npos) << f << " not in\n" << all;

  auto typo = ParseModelConfig("max_batch_size: 8\nmax_batch_sise: 4\n", "m/config.pbtxt");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("unknown field 'max_batch_sise'"), std::string::npos)
      << typo.status().message();
  EXPECT_NE(typo.status().message().find("m/config.pbtxt:2:"), std::string::npos)
      << typo.status().message();
  for (const char* bad :
       {"max_batch_size: -1", "max_batch_size: \"8\"", "dynamic_batching {}",
        "version_policy { latest { num_versions: 0 } }", "version_policy { specific { } }",
        "version_policy {}", "version_labels { key: \"a\" value: -2 }", "max_batch_size: 8 {",
        "dynamic_batching { max_queue_delay_microseconds: 99999999999 } "
        "max_batch_size: 2"}) {
    EXPECT_FALSE(ParseModelConfig(bad, "c").ok()) << bad;
  }
  EXPECT_FALSE(ParseModelConfig(std::string(kMaxModelConfigBytes + 1, ' '), "c").ok());
}

TEST_F(RepositoryTest, ConfigPbtxtSetsAModelsPolicyAndABadOneKeepsItFromLoading) {
  AddVersion("a", 1);
  AddVersion("a", 2);
  AddVersion("b", 1);
  std::ofstream(root_ / "a" / "config.pbtxt")
      << "version_policy { all {} }\nmax_batch_size: 4\ndynamic_batching {}\n";
  std::ofstream(root_ / "b" / "config.pbtxt") << "max_batch_sise: 4\n";
  RepositoryOptions o;
  o.path = root_.string();
  std::vector<std::string> log;
  o.log = [&](const std::string& level, const std::string& event, const std::string& fields) {
    log.push_back(level + " " + event + " " + fields);
  };
  Repository repo(o);
  ASSERT_TRUE(repo.Init().ok());
  auto a = repo.Get("a");
  EXPECT_EQ(a->versions.size(), 2u);
  EXPECT_EQ(a->versions.at(2)->batching.max_batch_size, 4);
  auto b = repo.Get("b");
  EXPECT_TRUE(b->versions.empty());
  EXPECT_NE(b->reason().find("max_batch_sise"), std::string::npos) << b->reason();
  EXPECT_TRUE(std::any_of(log.begin(), log.end(), [](const std::string& l) {
    return l.find("model_config_invalid") != std::string::npos;
  }));
  // Fixed: the next poll loads it.
  std::ofstream(root_ / "b" / "config.pbtxt") << "max_batch_size: 4\n";
  repo.Poll();
  EXPECT_EQ(repo.Get("b")->versions.size(), 1u);
  EXPECT_TRUE(repo.Get("b")->config_error.empty());
}

TEST_F(RepositoryTest, AChangedConfigAppliesWithoutReloadingTheModel) {
  AddVersion("a", 1);
  RepositoryOptions o;
  o.path = root_.string();
  o.batching = {0, 100};
  Repository repo(o);
  ASSERT_TRUE(repo.Init().ok());
  auto before = *repo.Find("a", "", "");
  EXPECT_EQ(before->batching.max_batch_size, 0);  // the flags
  std::ofstream(root_ / "a" / "config.pbtxt")
      << "max_batch_size: 16\ndynamic_batching { max_queue_delay_microseconds: 300 }\n"
      << "version_labels { key: \"stable\" value: 1 }\n";
  repo.Poll();
  auto after = *repo.Find("a", "", "stable");
  EXPECT_EQ(after->batching.max_batch_size, 16);
  EXPECT_EQ(after->batching.max_queue_delay_us, 300);
  EXPECT_EQ(after->model, before->model);  // same loaded model, same counters
  EXPECT_EQ(after->stats, before->stats);
  // Broken now: the version keeps serving with the settings it had.
  std::ofstream(root_ / "a" / "config.pbtxt") << "max_batch_size: {\n";
  repo.Poll();
  auto kept = *repo.Find("a", "", "");
  EXPECT_EQ(kept->batching.max_batch_size, 16);
  EXPECT_FALSE(repo.Get("a")->config_error.empty());
}

TEST_F(RepositoryTest, PollUnloadsRemovedVersionsAndModels) {
  AddVersion("a", 1);
  AddVersion("a", 2);
  AddVersion("b", 1);
  RepositoryOptions o;
  o.path = root_.string();
  o.policy.kind = VersionPolicy::kAll;
  Repository repo(o);
  ASSERT_TRUE(repo.Init().ok());
  auto held = *repo.Find("a", "2", "");  // a request running on version 2
  fs::remove_all(root_ / "a" / "2");
  fs::remove_all(root_ / "b");
  repo.Poll();
  auto a = repo.Get("a");
  EXPECT_EQ(a->versions.size(), 1u);
  EXPECT_EQ(a->removed.count(2), 1u);
  EXPECT_FALSE(repo.Find("a", "2", "").ok());
  auto b = repo.Get("b");
  EXPECT_TRUE(b->gone && b->unloaded);
  EXPECT_FALSE(repo.Find("b", "", "").ok());
  EXPECT_EQ(b->reason(), "removed from the repository");
  // The held version still runs.
  Tensor x(DType::kFloat32, {1, 4});
  EXPECT_TRUE(held->model->Run({{"features", x}}).ok());
  // b comes back.
  AddVersion("b", 1);
  repo.Poll();
  EXPECT_TRUE(repo.Find("b", "", "").ok());
}

TEST(Base64, RoundTripsEveryLength) {
  std::string bytes;
  for (int n = 0; n < 64; ++n) {
    std::string decoded;
    ASSERT_TRUE(DecodeBase64(EncodeBase64(bytes), &decoded)) << n;
    EXPECT_EQ(decoded, bytes);
    bytes.push_back(static_cast<char>(n * 37 + 200));
  }
  std::string out;
  EXPECT_TRUE(DecodeBase64("aGk", &out));  // padding left out
  EXPECT_EQ(out, "hi");
  EXPECT_EQ(EncodeBase64("hi"), "aGk=");
  EXPECT_FALSE(DecodeBase64("a$b=", &out));
  EXPECT_FALSE(DecodeBase64("a", &out));
}

}  // namespace
}  // namespace tiffin::server
