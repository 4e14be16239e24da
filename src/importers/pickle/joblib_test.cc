#include "importers/pickle/joblib.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "importers/pickle/compression.h"
#include "importers/pickle/numpy.h"
#include "importers/pickle/pickle.h"

namespace tiffin::pickle {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Kind = PickleValue::Kind;

fs::path SourceDir() {
  const char* env = std::getenv("TIFFIN_SOURCE_DIR");
  return env ? fs::path(env) : fs::path(TIFFIN_SOURCE_DIR_DEFAULT);
}
fs::path GoldenDir() { return SourceDir() / "tests/golden/joblib"; }
fs::path ExternalDir() { return SourceDir() / "../shared/fixtures/external/sklearn/joblib-format"; }

std::string ReadFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  EXPECT_TRUE(f.good()) << "missing fixture " << p << " (run tests/golden/gen/gen_joblib.py)";
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A fresh directory under the temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("tiffin_joblib_test_" + std::to_string(::getpid()) + "_" + std::to_string(next_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  static inline int next_ = 0;
  fs::path path_;
};

Result<JoblibFile> Load(const fs::path& p, PickleOptions options = PickleOptions()) {
  return ReadJoblibOrPickle(p.string(), options);
}

template <typename T>
std::vector<T> Values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.size());
}

const PickleValue& Get(const PickleValue& dict, const std::string& key) {
  const PickleValue* v = dict.Find(key);
  if (v == nullptr) {
    ADD_FAILURE() << "no key " << key;
    static PickleValue none;
    return none;
  }
  return *v;
}

Tensor ToTensor(const PickleValue& v, const std::string& what) {
  auto t = NumpyArrayToTensor(v);
  EXPECT_TRUE(t.ok()) << what << ": " << t.status().ToString();
  return t.ok() ? *t : Tensor();
}

// The dict written by gen_joblib.py's payload().
void CheckPayload(const PickleValue& root, const std::string& file) {
  SCOPED_TRACE(file);
  ASSERT_TRUE(root.is_dict()) << root.DebugString();
  Tensor f32 = ToTensor(Get(root, "f32"), "f32");
  ASSERT_EQ(f32.dtype(), DType::kFloat32);
  EXPECT_EQ(f32.shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<float>(f32), (std::vector<float>{0, 0.5, 1, 1.5, 2, 2.5}));

  Tensor f64 = ToTensor(Get(root, "f64_fortran"), "f64_fortran");
  ASSERT_EQ(f64.dtype(), DType::kFloat64);
  EXPECT_EQ(f64.shape(), (Shape{3, 4}));
  std::vector<double> want(12);
  for (int i = 0; i < 12; ++i) want[static_cast<size_t>(i)] = i;
  EXPECT_EQ(Values<double>(f64), want);

  Tensor i16 = ToTensor(Get(root, "i16_fortran_3d"), "i16_fortran_3d");
  ASSERT_EQ(i16.dtype(), DType::kInt16);
  EXPECT_EQ(i16.shape(), (Shape{2, 3, 4}));
  std::vector<int16_t> want16(24);
  for (int i = 0; i < 24; ++i) want16[static_cast<size_t>(i)] = static_cast<int16_t>(i);
  EXPECT_EQ(Values<int16_t>(i16), want16);

  Tensor i64 = ToTensor(Get(root, "i64"), "i64");
  ASSERT_EQ(i64.dtype(), DType::kInt64);
  EXPECT_EQ(Values<int64_t>(i64), (std::vector<int64_t>{-(int64_t{1} << 62), -1, 0, 7}));

  Tensor bf = ToTensor(Get(root, "big_f8"), "big_f8");
  ASSERT_EQ(bf.dtype(), DType::kFloat64);
  EXPECT_EQ(Values<double>(bf), (std::vector<double>{0, 1.5, 3, 4.5}));

  Tensor bi = ToTensor(Get(root, "big_i4"), "big_i4");
  ASSERT_EQ(bi.dtype(), DType::kInt32);
  EXPECT_EQ(Values<int32_t>(bi), (std::vector<int32_t>{1, -2, 70000}));

  Tensor b = ToTensor(Get(root, "bool"), "bool");
  ASSERT_EQ(b.dtype(), DType::kBool);
  EXPECT_EQ(Values<bool>(b), (std::vector<bool>{true, false, true}));

  Tensor u8 = ToTensor(Get(root, "u8"), "u8");
  ASSERT_EQ(u8.dtype(), DType::kUInt8);
  EXPECT_EQ(Values<uint8_t>(u8), (std::vector<uint8_t>{250, 251, 252, 253, 254}));

  Tensor z = ToTensor(Get(root, "zero_d"), "zero_d");
  ASSERT_EQ(z.dtype(), DType::kFloat64);
  EXPECT_EQ(z.shape(), Shape{});
  EXPECT_EQ(Values<double>(z), (std::vector<double>{3.5}));

  Tensor e = ToTensor(Get(root, "empty"), "empty");
  EXPECT_EQ(e.dtype(), DType::kFloat32);
  EXPECT_EQ(e.shape(), (Shape{0, 3}));

  Tensor su = ToTensor(Get(root, "str_u"), "str_u");
  ASSERT_EQ(su.dtype(), DType::kString);
  EXPECT_EQ(Values<std::string>(su), (std::vector<std::string>{"a", "\xC3\xA9t\xC3\xA9", ""}));

  auto obj = NumpyObjectArrayItems(Get(root, "object"));
  ASSERT_TRUE(obj.ok()) << obj.status().ToString();
  EXPECT_EQ(obj->shape, Shape{4});
  ASSERT_EQ(obj->items.size(), 4u);
  EXPECT_EQ(obj->items[0]->int_value, 1);
  EXPECT_EQ(obj->items[1]->str_value, "abc");
  ASSERT_TRUE(obj->items[2]->is_dict());
  EXPECT_EQ(Get(*obj->items[2], "k").int_value, 2);
  EXPECT_TRUE(obj->items[3]->is_none());

  auto st = NumpyStructuredArrayFromPickle(Get(root, "structured"));
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->shape, Shape{2});
  ASSERT_EQ(st->dtype.fields.size(), 2u);
  EXPECT_EQ(st->dtype.fields[1].name, "b");
  EXPECT_EQ(st->dtype.fields[1].offset, 4);
  ASSERT_EQ(st->raw.size(), 24u);
  int32_t a1 = 0;
  double b0 = 0, b1 = 0;
  std::memcpy(&b0, st->raw.data() + 4, 8);
  std::memcpy(&a1, st->raw.data() + 12, 4);
  std::memcpy(&b1, st->raw.data() + 16, 8);
  EXPECT_EQ(b0, 2.5);
  EXPECT_EQ(a1, 3);
  EXPECT_EQ(b1, -1.0);

  const PickleValue& m = Get(root, "matrix");
  ASSERT_TRUE(m.is_object() && !m.items.empty());
  EXPECT_EQ(m.items[0]->global.FullName(), "numpy.matrix");
  Tensor mt = ToTensor(m, "matrix");
  EXPECT_EQ(mt.shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<int64_t>(mt), (std::vector<int64_t>{1, 2, 3, 4}));

  Tensor s = ToTensor(Get(root, "scalar"), "scalar");
  EXPECT_EQ(Values<double>(s), (std::vector<double>{2.25}));
  EXPECT_EQ(Get(root, "text").str_value, "h\xC3\xA9llo");

  const PickleValue& nested = Get(root, "nested");
  ASSERT_TRUE(nested.is_list());
  ASSERT_EQ(nested.items.size(), 2u);
  Tensor n0 = ToTensor(*nested.items[0], "nested[0]");
  EXPECT_EQ(Values<int32_t>(n0), (std::vector<int32_t>{0, 1, 2}));
  ASSERT_TRUE(nested.items[1]->is_tuple());
  Tensor n1 = ToTensor(*nested.items[1]->items[0], "nested[1][0]");
  EXPECT_EQ(n1.dtype(), DType::kFloat16);
  EXPECT_EQ(n1.shape(), Shape{2});
}

// The list in joblib's own test data (joblib/test/data/create_numpy_pickle.py):
// [arange(5) <i8, arange(5) <f8, object [1, 'abc', {'a': 1, 'b': 2}],
//  bytes 0..255, matrix([[0, 1, 2]]) <i8, "C'est l'été !"].
void CheckJoblibTestData(const PickleValue& root, const std::string& file) {
  SCOPED_TRACE(file);
  ASSERT_TRUE(root.is_list()) << root.DebugString();
  ASSERT_EQ(root.items.size(), 6u);
  Tensor i = ToTensor(*root.items[0], "arange i8");
  ASSERT_EQ(i.dtype(), DType::kInt64);
  EXPECT_EQ(Values<int64_t>(i), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  Tensor f = ToTensor(*root.items[1], "arange f8");
  ASSERT_EQ(f.dtype(), DType::kFloat64);
  EXPECT_EQ(Values<double>(f), (std::vector<double>{0, 1, 2, 3, 4}));
  auto o = NumpyObjectArrayItems(*root.items[2]);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  ASSERT_EQ(o->items.size(), 3u);
  EXPECT_EQ(o->items[0]->int_value, 1);
  EXPECT_EQ(o->items[1]->str_value, "abc");
  ASSERT_TRUE(o->items[2]->is_dict());
  EXPECT_EQ(Get(*o->items[2], "a").int_value, 1);
  EXPECT_EQ(Get(*o->items[2], "b").int_value, 2);
  // Python 3 bytes, or a Python 2 str (decoded as latin-1, as pickle.load
  // with encoding='latin1' would).
  const PickleValue& raw = *root.items[3];
  std::string want;
  for (int c = 0; c < 256; ++c) want.push_back(static_cast<char>(c));
  if (raw.is_bytes()) {
    EXPECT_EQ(raw.str_value, want);
  } else {
    ASSERT_TRUE(raw.is_str()) << raw.TypeName();
    EXPECT_EQ(raw.str_value.size(), 128u + 2 * 128u);
  }
  const PickleValue& m = *root.items[4];
  ASSERT_TRUE(m.is_object() && !m.items.empty()) << m.DebugString();
  EXPECT_EQ(m.items[0]->global.FullName(), "numpy.matrix");
  Tensor mt = ToTensor(m, "matrix");
  EXPECT_EQ(mt.shape(), (Shape{1, 3}));
  EXPECT_EQ(Values<int64_t>(mt), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(root.items[5]->str_value, "C'est l'\xC3\xA9t\xC3\xA9 !");
}

// ------------------------------------------------------------ joblib ----

TEST(Joblib, EveryProtocol) {
  for (int proto = 2; proto <= 5; ++proto) {
    std::string name = "payload_p" + std::to_string(proto) + ".joblib";
    auto f = Load(GoldenDir() / name);
    ASSERT_TRUE(f.ok()) << name << ": " << f.status().ToString();
    EXPECT_EQ(f->pickle_protocol, proto) << name;
    EXPECT_EQ(f->compression, "none");
    EXPECT_TRUE(f->numpy_arrays_inline);
    EXPECT_EQ(f->n_arrays, 16) << name;
    EXPECT_TRUE(f->side_files.empty());
    CheckPayload(f->root, name);
  }
}

TEST(Joblib, EveryCompression) {
  const std::pair<const char*, const char*> cases[] = {
      {"z", "zlib"},    {"gz", "gzip"}, {"bz2", "bz2"},  {"xz", "xz"},
      {"lzma", "lzma"}, {"lz4", "lz4"}, {"zst", "zstd"},
  };
  std::string plain = ReadFile(GoldenDir() / "payload_p4.joblib");
  for (const auto& [ext, method] : cases) {
    std::string name = std::string("payload_p4.joblib.") + ext;
    auto f = Load(GoldenDir() / name);
    ASSERT_TRUE(f.ok()) << name << ": " << f.status().ToString();
    EXPECT_EQ(f->compression, method) << name;
    EXPECT_EQ(f->pickle_protocol, 4);
    CheckPayload(f->root, name);
    // Every compressor wraps exactly the uncompressed file.
    std::string got_method;
    auto d =
        DecompressStream(ReadFile(GoldenDir() / name), kDefaultMaxDecompressedBytes, &got_method);
    ASSERT_TRUE(d.ok()) << name << ": " << d.status().ToString();
    EXPECT_EQ(got_method, method);
    EXPECT_TRUE(*d == plain) << name;
  }
}

TEST(Joblib, AlignmentPaddingAbsentOrNone) {
  // numpy_array_alignment_bytes=None (unseekable file) and no such key
  // (joblib <= 1.1): no padding byte before the data.
  for (const char* name : {"payload_p4_unseekable.joblib", "payload_p3_noalign.joblib"}) {
    auto f = Load(GoldenDir() / name);
    ASSERT_TRUE(f.ok()) << name << ": " << f.status().ToString();
    CheckPayload(f->root, name);
  }
}

TEST(Joblib, ExternalJoblibTestData) {
  if (!fs::is_directory(ExternalDir())) GTEST_SKIP() << "no " << ExternalDir();
  int mains = 0;
  for (const auto& entry : fs::directory_iterator(ExternalDir())) {
    std::string name = entry.path().filename().string();
    if (name.size() > 4 && name.substr(name.size() - 4) == ".npy") continue;  // side files
    ++mains;
    auto f = Load(entry.path());
    ASSERT_TRUE(f.ok()) << name << ": " << f.status().ToString();
    CheckJoblibTestData(f->root, name);
    if (name.find("0.9.2_pickle") != std::string::npos) {
      // joblib 0.9 side files; the fixture was renamed after the dump.
      EXPECT_EQ(f->side_files.size(), 4u) << name;
      EXPECT_FALSE(f->numpy_arrays_inline);
    } else if (name.find("0.9.2_compressed") != std::string::npos) {
      EXPECT_EQ(f->compression, "zfile");
      EXPECT_EQ(f->n_arrays, 0);
    } else {
      EXPECT_TRUE(f->numpy_arrays_inline) << name;
      EXPECT_EQ(f->n_arrays, 4) << name;
    }
    for (const char* method : {"zstd", "lz4", "lzma", "xz", "bz2"}) {
      if (name.find(std::string(".") + method) != std::string::npos) {
        EXPECT_EQ(f->compression, method) << name;
      }
    }
  }
  EXPECT_EQ(mains, 10);
}

TEST(Joblib, LegacyFormats) {
  {  // joblib 0.9: NDArrayWrapper and .npy side files (one holds a pickled object array).
    auto f = Load(GoldenDir() / "joblib_0.9.2_pickle_py35_np19.pkl");
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    CheckJoblibTestData(f->root, "0.9.2");
    EXPECT_EQ(f->side_files,
              (std::vector<std::string>{"joblib_0.9.2_pickle_py35_np19.pkl_01.npy",
                                        "joblib_0.9.2_pickle_py35_np19.pkl_02.npy",
                                        "joblib_0.9.2_pickle_py35_np19.pkl_03.npy",
                                        "joblib_0.9.2_pickle_py35_np19.pkl_04.npy"}));
    EXPECT_EQ(f->n_arrays, 4);
  }
  {  // joblib 0.9 compressed: ZF main file, ZNDArrayWrapper + ZF side files.
    auto f = Load(GoldenDir() / "joblib_0.9.4.dev0_compressed_cache_size_pickle_py35_np19.gz");
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    EXPECT_EQ(f->compression, "zfile");
    EXPECT_EQ(f->side_files.size(), 3u);
    CheckJoblibTestData(f->root, "0.9.4 cache_size");
  }
  {  // joblib 0.8: ZF header one character wider, Python 2 pickle.
    auto f = Load(GoldenDir() / "joblib_0.8.4_compressed_pickle_py27_np17.gz");
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    EXPECT_EQ(f->compression, "zfile");
    EXPECT_EQ(f->pickle_protocol, 2);
    CheckJoblibTestData(f->root, "0.8.4");
  }
}

TEST(Joblib, RenamedDumpFindsItsSideFiles) {
  TempDir dir;
  const std::string stem = "joblib_0.9.2_pickle_py35_np19.pkl";
  fs::copy_file(GoldenDir() / stem, dir.path() / "model.pkl");
  for (const char* n : {"_01.npy", "_02.npy", "_03.npy", "_04.npy"}) {
    fs::copy_file(GoldenDir() / (stem + n), dir.path() / (std::string("model.pkl") + n));
  }
  auto f = Load(dir.path() / "model.pkl");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  CheckJoblibTestData(f->root, "renamed");
  EXPECT_EQ(f->side_files[0], "model.pkl_01.npy");

  fs::remove(dir.path() / "model.pkl_03.npy");
  auto missing = Load(dir.path() / "model.pkl");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("joblib array #3"));
  EXPECT_THAT(missing.status().message(), HasSubstr("model.pkl_03.npy"));
}

TEST(Joblib, SideFilesMayNotEscapeTheDirectory) {
  auto f = Load(GoldenDir() / "evil_side_escape.pkl");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(f.status().message(), HasSubstr("'../outside.npy'"));

  // A symlink named like a side file that points outside is refused; one that
  // stays in the directory is fine.
  TempDir dir;
  const std::string stem = "joblib_0.9.2_pickle_py35_np19.pkl";
  fs::create_directories(dir.path() / "inner");
  fs::copy_file(GoldenDir() / stem, dir.path() / "inner" / stem);
  for (const char* n : {"_01.npy", "_02.npy", "_03.npy"}) {
    fs::copy_file(GoldenDir() / (stem + n), dir.path() / "inner" / (stem + n));
  }
  fs::copy_file(GoldenDir() / (stem + "_04.npy"), dir.path() / "outside.npy");
  fs::create_symlink("../outside.npy", dir.path() / "inner" / (stem + "_04.npy"));
  auto escaped = Load(dir.path() / "inner" / stem);
  ASSERT_FALSE(escaped.ok());
  EXPECT_EQ(escaped.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(escaped.status().message(), HasSubstr("leads outside"));

  fs::remove(dir.path() / "inner" / (stem + "_04.npy"));
  fs::copy_file(GoldenDir() / (stem + "_04.npy"), dir.path() / "inner" / "real_04.npy");
  fs::create_symlink("real_04.npy", dir.path() / "inner" / (stem + "_04.npy"));
  auto inside = Load(dir.path() / "inner" / stem);
  ASSERT_TRUE(inside.ok()) << inside.status().ToString();
  CheckJoblibTestData(inside->root, "symlink inside");
}

TEST(Joblib, BytesWithoutADirectoryRefuseSideFiles) {
  std::string bytes = ReadFile(GoldenDir() / "joblib_0.9.2_pickle_py35_np19.pkl");
  auto f = ReadJoblibOrPickleBytes(bytes, "", PickleOptions());
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kFailedPrecondition);
  auto g = ReadJoblibOrPickleBytes(bytes, GoldenDir().string(), PickleOptions());
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  CheckJoblibTestData(g->root, "bytes + dir");
}

TEST(Joblib, HugeDeclaredShapeIsRefusedBeforeAllocating) {
  auto f = Load(GoldenDir() / "evil_huge_shape.joblib");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(f.status().message(), HasSubstr("joblib array #1"));
  EXPECT_THAT(f.status().message(), HasSubstr("[1099511627776,1099511627776]"));
}

TEST(Joblib, EveryPrefixIsAnError) {
  const char* files[] = {
      "payload_p4.joblib",
      "payload_p2.joblib",
      "payload_p4_unseekable.joblib",
      "payload_p4.joblib.z",
      "payload_p4.joblib.gz",
      "payload_p4.joblib.bz2",
      "payload_p4.joblib.xz",
      "payload_p4.joblib.lzma",
      "payload_p4.joblib.lz4",
      "payload_p4.joblib.zst",
      "joblib_0.8.4_compressed_pickle_py27_np17.gz",
      "joblib_0.9.4.dev0_compressed_cache_size_pickle_py35_np19.gz",
  };
  for (const char* name : files) {
    std::string bytes = ReadFile(GoldenDir() / name);
    ASSERT_TRUE(ReadJoblibOrPickleBytes(bytes, GoldenDir().string(), PickleOptions()).ok()) << name;
    for (size_t n = 0; n < bytes.size(); ++n) {
      auto f = ReadJoblibOrPickleBytes(std::string_view(bytes).substr(0, n), GoldenDir().string(),
                                       PickleOptions());
      ASSERT_FALSE(f.ok()) << name << " cut at " << n;
    }
  }
}

TEST(Joblib, CorruptBytesNeverCrash) {
  // Every byte of a small joblib file flipped in turn, uncompressed and as
  // zlib: errors are fine, crashes and over-reads are not.
  for (const char* name : {"payload_p4.joblib", "payload_p3_noalign.joblib"}) {
    std::string bytes = ReadFile(GoldenDir() / name);
    for (size_t i = 0; i < bytes.size(); ++i) {
      for (uint8_t x : {0x01, 0x80, 0xff}) {
        std::string b = bytes;
        b[i] = static_cast<char>(static_cast<uint8_t>(b[i]) ^ x);
        (void)ReadJoblibOrPickleBytes(b, "", PickleOptions());
      }
    }
  }
}

TEST(Joblib, PlainPickleIsAJoblibFile) {
  auto f = Load(SourceDir() / "tests/golden/pickle/np_f32_p2.pkl");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->pickle_protocol, 2);
  EXPECT_EQ(f->n_arrays, 0);
  EXPECT_FALSE(f->numpy_arrays_inline);
  Tensor t = ToTensor(f->root, "np_f32_p2");
  EXPECT_EQ(Values<float>(t), (std::vector<float>{0, 0.5, 1, 1.5, 2, 2.5}));
  auto p0 = Load(SourceDir() / "tests/golden/pickle/nested_p0.pkl");
  ASSERT_TRUE(p0.ok()) << p0.status().ToString();
  EXPECT_EQ(p0->pickle_protocol, 0);
  auto p1 = Load(SourceDir() / "tests/golden/pickle/nested_p1.pkl");
  ASSERT_TRUE(p1.ok()) << p1.status().ToString();
  EXPECT_EQ(p1->pickle_protocol, 1);
}

TEST(Joblib, CallersAfterBuildStillRunsAndLimitsApply) {
  int dtypes = 0;
  PickleOptions o;
  o.after_build = [&](const PickleValue& built, PickleInput*) -> Result<PickleRef> {
    EXPECT_NE(built.global.module, "joblib.numpy_pickle");
    if (built.global.FullName() == "numpy.dtype") ++dtypes;
    return PickleRef();
  };
  auto f = Load(GoldenDir() / "payload_p4.joblib", o);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_GT(dtypes, 10);

  PickleOptions small;
  small.max_bytes = 2000;  // the file is 1016 bytes, its stream 2290
  auto g = Load(GoldenDir() / "payload_p4.joblib.gz", small);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(g.status().message(), HasSubstr("gzip"));
}

TEST(Joblib, SklearnModelsLoad) {
  fs::path dir = SourceDir() / "../shared/fixtures/external/sklearn";
  if (!fs::is_directory(dir)) GTEST_SKIP() << "no " << dir;
  PickleOptions o;
  o.allowed_globals = {"sklearn.*", "builtins.slice", "collections.defaultdict",
                       "numpy.random._pickle.__randomstate_ctor",
                       "numpy.random.__RandomState_ctor"};
  int loaded = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name.size() < 7 || name.substr(name.size() - 7) != ".joblib") continue;
    auto f = Load(entry.path(), o);
    if (name.find("dill-globals") != std::string::npos) {
      ASSERT_FALSE(f.ok()) << name;
      EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
      EXPECT_THAT(f.status().message(), HasSubstr("dill"));
      continue;
    }
    ASSERT_TRUE(f.ok()) << name << ": " << f.status().ToString();
    EXPECT_TRUE(f->numpy_arrays_inline) << name;
    EXPECT_GT(f->n_arrays, 0) << name;
    // Every array in the model converts by numpy.h's functions.
    int64_t arrays = 0;
    std::function<void(const PickleValue&)> walk = [&](const PickleValue& v) {
      if (v.IsObjectOf("numpy._core.multiarray._reconstruct")) {
        ++arrays;
        bool ok = NumpyArrayToTensor(v).ok() || NumpyObjectArrayItems(v).ok() ||
                  NumpyStructuredArrayFromPickle(v).ok();
        EXPECT_TRUE(ok) << name << ": " << v.DebugString(300);
      }
      for (const auto& c : v.items) walk(*c);
      for (const auto& [k, x] : v.entries) walk(*x);
      if (v.state) walk(*v.state);
    };
    walk(f->root);
    EXPECT_GE(arrays, f->n_arrays) << name;
    ++loaded;
  }
  EXPECT_GT(loaded, 5);
}

// ------------------------------------------------------- compression ----

TEST(Compression, DetectsByMagicOnly) {
  EXPECT_EQ(DetectCompression(std::string("\x78\x9c", 2)), "zlib");
  EXPECT_EQ(DetectCompression(std::string("\x78\x9d", 2)), "none");  // header check fails
  EXPECT_EQ(DetectCompression("\x1f\x8b"), "gzip");
  EXPECT_EQ(DetectCompression("BZh9"), "bz2");
  EXPECT_EQ(DetectCompression("BZh0"), "none");
  EXPECT_EQ(DetectCompression(std::string("\xfd\x37\x7a\x58\x5a\x00", 6)), "xz");
  EXPECT_EQ(DetectCompression(std::string("\x5d\0\0\x40", 4)), "lzma");
  EXPECT_EQ(DetectCompression("\x04\x22\x4d\x18"), "lz4");
  EXPECT_EQ(DetectCompression("\x28\xb5\x2f\xfd"), "zstd");
  EXPECT_EQ(DetectCompression("\x80\x04\x95"), "none");
  EXPECT_EQ(DetectCompression(""), "none");
  std::string method;
  auto same = DecompressStream("\x80\x02N.", 100, &method);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, "\x80\x02N.");
  EXPECT_EQ(method, "none");
}

TEST(Compression, BoundsTheOutput) {
  std::string plain = ReadFile(GoldenDir() / "payload_p4.joblib");
  for (const char* ext : {"z", "gz", "bz2", "xz", "lzma", "lz4", "zst"}) {
    std::string bytes = ReadFile(GoldenDir() / (std::string("payload_p4.joblib.") + ext));
    std::string method;
    auto exact = DecompressStream(bytes, plain.size(), &method);
    ASSERT_TRUE(exact.ok()) << ext << ": " << exact.status().ToString();
    auto over = DecompressStream(bytes, plain.size() - 1, &method);
    ASSERT_FALSE(over.ok()) << ext;
    EXPECT_EQ(over.status().code(), StatusCode::kResourceExhausted) << ext;
    EXPECT_THAT(over.status().message(), HasSubstr(method + ": decompressed data exceeds"));
    EXPECT_THAT(over.status().message(), HasSubstr(std::to_string(plain.size() - 1)));
  }
}

TEST(Compression, ConcatenatedMembersAndTrailingBytes) {
  std::string plain = ReadFile(GoldenDir() / "payload_p4.joblib");
  for (const char* ext : {"gz", "bz2", "xz", "lz4", "zst"}) {
    std::string bytes = ReadFile(GoldenDir() / (std::string("payload_p4.joblib.") + ext));
    auto two = DecompressStream(bytes + bytes, kDefaultMaxDecompressedBytes, nullptr);
    ASSERT_TRUE(two.ok()) << ext << ": " << two.status().ToString();
    EXPECT_TRUE(*two == plain + plain) << ext;
    auto trailing = DecompressStream(bytes + "trailing", kDefaultMaxDecompressedBytes, nullptr);
    ASSERT_TRUE(trailing.ok()) << ext << ": " << trailing.status().ToString();
    EXPECT_TRUE(*trailing == plain) << ext;
  }
}

TEST(Compression, CorruptAndTruncatedStreamsNameTheMethod) {
  const std::pair<const char*, const char*> cases[] = {
      {"z", "zlib"},    {"gz", "gzip"}, {"bz2", "bz2"},  {"xz", "xz"},
      {"lzma", "lzma"}, {"lz4", "lz4"}, {"zst", "zstd"},
  };
  for (const auto& [ext, method] : cases) {
    std::string bytes = ReadFile(GoldenDir() / (std::string("payload_p4.joblib.") + ext));
    auto cut = DecompressStream(std::string_view(bytes).substr(0, bytes.size() / 2),
                                kDefaultMaxDecompressedBytes, nullptr);
    ASSERT_FALSE(cut.ok()) << ext;
    EXPECT_EQ(cut.status().code(), StatusCode::kDataLoss) << ext;
    EXPECT_THAT(cut.status().message(), HasSubstr(std::string(method) + ":"));
    // Flip bytes in the middle; a checksum or the decoder itself objects
    // (lz4 frames written by joblib carry a content checksum).
    std::string bad = bytes;
    for (size_t i = bad.size() / 3; i < bad.size() / 3 + 8; ++i)
      bad[i] = static_cast<char>(~bad[i]);
    auto corrupt = DecompressStream(bad, kDefaultMaxDecompressedBytes, nullptr);
    if (!corrupt.ok()) {
      EXPECT_THAT(corrupt.status().message(), HasSubstr(std::string(method) + ":")) << ext;
    }
  }
}

TEST(Compression, InflateZlibExactlyChecksTheSize) {
  std::string z = ReadFile(GoldenDir() / "payload_p4.joblib.z");
  std::string plain = ReadFile(GoldenDir() / "payload_p4.joblib");
  auto ok = InflateZlibExactly(z, plain.size(), kDefaultMaxDecompressedBytes);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(*ok == plain);
  auto shorter = InflateZlibExactly(z, plain.size() - 1, kDefaultMaxDecompressedBytes);
  EXPECT_EQ(shorter.status().code(), StatusCode::kDataLoss);
  auto longer = InflateZlibExactly(z, plain.size() + 1, kDefaultMaxDecompressedBytes);
  EXPECT_EQ(longer.status().code(), StatusCode::kDataLoss);
  auto limit = InflateZlibExactly(z, plain.size(), plain.size() - 1);
  EXPECT_EQ(limit.status().code(), StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace tiffin::pickle
