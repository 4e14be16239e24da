// The scikit-learn importer on hostile and corrupt fitted state
// (tests/golden/hostile_sklearn, from gen_hostile_sklearn.py), and on small
// pickles built here: every problem is refused with a message naming it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "tiffin/model.h"
#include "tiffin/sklearn.h"

namespace tiffin {
namespace {

namespace fs = std::filesystem;

fs::path Hostile(const std::string& name) {
  const char* src = std::getenv("TIFFIN_SOURCE_DIR");
  return fs::path(src ? src : TIFFIN_SOURCE_DIR_DEFAULT) / "tests" / "golden" / "hostile_sklearn" /
         name;
}

struct Case {
  const char* file;
  const char* message;
};

TEST(SklearnImport, HostileFittedStateIsRefusedByName) {
  const Case cases[] = {
      {"tree_cycle.pkl", "node 1 has children 0, -1"},
      {"tree_child_out_of_range.pkl", "outside 0..8"},
      {"tree_shared_child.pkl", "reached twice"},
      {"tree_feature_out_of_range.pkl", "feature 99, outside the 4 input features"},
      {"tree_negative_feature.pkl", "feature -7"},
      {"tree_half_leaf.pkl", "node 0 has children 1, -1"},
      {"tree_values_too_short.pkl", "tree values have shape [2,1,3] for 9 nodes"},
      {"logreg_coef_rows.pkl", "intercept_ has 3 values for 2 outputs"},
      {"hgb_child_out_of_range.pkl", "children 100000"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    auto model = LoadModel(Hostile(c.file).string());
    ASSERT_FALSE(model.ok());
    EXPECT_NE(model.status().message().find(c.message), std::string::npos)
        << model.status().ToString();
    // inspect still lists what the file holds.
    auto info = InspectSklearnFile(Hostile(c.file).string());
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->objects.size(), 1u);
  }
}

// The example's MinMaxScaler was fitted on all of iris, whose per-feature
// ranges are 4.3-7.9, 2.0-4.4, 1.0-6.9 and 0.1-2.5 (the dataset's published
// summary statistics).
TEST(SklearnImport, TrainingStatisticsComeFromTheScaler) {
  const char* src = std::getenv("TIFFIN_SOURCE_DIR");
  const fs::path p =
      fs::path(src ? src : TIFFIN_SOURCE_DIR_DEFAULT) / "examples" / "sklearn_iris" / "model.pkl";
  LoadOptions options;
  options.steps = {"scaler", "model"};
  auto model = LoadModel(p.string(), options);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const auto& stats = (*model)->info().training_stats;
  ASSERT_EQ(stats.size(), 4u);
  const double lo[] = {4.3, 2.0, 1.0, 0.1}, hi[] = {7.9, 4.4, 6.9, 2.5};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_DOUBLE_EQ(stats[i].min, lo[i]) << i;
    EXPECT_DOUBLE_EQ(stats[i].max, hi[i]) << i;
    EXPECT_NE(stats[i].source.find("MinMaxScaler"), std::string::npos);
  }
  // The model alone knows nothing about its inputs' ranges.
  auto alone = LoadModel(p.string());
  ASSERT_TRUE(alone.ok());
  EXPECT_TRUE((*alone)->info().training_stats.empty());
}

TEST(SklearnImport, NonEstimatorPickleIsExplained) {
  const fs::path p = fs::temp_directory_path() / "tiffin_sklearn_list.pkl";
  {
    // pickle.dumps([1, 2], protocol=2), spelled out byte by byte (a string
    // literal would read "\x02e" as one hex escape).
    const unsigned char raw[] = {0x80, 0x02, ']', 'q', 0x00, '(', 'K', 0x01, 'K', 0x02, 'e', '.'};
    const std::string bytes(reinterpret_cast<const char*>(raw), sizeof raw);
    std::FILE* f = std::fopen(p.c_str(), "wb");
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }
  auto model = LoadModel(p.string());
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("holds no scikit-learn estimator"), std::string::npos)
      << model.status().ToString();
  fs::remove(p);
}

}  // namespace
}  // namespace tiffin
