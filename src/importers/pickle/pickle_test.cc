#include "importers/pickle/pickle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "importers/pickle/numpy.h"

namespace tiffin::pickle {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Kind = PickleValue::Kind;
using namespace std::string_literals;

fs::path SourceDir() {
  const char* env = std::getenv("TIFFIN_SOURCE_DIR");
  return env ? fs::path(env) : fs::path(TIFFIN_SOURCE_DIR_DEFAULT);
}

std::string ReadFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  EXPECT_TRUE(f.good()) << "missing fixture " << p << " (run tests/golden/gen/gen_pickles.py)";
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string Fixture(const std::string& name) {
  return ReadFile(SourceDir() / "tests/golden/pickle" / name);
}

PickleOptions NumpyOptions() {
  PickleOptions o;
  o.allowed_globals = kNumpyAllowedGlobals;
  return o;
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

void CheckNested(const PickleValue& v, int proto) {
  SCOPED_TRACE("protocol " + std::to_string(proto));
  ASSERT_EQ(v.kind, Kind::kDict);
  const PickleValue& ints = Get(v, "ints");
  ASSERT_EQ(ints.kind, Kind::kList);
  ASSERT_EQ(ints.items.size(), 14u);
  const int64_t want[] = {
      0,         1,        -1, 255, 256, 65535, 65536, -2147483648LL, 2147483647, 2147483648LL,
      INT64_MAX, INT64_MIN};
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_TRUE(ints.items[i]->is_int()) << i;
    EXPECT_EQ(ints.items[i]->int_value, want[i]) << i;
  }
  // 2**64: 9 bytes 00..00 01 00? -> LE two's complement 00 x8, 01.
  const PickleValue& big = *ints.items[12];
  EXPECT_TRUE(big.is_big_int);
  EXPECT_EQ(big.big_int, std::string("\0\0\0\0\0\0\0\0\x01", 9));
  const PickleValue& neg = *ints.items[13];  // -2**100
  EXPECT_TRUE(neg.is_big_int);
  ASSERT_EQ(neg.big_int.size(), 13u);
  EXPECT_EQ(static_cast<uint8_t>(neg.big_int[12]), 0xF0);
  for (size_t i = 0; i < 12; ++i) EXPECT_EQ(neg.big_int[i], 0) << i;

  const PickleValue& floats = Get(v, "floats");
  ASSERT_EQ(floats.items.size(), 4u);
  EXPECT_EQ(floats.items[0]->float_value, 0.0);
  EXPECT_EQ(floats.items[1]->float_value, -1.5);
  EXPECT_EQ(floats.items[2]->float_value, 1e300);
  EXPECT_TRUE(std::isinf(floats.items[3]->float_value));

  EXPECT_EQ(Get(v, "str").kind, Kind::kStr);
  EXPECT_EQ(Get(v, "str").str_value, "h\xC3\xA9llo \xE2\x98\x83 \xF0\x9D\x84\x9E");
  EXPECT_EQ(Get(v, "bytes").kind, Kind::kBytes);
  EXPECT_EQ(Get(v, "bytes").str_value, std::string("\0\xff"
                                                   "ab",
                                                   4));

  const PickleValue& tup = Get(v, "tuple");
  ASSERT_EQ(tup.kind, Kind::kTuple);
  ASSERT_EQ(tup.items.size(), 3u);
  EXPECT_EQ(tup.items[0]->int_value, 1);
  EXPECT_EQ(tup.items[1]->str_value, "a");
  EXPECT_TRUE(tup.items[2]->is_none());
  EXPECT_EQ(Get(v, "empty_tuple").kind, Kind::kTuple);
  EXPECT_TRUE(Get(v, "empty_tuple").items.empty());

  const PickleValue& list = Get(v, "list");
  ASSERT_EQ(list.items.size(), 3u);
  EXPECT_EQ(list.items[0]->kind, Kind::kBool);
  EXPECT_TRUE(list.items[0]->bool_value);
  EXPECT_EQ(list.items[1]->kind, Kind::kBool);
  EXPECT_FALSE(list.items[1]->bool_value);
  EXPECT_TRUE(list.items[2]->is_none());

  EXPECT_EQ(Get(v, "set").kind, Kind::kSet);
  ASSERT_EQ(Get(v, "set").items.size(), 1u);
  EXPECT_EQ(Get(v, "set").items[0]->int_value, 3);
  EXPECT_EQ(Get(v, "frozenset").kind, Kind::kFrozenSet);
  ASSERT_EQ(Get(v, "frozenset").items.size(), 1u);
  EXPECT_EQ(Get(v, "frozenset").items[0]->str_value, "x");

  const PickleValue& shared = Get(v, "shared");
  ASSERT_EQ(shared.items.size(), 2u);
  EXPECT_EQ(shared.items[0].get(), shared.items[1].get()) << "memo must share one value";
  ASSERT_EQ(shared.items[0]->items.size(), 2u);
  EXPECT_EQ(shared.items[0]->items[1]->int_value, 2);
}

TEST(Pickle, NestedEveryProtocol) {
  for (int proto = 0; proto <= 5; ++proto) {
    auto v = ParsePickle(Fixture("nested_p" + std::to_string(proto) + ".pkl"), PickleOptions());
    ASSERT_TRUE(v.ok()) << proto << ": " << v.status().ToString();
    CheckNested(*v, proto);
  }
}

TEST(Pickle, TruncatedAtEveryOffsetIsRefused) {
  for (const char* name : {"nested_p0.pkl", "nested_p2.pkl", "nested_p4.pkl", "np_f32_p4.pkl"}) {
    std::string bytes = Fixture(name);
    for (size_t n = 0; n < bytes.size(); ++n) {
      auto v = ParsePickle(std::string_view(bytes).substr(0, n), NumpyOptions());
      ASSERT_FALSE(v.ok()) << name << " cut at " << n;
      EXPECT_FALSE(v.status().message().empty());
    }
  }
}

TEST(Pickle, CorruptedBytesNeverCrash) {
  // Flip every byte of a few files to a few values: any result is fine, a
  // crash is not.
  for (const char* name : {"nested_p2.pkl", "nested_p4.pkl", "np_struct.pkl"}) {
    std::string bytes = Fixture(name);
    for (size_t i = 0; i < bytes.size(); ++i) {
      for (uint8_t x : {0x00, 0x28, 0x2E, 0x80, 0xFF}) {
        std::string b = bytes;
        b[i] = static_cast<char>(x);
        auto v = ParsePickle(b, NumpyOptions());
        if (v.ok()) (void)v->DebugString();
        (void)ListGlobals(b);
      }
    }
  }
}

TEST(Pickle, RandomMutationsNeverCrash) {
  // Deterministic pseudo-random edits (overwrite, insert, delete, splice)
  // of several fixtures; every result that parses is also pushed through the
  // numpy helpers. Run under ASan/UBSan to make this meaningful.
  const char* files[] = {"nested_p0.pkl",     "nested_p5.pkl",  "np_struct.pkl", "np_f32_p5.pkl",
                         "np_fortran_p2.pkl", "np_scalars.pkl", "np_object.pkl", "np_str_u_p4.pkl"};
  uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&]() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  int parsed = 0;
  for (const char* name : files) {
    const std::string base = Fixture(name);
    for (int iter = 0; iter < 1500; ++iter) {
      std::string b = base;
      int edits = 1 + static_cast<int>(next() % 4);
      for (int e = 0; e < edits && !b.empty(); ++e) {
        size_t at = next() % b.size();
        switch (next() % 4) {
          case 0:
            b[at] = static_cast<char>(next());
            break;
          case 1:
            b.insert(b.begin() + static_cast<ptrdiff_t>(at), static_cast<char>(next()));
            break;
          case 2:
            b.erase(at, 1 + next() % 8);
            break;
          default: {
            size_t from = next() % base.size();
            b.insert(at, base.substr(from, 1 + next() % 16));
          }
        }
      }
      auto v = ParsePickle(b, NumpyOptions());
      (void)ListGlobals(b);
      if (!v.ok()) continue;
      ++parsed;
      (void)v->DebugString();
      std::vector<const PickleValue*> todo = {&*v};
      for (size_t k = 0; k < todo.size() && k < 10000; ++k) {
        (void)NumpyArrayToTensor(*todo[k]);
        (void)NumpyObjectArrayItems(*todo[k]);
        (void)NumpyStructuredArrayFromPickle(*todo[k]);
        for (const auto& c : todo[k]->items) todo.push_back(c.get());
        if (todo[k]->state) todo.push_back(todo[k]->state.get());
      }
    }
  }
  std::cout << parsed << " mutated streams still parsed\n";
}

TEST(Pickle, RefusesOsSystem) {
  auto v = ParsePickle(Fixture("evil_os_system.pkl"), PickleOptions());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(v.status().message(), HasSubstr("os.system"));
}

TEST(Pickle, RefusesDangerousEvenIfAllowListed) {
  PickleOptions o;
  o.allowed_globals = {"os.system", "builtins.eval", "posix.system", "subprocess.*", "builtins.*"};
  for (const auto& [file, name] : std::vector<std::pair<std::string, std::string>>{
           {"evil_os_system.pkl", "os.system"},
           {"evil_eval.pkl", "__builtin__.eval"},
           {"evil_posix_stack_global.pkl", "posix.system"},
           {"evil_subprocess.pkl", "subprocess.Popen"}}) {
    auto v = ParsePickle(Fixture(file), o);
    ASSERT_FALSE(v.ok()) << file;
    EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument) << file;
    EXPECT_THAT(v.status().message(), HasSubstr(name)) << file;
  }
}

// The hostile corpus (tests/golden/pickle/evil_manifest.tsv, written by
// gen_pickles.py): each file, if Python unpickled it, would create its marker
// file /tmp/tiffin_pwned_<name> (gen_pickles.py --verify-payloads proves it).
struct HostileFile {
  std::string file;
  std::vector<std::string> names;  // globals the refusal may name; [0] = the subject
  std::string marker;
};

std::vector<HostileFile> HostileManifest() {
  std::vector<HostileFile> rows;
  std::istringstream in(Fixture("evil_manifest.tsv"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    HostileFile row;
    std::string names;
    std::getline(fields, row.file, '\t');
    std::getline(fields, names, '\t');
    std::getline(fields, row.marker, '\t');
    std::istringstream alternatives(names);
    for (std::string n; std::getline(alternatives, n, '|');) row.names.push_back(n);
    rows.push_back(row);
  }
  return rows;
}

bool NamesOneOf(std::string_view message, const std::vector<std::string>& names) {
  for (const auto& n : names)
    if (message.find(n) != std::string_view::npos) return true;
  return false;
}

void RemoveMarkers(const std::vector<HostileFile>& rows) {
  for (const auto& row : rows) fs::remove(row.marker);
}

void ExpectNoMarkers(const std::vector<HostileFile>& rows) {
  for (const auto& row : rows) EXPECT_FALSE(fs::exists(row.marker)) << row.marker << " exists";
}

// What the scikit-learn importer allows (src/importers/sklearn/sklearn.cc).
PickleOptions SklearnLikeOptions() {
  PickleOptions o;
  o.allowed_globals = kNumpyAllowedGlobals;
  for (const char* g : {"sklearn.*", "numpy.random.*", "builtins.slice", "builtins.object"})
    o.allowed_globals.push_back(g);
  return o;
}

// Files that parse under the scikit-learn allow-list because their subject is
// under sklearn.* (a function that runs Python, or a dotted name through the
// os module that sklearn/__init__.py imports): the importer refuses the first
// three for their shape (tests/cli/hostile_files_test.py), and loads the
// others. Each entry is checked to still parse.
const std::set<std::string> kSklearnAllowListGaps = {};

TEST(Pickle, HostileCorpusIsRefusedAndNamed) {
  const auto rows = HostileManifest();
  ASSERT_GE(rows.size(), 35u);
  RemoveMarkers(rows);
  for (const auto& row : rows) {
    SCOPED_TRACE(row.file);
    ASSERT_FALSE(row.names.empty());
    const std::string bytes = Fixture(row.file);
    // With an empty allow-list every file is refused, naming some global.
    auto bare = ParsePickle(bytes, PickleOptions());
    ASSERT_FALSE(bare.ok());
    EXPECT_EQ(bare.status().code(), StatusCode::kInvalidArgument) << bare.status().ToString();
    EXPECT_THAT(bare.status().message(), HasSubstr("refusing"));
    // The file really contains what it is about.
    auto globals = ListGlobals(bytes);
    if (globals.ok()) {
      std::vector<std::string> full;
      for (const auto& g : *globals) full.push_back(g.FullName());
      EXPECT_THAT(full, ::testing::Contains(CanonicalModule(row.names[0])));
    } else {
      EXPECT_EQ(row.file, "evil_payload_then_garbage.pkl") << globals.status().ToString();
    }
    // With the scikit-learn allow-list the refusal names the file's global.
    auto v = ParsePickle(bytes, SklearnLikeOptions());
    if (kSklearnAllowListGaps.count(row.file)) {
      EXPECT_TRUE(v.ok()) << "refused now (" << v.status().ToString()
                          << "): remove it from kSklearnAllowListGaps";
      continue;
    }
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument) << v.status().ToString();
    EXPECT_TRUE(NamesOneOf(v.status().message(), row.names))
        << v.status().ToString() << "\nwant one of: " << ::testing::PrintToString(row.names);
  }
  ExpectNoMarkers(rows);
}

// Files that a caller who allow-lists every module they name still gets
// parsed: their subject is not on the deny list. Each entry is checked to
// still parse, so that a stricter deny list shows up here.
const std::set<std::string> kDenyListGaps = {};

TEST(Pickle, HostileCorpusIsRefusedEvenIfEveryModuleIsAllowListed) {
  const auto rows = HostileManifest();
  RemoveMarkers(rows);
  PickleOptions o;
  for (const char* m :
       {"builtins",  "__builtin__", "os",      "posix",     "subprocess", "operator",
        "functools", "pickle",      "_pickle", "marshal",   "types",      "dill",
        "torch",     "_io",         "shutil",  "importlib", "webbrowser", "pty",
        "runpy",     "code",        "sklearn", "numpy",     "tarfile"}) {
    o.allowed_globals.push_back(std::string(m) + ".*");
  }
  for (const auto& row : rows) {
    SCOPED_TRACE(row.file);
    auto v = ParsePickle(Fixture(row.file), o);
    if (kDenyListGaps.count(row.file)) {
      EXPECT_TRUE(v.ok()) << "refused now (" << v.status().ToString()
                          << "): remove it from kDenyListGaps";
      continue;
    }
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument) << v.status().ToString();
    // Dangerous names are refused where they appear, so the first dangerous
    // one in the stream is named (the subject, or a helper it builds on,
    // like types.FunctionType before marshal.loads).
    EXPECT_THAT(v.status().message(), HasSubstr("refusing global '"));
    EXPECT_TRUE(NamesOneOf(v.status().message(), row.names)) << v.status().ToString();
  }
  ExpectNoMarkers(rows);
}

TEST(Pickle, RefusesUnlistedClassNamingIt) {
  auto v = ParsePickle(Fixture("evil_unknown_class.pkl"), PickleOptions());
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(), HasSubstr("mypackage.models.Unknown"));
  EXPECT_THAT(v.status().message(), HasSubstr("allow-list"));

  PickleOptions o;
  o.allowed_globals = {"mypackage.models.Unknown"};
  auto ok = ParsePickle(Fixture("evil_unknown_class.pkl"), o);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(ok->IsObjectOf("mypackage.models.Unknown"));
  EXPECT_EQ(ok->built_by, "NEWOBJ");
  ASSERT_NE(ok->state, nullptr);
  EXPECT_TRUE(ok->state->is_dict());

  o.allowed_globals = {"mypackage.*"};
  EXPECT_TRUE(ParsePickle(Fixture("evil_unknown_class.pkl"), o).ok());
}

TEST(Pickle, RefusesHugeLengthsAndFrames) {
  for (const char* f : {"evil_huge_len.pkl", "evil_huge_frame.pkl"}) {
    auto v = ParsePickle(Fixture(f), PickleOptions());
    ASSERT_FALSE(v.ok()) << f;
    EXPECT_EQ(v.status().code(), StatusCode::kDataLoss) << f;
    EXPECT_THAT(v.status().message(), HasSubstr("left")) << f;
  }
}

TEST(Pickle, RefusesDeepNesting) {
  for (const char* f : {"evil_deep_lists.pkl", "evil_deep_marks.pkl"}) {
    auto v = ParsePickle(Fixture(f), PickleOptions());
    ASSERT_FALSE(v.ok()) << f;
    EXPECT_EQ(v.status().code(), StatusCode::kResourceExhausted) << f;
    EXPECT_THAT(v.status().message(), HasSubstr("deeper than 1000")) << f;
  }
}

TEST(Pickle, DeepChainThroughMemoDoesNotOverflow) {
  // Builds a 200000-long chain L0 <- L1 <- ... by appending each new list to
  // the previous innermost one through the memo, so no single insertion looks
  // deep. The parser must not overflow the C++ stack when releasing it, and
  // must refuse a result that reaches such a chain.
  std::string s = "\x80\x02]q\x00"s;  // L0, memo[0] = L0
  for (int i = 0; i < 200000; ++i) {
    // GET 0 (innermost), EMPTY_LIST, PUT into memo 1 temp... simpler:
    // push innermost, push new list, APPEND (new into innermost), then make
    // the new list the innermost: the appended list is still reachable only
    // via the innermost, so use DUP before APPEND.
    s += "h\x00"s;  // BINGET 0 -> innermost
    s += "]";       // new list N
    s += "2";       // DUP N
    s += "q";       // BINPUT 0 <- N (the new innermost)
    s.push_back('\x00');
    s += "0";  // POP the DUP
    s += "a";  // APPEND N to old innermost
    s += "0";  // POP the old innermost
  }
  s += "]h\x00"
       "a."s;  // the result holds only the innermost list
  auto v = ParsePickle(s, PickleOptions());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->items.size(), 1u);
  // The unreachable chain was released without recursion; cut the stream
  // short to check the failure path too.
  auto cut = ParsePickle(std::string_view(s).substr(0, s.size() - 1), PickleOptions());
  EXPECT_FALSE(cut.ok());
  // Also a STOP on the outermost list with no depth error along the way is
  // caught by the final check:
  std::string t = "\x80\x02]q\x01]q\x00"s;  // memo1 = root, memo0 = innermost
  t += "h\x01h\x00"
       "a0"s;  // root.append(inner)
  for (int i = 0; i < 5000; ++i)
    t += std::string(
        "h\x00]2q\x00"
        "0a0",
        9);
  t += "h\x01.";
  auto w = ParsePickle(t, PickleOptions());
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(w.status().message(), HasSubstr("deeper"));
}

TEST(Pickle, RefusesAmplification) {
  // A 1000-item tuple put in the memo and then fetched into 100000 lists:
  // each list copies 1000 references.
  std::string s = "\x80\x02("s;
  for (int i = 0; i < 1000; ++i) s += "N";
  s += "tq\x00"s;
  s += "]"s;
  for (int i = 0; i < 100000; ++i)
    s += "c__builtin__\nlist\nh\x00\x85R"
         "a"s;
  s += ".";
  PickleOptions o;
  o.max_references = 1000000;
  auto v = ParsePickle(s, o);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(v.status().message(), HasSubstr("references"));

  // A 1 MiB string re-encoded by _codecs.encode 1000 times.
  std::string t = "\x80\x02X"s;
  uint32_t n = 1 << 20;
  for (int k = 0; k < 4; ++k) t.push_back(static_cast<char>((n >> (8 * k)) & 0xFF));
  t += std::string(n, 'a');
  t += "q\x00]"s;
  for (int i = 0; i < 1000; ++i)
    t += "c_codecs\nencode\nh\x00X\x06\x00\x00\x00latin1\x86R"
         "a"s;
  t += ".";
  auto w = ParsePickle(t, PickleOptions());
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(w.status().message(), HasSubstr("strings and bytes"));
}

TEST(Pickle, RefusesCycles) {
  // l = []; l.append(l)
  auto v = ParsePickle(
      "\x80\x02]q\x00h\x00"
      "a."s,
      PickleOptions());
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(), HasSubstr("cycle"));
}

TEST(Pickle, RefusesExtAndOutOfBandBuffers) {
  auto e = ParsePickle(Fixture("evil_ext.pkl"), PickleOptions());
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kNotSupported);
  EXPECT_THAT(e.status().message(), HasSubstr("EXT"));
  auto b = ParsePickle(Fixture("evil_next_buffer.pkl"), PickleOptions());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kNotSupported);
  EXPECT_THAT(b.status().message(), HasSubstr("out-of-band"));
}

TEST(Pickle, PersistentIdsNeedACallback) {
  // BINPERSID of ('storage', 'key'); PERSID 'abc'.
  std::string bin = "\x80\x02X\x07\x00\x00\x00storageX\x03\x00\x00\x00key\x86Q."s;
  auto refused = ParsePickle(bin, PickleOptions());
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("persistent id"));

  PickleOptions o;
  std::vector<std::string> seen;
  o.persistent_load = [&](const PickleValue& pid) -> Result<PickleRef> {
    seen.push_back(pid.DebugString());
    auto r = std::make_shared<PickleValue>();
    r->kind = Kind::kInt;
    r->int_value = 42;
    return r;
  };
  auto v = ParsePickle(bin, o);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->int_value, 42);
  auto w = ParsePickle("Pabc\n.", o);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], "('storage', 'key')");
  EXPECT_EQ(seen[1], "'abc'");
}

TEST(Pickle, TextOpcodes) {
  // Protocol 0 details: I01 bools, L suffix, quoted STRING escapes, UNICODE
  // escapes, POP_MARK, DUP, dict and POP.
  auto v = ParsePickle(
      "(I01\nI00\nL-12345678901234567890L\nS'a\\'b\\x41\\n'\nVx\\u00e9\\U0001d11e\np0\n"
      "g0\n(I1\n1(dI7\n0tp1\n.",
      PickleOptions());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_EQ(v->kind, Kind::kTuple);
  ASSERT_EQ(v->items.size(), 7u);
  EXPECT_TRUE(v->items[0]->bool_value);
  EXPECT_EQ(v->items[1]->kind, Kind::kBool);
  EXPECT_TRUE(v->items[2]->is_big_int);
  EXPECT_EQ(v->items[3]->str_value, "a'bA\n");
  EXPECT_EQ(v->items[4]->str_value, "x\xC3\xA9\xF0\x9D\x84\x9E");
  EXPECT_EQ(v->items[5].get(), v->items[4].get());
  EXPECT_EQ(v->items[6]->kind, Kind::kDict);
}

TEST(Pickle, ObjectOpcodes) {
  PickleOptions o;
  o.allowed_globals = {"mymod.C"};
  auto inst = ParsePickle("(I1\nimymod\nC\n(dS'k'\nI5\nsb.", o);
  ASSERT_TRUE(inst.ok()) << inst.status().ToString();
  EXPECT_TRUE(inst->IsObjectOf("mymod.C"));
  EXPECT_EQ(inst->built_by, "INST");
  ASSERT_EQ(inst->items.size(), 1u);
  EXPECT_EQ(inst->items[0]->int_value, 1);
  ASSERT_NE(inst->state, nullptr);
  ASSERT_NE(inst->state->Find("k"), nullptr);
  EXPECT_EQ(inst->state->Find("k")->int_value, 5);

  auto obj = ParsePickle("(cmymod\nC\nI2\no.", o);
  ASSERT_TRUE(obj.ok()) << obj.status().ToString();
  EXPECT_EQ(obj->built_by, "OBJ");
  ASSERT_EQ(obj->items.size(), 1u);

  // Protocol 0/1 instances: copy_reg._reconstructor(cls, object, None).
  auto rec = ParsePickle(
      "ccopy_reg\n_reconstructor\n(cmymod\nC\nc__builtin__\nobject\nNtR(dS'a'\nI1\nsb.", o);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_TRUE(rec->IsObjectOf("mymod.C"));
  EXPECT_TRUE(rec->items.empty());

  auto ex2 = ParsePickle(
      "\x80\x04"
      "cmymod\nC\n(K\x07t}X\x01\x00\x00\x00kK\x03s\x92."s,
      o);
  ASSERT_TRUE(ex2.ok()) << ex2.status().ToString();
  EXPECT_EQ(ex2->built_by, "NEWOBJ_EX");
  ASSERT_EQ(ex2->entries.size(), 1u);
  EXPECT_EQ(ex2->entries[0].second->int_value, 3);

  // Reducers that only rebuild data are evaluated without an allow-list.
  auto od = ParsePickle(
      "\x80\x02"
      "ccollections\nOrderedDict\n)R(X\x01\x00\x00\x00"
      "aK\x01u."s,
      PickleOptions());
  ASSERT_TRUE(od.ok()) << od.status().ToString();
  EXPECT_TRUE(od->is_dict());
  ASSERT_NE(od->Find("a"), nullptr);

  // BUILD on something that is not a rebuilt object is corrupt.
  auto bad = ParsePickle("\x80\x02}}b."s, PickleOptions());
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("BUILD"));
  // REDUCE of a non-global.
  auto bad2 = ParsePickle("\x80\x02})R."s, PickleOptions());
  ASSERT_FALSE(bad2.ok());
  EXPECT_THAT(bad2.status().message(), HasSubstr("REDUCE"));
}

TEST(Pickle, AliasesCanonicaliseNames) {
  EXPECT_EQ(CanonicalModule("numpy.core.multiarray"), "numpy._core.multiarray");
  EXPECT_EQ(CanonicalModule("numpy.core"), "numpy._core");
  EXPECT_EQ(CanonicalModule("numpy.corex"), "numpy.corex");
  EXPECT_EQ(CanonicalModule("copy_reg"), "copyreg");
  EXPECT_EQ(CanonicalModule("__builtin__"), "builtins");
  EXPECT_EQ(CanonicalModule("sklearn.tree.tree"), "sklearn.tree._classes");
  EXPECT_EQ(CanonicalModule("sklearn.ensemble.forest"), "sklearn.ensemble._forest");
  EXPECT_EQ(CanonicalModule("sklearn.tree._tree"), "sklearn.tree._tree");
  // The allow-list accepts either spelling.
  PickleOptions o;
  o.allowed_globals = {"sklearn.tree.tree.DecisionTreeClassifier"};
  auto v = ParsePickle(
      "\x80\x02"
      "csklearn.tree._classes\nDecisionTreeClassifier\n)\x81}b.",
      o);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_TRUE(v->IsObjectOf("sklearn.tree._classes.DecisionTreeClassifier"));
  auto w = ParsePickle(
      "\x80\x02"
      "csklearn.tree.tree\nDecisionTreeClassifier\n)\x81}b.",
      o);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->global.module, "sklearn.tree._classes");
  // Vendored joblib in scikit-learn < 0.23; numpy.matrix as numpy < 1.16 wrote it.
  EXPECT_EQ(CanonicalModule("sklearn.externals.joblib.numpy_pickle"), "joblib.numpy_pickle");
  EXPECT_EQ(CanonicalModule("numpy.matrixlib.defmatrix.matrix"), "numpy.matrix");
  EXPECT_EQ(CanonicalModule("numpy.matrixlib"), "numpy.matrixlib");
  // joblib.load stays refused through the alias.
  auto jl = ParsePickle(
      "\x80\x02"
      "csklearn.externals.joblib\nload\n."s,
      PickleOptions());
  ASSERT_FALSE(jl.ok());
  EXPECT_EQ(jl.status().code(), StatusCode::kInvalidArgument);
}

TEST(Pickle, StreamReportsProtocolAndEnd) {
  for (int proto = 0; proto <= 5; ++proto) {
    std::string bytes = Fixture("nested_p" + std::to_string(proto) + ".pkl");
    auto p = ParsePickleStream(bytes + "tail", PickleOptions());
    ASSERT_TRUE(p.ok()) << proto << ": " << p.status().ToString();
    EXPECT_EQ(p->protocol, proto);
    EXPECT_EQ(p->end_offset, bytes.size()) << proto;
  }
}

// A stream that rebuilds mymod.C, then three raw bytes outside the pickle
// grammar, then memo GET of the object: ( C(), GET 0 ).
const std::string kRawAfterBuild = "\x80\x02(cmymod\nC\n)\x81q\x00}b"s + "XYZ" + "h\x00t."s;

TEST(Pickle, AfterBuildConsumesRawBytesAndReplacesTheObject) {
  PickleOptions o;
  o.allowed_globals = {"mymod.C"};
  // Without the hook the raw bytes are opcodes ('X' = BINUNICODE) and the
  // stream is corrupt.
  ASSERT_FALSE(ParsePickle(kRawAfterBuild, o).ok());

  int calls = 0;
  o.after_build = [&](const PickleValue& built, PickleInput* in) -> Result<PickleRef> {
    ++calls;
    EXPECT_TRUE(built.IsObjectOf("mymod.C"));
    EXPECT_EQ(in->offset(), 18u);
    TIFFIN_ASSIGN_OR_RETURN(std::string_view raw, in->Read(3, "raw data"));
    auto v = std::make_shared<PickleValue>();
    v->kind = Kind::kStr;
    v->str_value = std::string(raw);
    return v;
  };
  auto v = ParsePickle(kRawAfterBuild, o);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(v->is_tuple());
  ASSERT_EQ(v->items.size(), 2u);
  EXPECT_EQ(v->items[0]->str_value, "XYZ");
  // The memo held the object; it sees the replacement too.
  EXPECT_EQ(v->items[1]->str_value, "XYZ");

  // Returning null keeps the object (and the bytes are then opcodes).
  o.after_build = [](const PickleValue&, PickleInput*) -> Result<PickleRef> { return PickleRef(); };
  ASSERT_FALSE(ParsePickle(kRawAfterBuild, o).ok());
}

TEST(Pickle, AfterBuildErrorsCarryTheOffset) {
  PickleOptions o;
  o.allowed_globals = {"mymod.C"};
  o.after_build = [](const PickleValue&, PickleInput* in) -> Result<PickleRef> {
    TIFFIN_RETURN_IF_ERROR(in->Skip(1000, "array data"));
    return PickleRef();
  };
  auto v = ParsePickle(kRawAfterBuild, o);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(v.status().message(), HasSubstr("array data at offset 18 needs 1000 bytes"));
  EXPECT_THAT(v.status().message(), HasSubstr("pickle offset 17"));
}

TEST(Pickle, ListGlobals) {
  auto g = ListGlobals(Fixture("np_struct.pkl"));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  std::vector<std::string> names;
  for (const auto& x : *g) names.push_back(x.FullName());
  EXPECT_THAT(names, ::testing::Contains("numpy._core.multiarray._reconstruct"));
  EXPECT_THAT(names, ::testing::Contains("numpy.ndarray"));
  EXPECT_THAT(names, ::testing::Contains("numpy.dtype"));
  auto e = ListGlobals(Fixture("evil_os_system.pkl"));
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->size(), 1u);
  EXPECT_EQ((*e)[0].FullName(), "os.system");
  auto p = ListGlobals(Fixture("evil_posix_stack_global.pkl"));
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->size(), 1u);
  EXPECT_EQ((*p)[0].FullName(), "posix.system");
}

TEST(Pickle, ListGlobalsOfExternalSklearnPickles) {
  fs::path dir = SourceDir() / "../shared/fixtures/external/sklearn";
  if (!fs::exists(dir)) dir = "/work/shared/fixtures/external/sklearn";
  if (!fs::exists(dir)) GTEST_SKIP() << "no external sklearn fixtures";
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".pkl") continue;
    ++files;
    std::string bytes = ReadFile(entry.path());
    auto g = ListGlobals(bytes);
    std::cout << entry.path().filename().string() << ": ";
    if (!g.ok()) {
      std::cout << "ERROR " << g.status().ToString() << "\n";
      continue;
    }
    std::set<std::string> uniq;
    for (const auto& x : *g) uniq.insert(x.FullName());
    for (const auto& x : uniq) std::cout << x << " ";
    std::cout << "\n";
    // Also run the full parser with numpy and everything from sklearn
    // allowed: it must not crash whatever it decides.
    PickleOptions o = NumpyOptions();
    o.allowed_globals.push_back("sklearn.*");
    o.allowed_globals.push_back("numpy.random.__RandomState_ctor");
    auto v = ParsePickle(bytes, o);
    if (!v.ok()) {
      std::cout << "  full parse: " << v.status().ToString() << "\n";
      continue;
    }
    // Convert every numpy value found; print what could not be.
    int arrays = 0, structured = 0, objects = 0;
    std::vector<const PickleValue*> todo = {&*v};
    std::set<const PickleValue*> seen;
    while (!todo.empty()) {
      const PickleValue* x = todo.back();
      todo.pop_back();
      if (!seen.insert(x).second) continue;
      if (x->IsObjectOf("numpy._core.multiarray._reconstruct") ||
          x->IsObjectOf("numpy._core.numeric._frombuffer") ||
          x->IsObjectOf("numpy._core.multiarray.scalar")) {
        auto t = NumpyArrayToTensor(*x);
        if (t.ok()) {
          ++arrays;
        } else if (NumpyStructuredArrayFromPickle(*x).ok()) {
          ++structured;
        } else if (NumpyObjectArrayItems(*x).ok()) {
          ++objects;
        } else {
          std::cout << "  numpy: " << t.status().ToString() << "\n";
        }
      }
      for (const auto& c : x->items) todo.push_back(c.get());
      for (const auto& [k, c] : x->entries) {
        todo.push_back(k.get());
        todo.push_back(c.get());
      }
      if (x->state) todo.push_back(x->state.get());
    }
    std::cout << "  numpy values: " << arrays << " tensors, " << structured << " structured, "
              << objects << " object arrays\n";
  }
  EXPECT_GT(files, 0);
}

// ---------------------------------------------------------------- numpy ----

template <typename T>
std::vector<T> Values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.size());
}

Result<Tensor> LoadArray(const std::string& name) {
  auto v = ParsePickle(Fixture(name), NumpyOptions());
  if (!v.ok()) return v.status();
  return NumpyArrayToTensor(*v);
}

TEST(Pickle, NumpyFloat32AllProtocols) {
  for (const char* f : {"np_f32_p0.pkl", "np_f32_p2.pkl", "np_f32_p4.pkl", "np_f32_p5.pkl"}) {
    auto t = LoadArray(f);
    ASSERT_TRUE(t.ok()) << f << ": " << t.status().ToString();
    EXPECT_EQ(t->dtype(), DType::kFloat32) << f;
    EXPECT_EQ(t->shape(), (Shape{2, 3})) << f;
    EXPECT_EQ(Values<float>(*t), (std::vector<float>{0, 0.5, 1, 1.5, 2, 2.5})) << f;
  }
}

TEST(Pickle, NumpyDTypes) {
  for (const char* p : {"p2", "p4"}) {
    std::string s(p);
    auto f64 = LoadArray("np_f64_" + s + ".pkl");
    ASSERT_TRUE(f64.ok()) << f64.status().ToString();
    EXPECT_EQ(f64->shape(), (Shape{2, 2}));
    EXPECT_EQ(Values<double>(*f64), (std::vector<double>{1.5, -2.0, 3.25, 1e-300}));
    auto i64 = LoadArray("np_i64_" + s + ".pkl");
    ASSERT_TRUE(i64.ok()) << i64.status().ToString();
    EXPECT_EQ(Values<int64_t>(*i64), (std::vector<int64_t>{-(int64_t{1} << 62), -1, 0, 7}));
    auto b = LoadArray("np_bool_" + s + ".pkl");
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_EQ(b->dtype(), DType::kBool);
    EXPECT_EQ(Values<bool>(*b), (std::vector<bool>{true, false, true}));
    auto u8 = LoadArray("np_u8_" + s + ".pkl");
    ASSERT_TRUE(u8.ok()) << u8.status().ToString();
    EXPECT_EQ(Values<uint8_t>(*u8), (std::vector<uint8_t>{0, 200, 255}));
    auto su = LoadArray("np_str_u_" + s + ".pkl");
    ASSERT_TRUE(su.ok()) << su.status().ToString();
    EXPECT_EQ(su->dtype(), DType::kString);
    EXPECT_EQ(Values<std::string>(*su), (std::vector<std::string>{"a", "\xC3\xA9t\xC3\xA9", ""}));
    auto ss = LoadArray("np_str_s_" + s + ".pkl");
    ASSERT_TRUE(ss.ok()) << ss.status().ToString();
    EXPECT_EQ(Values<std::string>(*ss), (std::vector<std::string>{"ab", "c"}));
    auto fo = LoadArray("np_fortran_" + s + ".pkl");
    ASSERT_TRUE(fo.ok()) << fo.status().ToString();
    EXPECT_EQ(fo->shape(), (Shape{2, 3}));
    EXPECT_EQ(Values<double>(*fo), (std::vector<double>{0, 1, 2, 3, 4, 5}));
    auto bf = LoadArray("np_big_f8_" + s + ".pkl");
    ASSERT_TRUE(bf.ok()) << bf.status().ToString();
    EXPECT_EQ(Values<double>(*bf), (std::vector<double>{0, 1, 2, 3}));
    auto bi = LoadArray("np_big_i4_" + s + ".pkl");
    ASSERT_TRUE(bi.ok()) << bi.status().ToString();
    EXPECT_EQ(bi->dtype(), DType::kInt32);
    EXPECT_EQ(Values<int32_t>(*bi), (std::vector<int32_t>{1, -2, 70000}));
    auto z = LoadArray("np_zero_d_" + s + ".pkl");
    ASSERT_TRUE(z.ok()) << z.status().ToString();
    EXPECT_EQ(z->shape(), Shape{});
    EXPECT_EQ(Values<double>(*z), (std::vector<double>{3.5}));
    auto e = LoadArray("np_empty_" + s + ".pkl");
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_EQ(e->shape(), (Shape{0, 3}));
    EXPECT_EQ(e->size(), 0);
  }
  auto fo5 = LoadArray("np_fortran_p5.pkl");
  ASSERT_TRUE(fo5.ok()) << fo5.status().ToString();
  EXPECT_EQ(Values<double>(*fo5), (std::vector<double>{0, 1, 2, 3, 4, 5}));
}

TEST(Pickle, NumpyScalars) {
  auto v = ParsePickle(Fixture("np_scalars.pkl"), NumpyOptions());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_EQ(v->items.size(), 3u);
  auto a = NumpyArrayToTensor(*v->items[0]);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->shape(), Shape{});
  EXPECT_EQ(Values<double>(*a), std::vector<double>{2.5});
  auto b = NumpyArrayToTensor(*v->items[1]);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(Values<int64_t>(*b), std::vector<int64_t>{-7});
  auto c = NumpyArrayToTensor(*v->items[2]);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(Values<float>(*c), std::vector<float>{0.25f});
}

TEST(Pickle, NumpyObjectArray) {
  auto v = ParsePickle(Fixture("np_object.pkl"), NumpyOptions());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  auto t = NumpyArrayToTensor(*v);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("NumpyObjectArrayItems"));
  auto o = NumpyObjectArrayItems(*v);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->shape, Shape{3});
  ASSERT_EQ(o->items.size(), 3u);
  EXPECT_EQ(o->items[0]->str_value, "a");
  EXPECT_EQ(o->items[1]->int_value, 1);
  EXPECT_TRUE(o->items[2]->is_none());
}

TEST(Pickle, NumpyStructuredArray) {
  auto v = ParsePickle(Fixture("np_struct.pkl"), NumpyOptions());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  auto s = NumpyStructuredArrayFromPickle(*v);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->shape, Shape{2});
  EXPECT_EQ(s->dtype.itemsize, 32);
  ASSERT_EQ(s->dtype.fields.size(), 4u);
  EXPECT_EQ(s->dtype.fields[0].name, "left_child");
  EXPECT_EQ(s->dtype.fields[0].offset, 0);
  EXPECT_EQ(s->dtype.fields[0].dtype.dtype, DType::kInt64);
  EXPECT_EQ(s->dtype.fields[2].name, "threshold");
  EXPECT_EQ(s->dtype.fields[2].offset, 16);
  EXPECT_EQ(s->dtype.fields[2].dtype.dtype, DType::kFloat64);
  EXPECT_EQ(s->dtype.fields[3].name, "missing_go_to_left");
  EXPECT_EQ(s->dtype.fields[3].offset, 24);
  EXPECT_EQ(s->dtype.fields[3].dtype.dtype, DType::kUInt8);
  ASSERT_EQ(s->raw.size(), 64u);
  double thr1 = 0;
  int64_t left1 = 0;
  std::memcpy(&thr1, s->raw.data() + 32 + 16, 8);
  std::memcpy(&left1, s->raw.data() + 32, 8);
  EXPECT_EQ(thr1, -2.0);
  EXPECT_EQ(left1, -1);
}

TEST(Pickle, NumpyRefusesMismatchedByteCount) {
  // np_f32_p4 with the data length field doctored is caught as a truncation or
  // a size mismatch, never read out of bounds.
  std::string bytes = Fixture("np_f32_p4.pkl");
  size_t at = bytes.find("C\x18");  // SHORT_BINBYTES of 24 bytes
  ASSERT_NE(at, std::string::npos);
  bytes[at + 1] = '\x10';  // declare 16 bytes instead
  auto v = ParsePickle(bytes, NumpyOptions());
  if (v.ok()) {
    auto t = NumpyArrayToTensor(*v);
    ASSERT_FALSE(t.ok());
  }
}

TEST(Pickle, NumpyNeedsAllowList) {
  auto v = ParsePickle(Fixture("np_f32_p2.pkl"), PickleOptions());
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(), HasSubstr("numpy._core.multiarray._reconstruct"));
}

}  // namespace
}  // namespace tiffin::pickle
