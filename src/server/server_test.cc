// The server's model repository and batcher, without HTTP: version policies,
// atomic swaps that keep a failed version's predecessor serving, labels,
// unload, and the batcher handing every concurrent request its own rows.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "server/batcher.h"
#include "server/repository.h"
#include "server/service.h"

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
  Repository repo(o);
  ASSERT_TRUE(repo.Init().ok());
  auto sv = *repo.Find("m", "", "");
  Batcher batcher(16, 2000);
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

}  // namespace
}  // namespace tiffin::server
