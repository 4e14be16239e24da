// Bundles: pack -> load -> predict round trips, corruption, versions, bounds
// and the committed format version 1 fixtures (tests/golden/bundle/).
#include "bundle/bundle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <algorithm>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "bundle/zip.h"
#include "importers/onnx/onnx_writer.h"
#include "importers/onnx/tensor_proto.h"
#include "io/tensor_io.h"
#include "ir/graph.h"
#include "tiffin/bundle.h"
#include "tiffin/model.h"

namespace tiffin {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string SourceDir() {
  const char* env = std::getenv("TIFFIN_SOURCE_DIR");
  return env ? env : TIFFIN_SOURCE_DIR_DEFAULT;
}
std::string FixturesDir() {
  const char* env = std::getenv("TIFFIN_SKLEARN_FIXTURES");
  return env ? env : TIFFIN_SKLEARN_FIXTURES_DEFAULT;
}
std::string TempPath(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("tiffin_bundle_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}
std::string ReadAll(const std::string& path) {
  auto b = onnx_import::ReadFileBytes(path, size_t{1} << 30);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return b.ok() ? *b : "";
}
void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The inputs a fixture feeds its model, parsed as `tiffin predict` does.
std::vector<NamedTensor> Feeds(const Model& model, const std::string& path) {
  const std::string bytes = ReadAll(path);
  if (io::LooksLikeNpy(bytes)) {
    auto t = io::ParseNpy(bytes);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return {{model.inputs()[0].name, *t}};
  }
  if (!io::LooksTabular(bytes, model.inputs())) {
    auto t = io::ParseJsonInputs(bytes, model.inputs());
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? *t : std::vector<NamedTensor>{};
  }
  auto t = io::ParseTabular(bytes, model.inputs(), model.info().feature_names);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? *t : std::vector<NamedTensor>{};
}

void ExpectSameTensors(const std::vector<Tensor>& a, const std::vector<Tensor>& b,
                       const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].dtype(), b[i].dtype()) << what << " output " << i;
    ASSERT_EQ(a[i].shape(), b[i].shape()) << what << " output " << i;
    if (a[i].dtype() == DType::kString) {
      for (int64_t k = 0; k < a[i].size(); ++k)
        ASSERT_EQ(a[i].data<std::string>()[k], b[i].data<std::string>()[k]) << what;
    } else {
      ASSERT_EQ(0, std::memcmp(a[i].raw_data(), b[i].raw_data(), a[i].nbytes()))
          << what << " output " << i << " differs";
    }
  }
}

// Packs `source`, loads source and bundle, and checks they predict the same.
void RoundTrip(const std::string& source, const std::string& inputs,
               const std::vector<std::string>& steps = {}) {
  SCOPED_TRACE(source);
  LoadOptions lo;
  lo.steps = steps;
  auto original = LoadModel(source, lo);
  ASSERT_TRUE(original.ok()) << original.status().ToString();
  PackOptions p;
  p.steps = steps;
  if ((*original)->inputs().size() == 1 || inputs.find(".npy") == std::string::npos)
    p.reference_path = inputs;
  const std::string out = TempPath(fs::path(source).parent_path().filename().string() + ".tiffin");
  Status s = PackBundle(source, out, p);
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto bundled = LoadModel(out);  // verifies hashes and replays the case
  ASSERT_TRUE(bundled.ok()) << bundled.status().ToString();
  EXPECT_EQ((*bundled)->info().format, "tiffin bundle v1");
  EXPECT_EQ((*bundled)->inputs().size(), (*original)->inputs().size());
  EXPECT_EQ((*bundled)->info().feature_names, (*original)->info().feature_names);
  auto feeds = Feeds(**original, inputs);
  auto a = (*original)->Run(feeds);
  auto b = (*bundled)->Run(feeds);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ExpectSameTensors(*a, *b, source);
}

TEST(Bundle, RoundTripOnnxExamples) {
  const std::string src = SourceDir();
  RoundTrip(src + "/examples/iris_mlp/model.onnx", src + "/examples/iris_mlp/input.json");
  int n = 0;
  for (const char* dir : {"/tests/golden/torch", "/tests/golden/ml"}) {
    for (const auto& e : fs::directory_iterator(src + dir)) {
      if (!fs::exists(e.path() / "model.onnx") || !fs::exists(e.path() / "input_0.npy")) continue;
      if (fs::exists(e.path() / "input_1.npy")) continue;  // several inputs: see below
      RoundTrip((e.path() / "model.onnx").string(), (e.path() / "input_0.npy").string());
      ++n;
    }
  }
  EXPECT_GE(n, 10);
}

TEST(Bundle, RoundTripSklearn) {
  const std::string src = SourceDir();
  RoundTrip(src + "/examples/sklearn_iris/model.pkl", src + "/examples/sklearn_iris/input.csv",
            {"scaler", "model"});
  const std::string fx = FixturesDir();
  if (!fs::exists(fx)) GTEST_SKIP() << "no " << fx << " (make sklearn-fixtures)";
  // Every generated case (gen_sklearn.py), not a sample: a class whose
  // graph does not survive the ONNX writer and reader shows up here.
  std::vector<fs::path> models;  // one file per case: the drift cases have only model.pN.pkl
  for (const auto& e : fs::directory_iterator(fx)) {
    for (const char* name : {"model.joblib", "model.pkl", "model.p4.pkl", "model.p2.pkl"}) {
      if (fs::exists(e.path() / name)) {
        models.push_back(e.path() / name);
        break;
      }
    }
  }
  std::sort(models.begin(), models.end());
  EXPECT_GE(models.size(), 200u);
  for (const fs::path& model : models) {
    const fs::path dir = model.parent_path();
    SCOPED_TRACE(dir.filename().string());
    const std::string input = fs::exists(dir / "X.csv") ? "X.csv" : "X.npy";
    RoundTrip(model.string(), (dir / input).string());
  }
}

// Deterministic inputs for a model without a fixture input file: each
// declared input with symbolic dims set to 3, values in [-1, 1).
std::vector<NamedTensor> SyntheticFeeds(const Model& model) {
  std::vector<NamedTensor> feeds;
  uint64_t state = 12345;
  for (const TensorInfo& in : model.inputs()) {
    Shape shape;
    for (const Dim& d : in.shape) shape.push_back(d.fixed() ? d.value : 3);
    Tensor t(in.dtype == DType::kUndefined ? DType::kFloat32 : in.dtype, shape);
    for (int64_t i = 0; i < t.size(); ++i) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      const double v = static_cast<double>(state >> 11) / 9007199254740992.0 * 2 - 1;
      if (t.dtype() == DType::kFloat32) t.data<float>()[i] = static_cast<float>(v);
      if (t.dtype() == DType::kFloat64) t.data<double>()[i] = v;
    }
    feeds.push_back({in.name, std::move(t)});
  }
  return feeds;
}

// A whitespace-separated text matrix (the XGBoost fixtures' X.txt; "nan"
// for missing values) as float64 [rows, cols].
Tensor ReadTextMatrix(const std::string& path) {
  std::ifstream in(path);
  std::vector<double> v;
  int64_t rows = 0, cols = -1;
  for (std::string line; std::getline(in, line);) {
    std::istringstream ls(line);
    int64_t c = 0;
    for (std::string tok; ls >> tok; ++c) v.push_back(std::strtod(tok.c_str(), nullptr));
    if (c == 0) continue;
    EXPECT_TRUE(cols < 0 || cols == c) << path << " row " << rows;
    cols = c;
    ++rows;
  }
  return Tensor::FromVector<double>(v, {rows, std::max<int64_t>(cols, 0)});
}

// Packs `source` without reference data and checks that the bundle predicts
// bit for bit what the source does on `x` (synthetic inputs when undefined).
void RoundTripSynthetic(const std::string& source, const std::string& config = "",
                        const Tensor& x = Tensor()) {
  SCOPED_TRACE(source);
  LoadOptions lo;
  lo.config_path = config;
  auto original = LoadModel(source, lo);
  ASSERT_TRUE(original.ok()) << original.status().ToString();
  PackOptions p;
  p.config_path = config;
  const std::string out = TempPath(fs::path(source).filename().string() + ".tiffin");
  Status s = PackBundle(source, out, p);
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto bundled = LoadModel(out);
  ASSERT_TRUE(bundled.ok()) << bundled.status().ToString();
  const auto feeds = x.defined() ? std::vector<NamedTensor>{{(*original)->inputs()[0].name, x}}
                                 : SyntheticFeeds(**original);
  auto a = (*original)->Run(feeds);
  auto b = (*bundled)->Run(feeds);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ExpectSameTensors(*a, *b, source);
}

// The other importers: every generated XGBoost case in each of its file
// forms (on its own rows), and LightGBM and Keras
// files of the shared fixtures (synthetic inputs; no reference case).
TEST(Bundle, RoundTripOtherImporters) {
  const std::string src = SourceDir();
  const fs::path xgb = fs::path(FixturesDir()).parent_path() / "xgboost-fixtures";
  int n = 0;
  if (fs::exists(xgb)) {
    for (const auto& e : fs::directory_iterator(xgb)) {
      if (!fs::exists(e.path() / "X.txt")) continue;
      const Tensor x = ReadTextMatrix((e.path() / "X.txt").string());
      for (const char* name : {"model.json", "model.ubj", "model.bin", "model.pkl"}) {
        if (!fs::exists(e.path() / name)) continue;
        RoundTripSynthetic((e.path() / name).string(), "", x);
        ++n;
      }
    }
    EXPECT_GE(n, 40) << "XGBoost cases in " << xgb;
  } else {
    ADD_FAILURE() << "no " << xgb << " (make xgboost-fixtures)";
  }
  const fs::path ext = fs::path(src) / ".." / "shared" / "fixtures" / "external";
  if (!fs::exists(ext)) GTEST_SKIP() << "no shared fixtures";
  for (const char* f :
       {"lightgbm/lleaves__airline_model.txt", "lightgbm/lleaves__multiclass_model.txt",
        "lightgbm/lleaves__mixed_categorical_model.txt",
        "lightgbm/treelite__toy_categorical_model.txt"}) {
    RoundTripSynthetic((ext / f).string());
  }
  for (const char* f : {"keras/hls4ml__prjs_conv2d_1layer.h5", "keras/hls4ml__prjs_prelu.h5",
                        "keras/hls4ml__prjs_softmax.h5",
                        "keras/hls4ml__experiments_mlp_streaming__keras_model.keras"}) {
    RoundTripSynthetic((ext / f).string());
  }
  RoundTripSynthetic((ext / "keras/hls4ml__models_KERAS_3layer_weights.h5").string(),
                     (ext / "keras/hls4ml__models_KERAS_3layer.json").string());
}

TEST(Bundle, ManifestCarriesProvenanceSchemaAndStats) {
  const std::string src = SourceDir();
  PackOptions p;
  p.name = "iris";
  p.model_version = "2.1";
  p.steps = {"scaler", "model"};
  p.reference_path = src + "/examples/sklearn_iris/input.csv";
  const std::string out = TempPath("iris_manifest.tiffin");
  ASSERT_TRUE(PackBundle(src + "/examples/sklearn_iris/model.pkl", out, p).ok());
  auto manifest = ReadBundleManifest(out);
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
  EXPECT_THAT(*manifest, HasSubstr("\"format_version\":1"));
  EXPECT_THAT(*manifest, HasSubstr("\"name\":\"iris\",\"version\":\"2.1\""));
  EXPECT_THAT(*manifest, HasSubstr("\"source_file\":\"model.pkl\""));
  EXPECT_THAT(
      *manifest,
      HasSubstr("\"source_sha256\":\"" +
                bundle::Sha256Hex(ReadAll(src + "/examples/sklearn_iris/model.pkl")) + "\""));
  EXPECT_THAT(*manifest, HasSubstr("\"library\":\"scikit-learn\""));
  EXPECT_THAT(*manifest, HasSubstr("\"steps\":[\"scaler\",\"model\"]"));
  EXPECT_THAT(*manifest, HasSubstr("\"source\":\"reference data\""));
  EXPECT_THAT(*manifest, HasSubstr("\"rows\":"));
  auto model = LoadModel(out);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const ModelInfo& info = (*model)->info();
  EXPECT_EQ(info.producer_name, "scikit-learn");
  EXPECT_EQ(info.metadata.at("bundle.name"), "iris");
  EXPECT_THAT(info.metadata.at("bundle.reference"), HasSubstr("replayed and matched"));
  EXPECT_FALSE(info.training_stats.empty());
}

TEST(Bundle, WeightsAreMappedNotCopied) {
  // The zip layout keeps every entry's data 64-byte aligned.
  const std::string out = TempPath("mlp_layout.tiffin");
  ASSERT_TRUE(PackBundle(SourceDir() + "/tests/golden/torch/mlp/model.onnx", out).ok());
  const std::string file = ReadAll(out);
  auto zip = bundle::ReadZipDirectory(file);
  ASSERT_TRUE(zip.ok()) << zip.status().ToString();
  ASSERT_EQ((*zip)[0].name, "manifest.json");
  for (const auto& e : *zip) EXPECT_EQ(e.data_offset % 64, 0u) << e.name;
}

// Rewrites the bundle at `path` with `edit` applied to its entries (name ->
// bytes); the manifest's hashes are updated for the entries that changed.
std::string Rezip(
    const std::string& file,
    const std::function<void(std::vector<std::pair<std::string, std::string>>*)>& edit,
    bool rehash = true) {
  auto zip = bundle::ReadZipDirectory(file);
  EXPECT_TRUE(zip.ok());
  std::vector<std::pair<std::string, std::string>> entries;
  for (const auto& e : *zip) entries.push_back({e.name, file.substr(e.data_offset, e.size)});
  std::map<std::string, std::string> before(entries.begin(), entries.end());
  edit(&entries);
  if (rehash) {
    auto record = [](const std::string& name, const std::string& bytes) {
      return "{\"name\":\"" + name + "\",\"size\":" + std::to_string(bytes.size()) +
             ",\"sha256\":\"" + bundle::Sha256Hex(bytes) + "\"}";
    };
    std::string& m = entries[0].second;
    for (size_t i = 1; i < entries.size(); ++i) {
      auto old = before.find(entries[i].first);
      if (old == before.end()) continue;
      const std::string from = record(old->first, old->second);
      if (auto at = m.find(from); at != std::string::npos)
        m.replace(at, from.size(), record(entries[i].first, entries[i].second));
    }
  }
  bundle::ZipWriter w;
  for (const auto& [name, bytes] : entries) EXPECT_TRUE(w.Add(name, bytes).ok());
  auto out = w.Finish();
  EXPECT_TRUE(out.ok());
  return *out;
}

Result<std::shared_ptr<const Model>> LoadBytes(const std::string& bytes, bool verify = true) {
  const std::string path = TempPath("edited.tiffin");
  WriteAll(path, bytes);
  LoadOptions lo;
  lo.verify = verify;
  return LoadModel(path, lo);
}

std::string IrisBundle() {
  const std::string src = SourceDir();
  PackOptions p;
  p.steps = {"scaler", "model"};
  p.reference_path = src + "/examples/sklearn_iris/input.csv";
  const std::string out = TempPath("iris.tiffin");
  Status s = PackBundle(src + "/examples/sklearn_iris/model.pkl", out, p);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return ReadAll(out);
}

std::string MlpBundle() {
  const std::string src = SourceDir();
  PackOptions p;
  p.reference_path = src + "/tests/golden/torch/mlp/input_0.npy";
  const std::string out = TempPath("mlp.tiffin");
  Status s = PackBundle(src + "/tests/golden/torch/mlp/model.onnx", out, p);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return ReadAll(out);
}

TEST(Bundle, CorruptByteInEveryEntryIsNamed) {
  for (const std::string& file : {IrisBundle(), MlpBundle()}) {
    auto zip = bundle::ReadZipDirectory(file);
    ASSERT_TRUE(zip.ok());
    for (const auto& e : *zip) {
      if (e.size == 0) continue;
      for (uint64_t at : {uint64_t{0}, e.size / 2, e.size - 1}) {
        std::string bad = file;
        bad[e.data_offset + at] ^= 0x20;
        for (bool verify : {true, false}) {
          auto m = LoadBytes(bad, verify);
          ASSERT_FALSE(m.ok()) << e.name << " byte " << at << " flipped, still loads";
          EXPECT_THAT(m.status().message(), HasSubstr(e.name)) << m.status().ToString();
        }
      }
    }
  }
}

TEST(Bundle, CorruptZipStructureIsRefused) {
  const std::string file = IrisBundle();
  auto zip = bundle::ReadZipDirectory(file);
  ASSERT_TRUE(zip.ok());
  // Each local header's name, sizes and CRC; the central directory's
  // records; the end record's offsets.
  std::vector<uint64_t> spots;
  for (const auto& e : *zip) {
    for (uint64_t k : {14u, 18u, 22u, 26u, 30u}) spots.push_back(e.header_offset + k);
  }
  const uint64_t end = file.size() - 22;
  const uint64_t cd = static_cast<unsigned char>(file[end + 16]) |
                      static_cast<uint64_t>(static_cast<unsigned char>(file[end + 17])) << 8 |
                      static_cast<uint64_t>(static_cast<unsigned char>(file[end + 18])) << 16;
  for (uint64_t k : {0u, 10u, 16u, 20u, 24u, 28u, 42u, 46u}) spots.push_back(cd + k);
  for (uint64_t k : {0u, 8u, 10u, 12u, 16u, 20u}) spots.push_back(end + k);
  for (uint64_t at : spots) {
    std::string bad = file;
    bad[at] ^= 0x41;
    auto m = LoadBytes(bad);
    EXPECT_FALSE(m.ok()) << "byte " << at << " flipped, still loads";
  }
}

TEST(Bundle, ReferenceMismatchNamesCaseAndOutput) {
  const std::string bad = Rezip(IrisBundle(), [](auto* entries) {
    for (auto& [name, bytes] : *entries) {
      if (name != "reference/case0_output1.npy") continue;  // probabilities
      auto t = io::ParseNpy(bytes);
      ASSERT_TRUE(t.ok());
      Tensor c = t->Clone();
      c.data<double>()[3] += 0.5;
      bytes = io::WriteNpy(c);
    }
  });
  auto m = LoadBytes(bad);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.status().message(), HasSubstr("reference case 'case0' output 'probabilities'"));
  EXPECT_THAT(m.status().message(), HasSubstr("element 3"));
  EXPECT_TRUE(LoadBytes(bad, /*verify=*/false).ok());  // --no-verify skips the replay
}

// The replay's relative tolerance follows the largest value of the
// element's row (docs/bundle-format.md): a shift of a small probability that
// is tiny next to its row passes, half a percent of the row does not.
TEST(Bundle, ReplayToleranceFollowsTheRow) {
  const std::string iris = IrisBundle();
  auto shifted = [&](double fraction_of_row) {
    return Rezip(iris, [&](auto* entries) {
      for (auto& [name, bytes] : *entries) {
        if (name != "reference/case0_output1.npy") continue;  // probabilities [N,3]
        auto t = io::ParseNpy(bytes);
        ASSERT_TRUE(t.ok());
        Tensor c = t->Clone();
        ASSERT_EQ(c.shape().size(), 2u);
        double* p = c.data<double>();
        // The smallest probability of row 0, and that row's largest.
        int64_t k = 0;
        for (int64_t j = 1; j < 3; ++j) k = p[j] < p[k] ? j : k;
        const double row_max = std::max({p[0], p[1], p[2]});
        ASSERT_LT(p[k] * 100, row_max) << "need a small element next to a large one";
        p[k] += fraction_of_row * row_max;
        bytes = io::WriteNpy(c);
      }
    });
  };
  // 3e-5 of the row is > rtol (1e-4) times the element itself, < rtol times the row.
  auto ok = LoadBytes(shifted(3e-5));
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
  auto bad = LoadBytes(shifted(5e-3));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("output 'probabilities'"));
}

TEST(Bundle, FutureFormatVersionIsRefused) {
  const std::string bad = Rezip(IrisBundle(), [](auto* entries) {
    std::string& m = (*entries)[0].second;
    m.replace(m.find("\"format_version\":1"), 18, "\"format_version\":2");
  });
  auto m = LoadBytes(bad);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kNotSupported);
  EXPECT_THAT(m.status().message(), HasSubstr("bundle format version 2"));
  EXPECT_THAT(m.status().message(), HasSubstr("this tiffin reads (1)"));
  EXPECT_THAT(m.status().message(), HasSubstr("upgrade tiffin"));
}

TEST(Bundle, UnknownManifestKeysAreIgnored) {
  const std::string ok = Rezip(IrisBundle(), [](auto* entries) {
    std::string& m = (*entries)[0].second;
    m.insert(1, "\"added_in_1_1\":{\"anything\":[1,2]},");
  });
  auto m = LoadBytes(ok);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
}

TEST(Bundle, UnlistedOrMissingEntriesAreRefused) {
  auto extra = LoadBytes(Rezip(IrisBundle(), [](auto* e) { e->push_back({"evil.bin", "x"}); }));
  ASSERT_FALSE(extra.ok());
  EXPECT_THAT(extra.status().message(), HasSubstr("'evil.bin' is not listed"));
  auto missing = LoadBytes(Rezip(IrisBundle(), [](auto* e) { e->pop_back(); }));
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("missing"));
}

TEST(Bundle, TruncatedAndOutOfBoundsBundlesAreRefused) {
  const std::string file = MlpBundle();
  for (size_t cut = 0; cut < file.size(); cut += std::max<size_t>(1, file.size() / 97)) {
    auto m = LoadBytes(file.substr(0, cut));
    EXPECT_FALSE(m.ok()) << "a bundle cut at " << cut << " loads";
  }
  auto zip = bundle::ReadZipDirectory(file);
  ASSERT_TRUE(zip.ok());
  const uint64_t end = file.size() - 22;
  auto put32 = [](std::string* s, uint64_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) (*s)[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
  };
  uint64_t cd = 0;
  for (int i = 3; i >= 0; --i) cd = cd << 8 | static_cast<unsigned char>(file[end + 16 + i]);
  // The first central record's local header offset, then both sizes, huge.
  std::string far = file;
  put32(&far, cd + 42, 0x7ffffff0u);
  EXPECT_THAT(LoadBytes(far).status().message(), HasSubstr("outside"));
  std::string huge = file;
  put32(&huge, cd + 20, 0x7ffffff0u);
  put32(&huge, cd + 24, 0x7ffffff0u);
  EXPECT_FALSE(LoadBytes(huge).ok());
  std::string cd_out = file;
  put32(&cd_out, end + 16, 0x7ffffff0u);
  EXPECT_THAT(LoadBytes(cd_out).status().message(), HasSubstr("outside the file"));
  // weights.bin ranges in model.onnx are checked too: a bundle whose tensor
  // claims bytes past weights.bin.
  const std::string shrunk = Rezip(file, [](auto* entries) {
    for (auto& [name, bytes] : *entries)
      if (name == "weights.bin") bytes.resize(bytes.size() / 2);
  });
  auto m = LoadBytes(shrunk);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.status().message(), HasSubstr("outside weights.bin"));
}

TEST(Bundle, ForeignZipFeaturesAreRefused) {
  // A compressed entry (method 8 patched in both headers).
  std::string file = IrisBundle();
  auto zip = bundle::ReadZipDirectory(file);
  ASSERT_TRUE(zip.ok());
  const auto& e = (*zip)[1];
  std::string bad = file;
  bad[e.header_offset + 8] = 8;
  const uint64_t end = file.size() - 22;
  uint64_t cd = 0;
  for (int i = 3; i >= 0; --i) cd = cd << 8 | static_cast<unsigned char>(file[end + 16 + i]);
  uint64_t at = cd + 46 + 13;  // second central record (the manifest's name is 13 bytes)
  bad[at + 10] = 8;
  auto m = LoadBytes(bad);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.status().message(), HasSubstr("is compressed"));
}

// Committed bundles of format version 1 load forever, and predict what they
// predicted when they were written. Never regenerate them (see
// docs/bundle-format.md); add new ones beside them.
TEST(Bundle, CommittedVersion1FixturesStayLoadable) {
  const fs::path dir = fs::path(SourceDir()) / "tests/golden/bundle";
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".tiffin") continue;
    SCOPED_TRACE(e.path().string());
    auto model = LoadModel(e.path().string());
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    EXPECT_EQ((*model)->info().format, "tiffin bundle v1");
    const std::string stem = e.path().stem().string();
    std::vector<NamedTensor> feeds;
    for (size_t i = 0; i < (*model)->inputs().size(); ++i) {
      const fs::path in = dir / (stem + ".input" + std::to_string(i) + ".npy");
      auto t = io::ParseNpy(ReadAll(in.string()));
      ASSERT_TRUE(t.ok()) << in << ": " << t.status().ToString();
      feeds.push_back({(*model)->inputs()[i].name, *t});
    }
    auto out = (*model)->Run(feeds);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    for (size_t i = 0; i < out->size(); ++i) {
      const fs::path want = dir / (stem + ".output" + std::to_string(i) + ".npy");
      ASSERT_TRUE(fs::exists(want)) << want;
      auto w = io::ParseNpy(ReadAll(want.string()));
      ASSERT_TRUE(w.ok());
      ASSERT_EQ(w->shape(), (*out)[i].shape());
      ASSERT_EQ(w->dtype(), (*out)[i].dtype());
      for (int64_t k = 0; k < w->size(); ++k) {
        if (w->dtype() == DType::kString) {
          EXPECT_EQ(w->data<std::string>()[k], (*out)[i].data<std::string>()[k]);
          continue;
        }
        const double a = ElementAsDouble(*w, k), b = ElementAsDouble((*out)[i], k);
        EXPECT_NEAR(a, b, 1e-5 + 1e-4 * std::fabs(a)) << want << " element " << k;
      }
    }
    ++n;
  }
  EXPECT_GE(n, 2);
}

// Not a timed test: logs the load time of a ~10 MB bundle for the record
// (docs/bundle-format.md; the target is under 5 ms).
TEST(Bundle, LoadTimeOfTenMegabyteModel) {
  const std::string model_path = TempPath("big_mlp.onnx");
  // A 1600x1600 float MatMul (10.2 MB), written with the ONNX writer.
  auto g = std::make_shared<ir::Graph>();
  int x = g->AddValue("x");
  g->values[static_cast<size_t>(x)].info = {
      "x", DType::kFloat32, true, {Dim{-1, "N"}, Dim{1600, ""}}};
  g->inputs.push_back(x);
  int wv = g->AddValue("w");
  Tensor w(DType::kFloat32, {1600, 1600});
  for (int64_t i = 0; i < w.size(); ++i) w.data<float>()[i] = static_cast<float>(i % 13) * 0.01f;
  g->constants[wv] = w;
  int y = g->AddValue("y");
  ir::Node mm;
  mm.op_type = "MatMul";
  mm.opset = 17;
  mm.inputs = {x, wv};
  mm.outputs = {y};
  g->nodes.push_back(mm);
  g->outputs.push_back(y);
  onnx_import::OnnxWriteOptions wo;
  ASSERT_TRUE(onnx_import::WriteOnnxFile(*g, wo, model_path).ok());
  Tensor in(DType::kFloat32, {1, 1600});
  const std::string in_path = TempPath("big_in.npy");
  WriteAll(in_path, io::WriteNpy(in));
  PackOptions p;
  p.reference_path = in_path;
  const std::string out = TempPath("big.tiffin");
  ASSERT_TRUE(PackBundle(model_path, out, p).ok());
  for (bool verify : {true, false}) {
    LoadOptions lo;
    lo.verify = verify;
    double best = 1e9;
    for (int i = 0; i < 5; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      auto m = LoadModel(out, lo);
      auto t1 = std::chrono::steady_clock::now();
      ASSERT_TRUE(m.ok()) << m.status().ToString();
      best = std::min(best, std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::printf("bundle load, %.1f MB, verify=%d: best of 5 %.2f ms\n",
                static_cast<double>(fs::file_size(out)) / 1e6, verify, best);
  }
  // weights.bin is hashed in chunks here; a flipped byte is still named.
  std::string bad = ReadAll(out);
  auto zip = bundle::ReadZipDirectory(bad);
  ASSERT_TRUE(zip.ok());
  for (const auto& e : *zip) {
    if (e.name == "weights.bin") bad[e.data_offset + e.size - 3] ^= 1;
  }
  auto m = LoadBytes(bad);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.status().message(), HasSubstr("entry 'weights.bin': SHA-256 mismatch in bytes"));
}

}  // namespace
}  // namespace tiffin
