// The bounded zip reader against archives libzip writes here: stored and
// deflated members, and the hostile cases it must refuse (path traversal,
// decompression bombs, oversized and encrypted members).
#include "io/zip_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zip.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

namespace tiffin::io {
namespace {

using ::testing::HasSubstr;

struct Member {
  std::string name;
  std::string data;
  bool deflate = false;
  bool encrypt = false;
};

// Writes `members` with libzip into a temporary file and returns its bytes.
std::string MakeZip(const std::vector<Member>& members) {
  const std::string path =
      (std::filesystem::temp_directory_path() /
       ("tiffin_zip_reader_test_" +
        std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
        ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".zip"))
          .string();
  std::filesystem::remove(path);
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  EXPECT_NE(z, nullptr);
  for (const Member& m : members) {
    zip_source_t* s = zip_source_buffer(z, m.data.data(), m.data.size(), 0);
    const zip_int64_t i = zip_file_add(z, m.name.c_str(), s, ZIP_FL_ENC_UTF_8);
    EXPECT_GE(i, 0) << m.name;
    zip_set_file_compression(z, static_cast<zip_uint64_t>(i),
                             m.deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
    if (m.encrypt) {
      EXPECT_EQ(zip_file_set_encryption(z, static_cast<zip_uint64_t>(i), ZIP_EM_AES_256, "pw"), 0);
    }
  }
  EXPECT_EQ(zip_close(z), 0);
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  std::filesystem::remove(path);
  return ss.str();
}

TEST(ZipReader, ReadsStoredAndDeflatedMembers) {
  const std::string text(5000, 'a');
  const std::string zip =
      MakeZip({{"archive/data.pkl", "pickle"}, {"archive/code/m.py", text, true}});
  ZipReader r;
  ASSERT_TRUE(r.Open(zip).ok());
  EXPECT_THAT(r.names(), ::testing::ElementsAre("archive/data.pkl", "archive/code/m.py"));
  EXPECT_EQ(r.Read("archive/data.pkl", 100).value(), "pickle");
  EXPECT_EQ(r.Read("archive/code/m.py", 10000).value(), text);
  auto stored_only = r.Read("archive/code/m.py", 10000, /*allow_deflate=*/false);
  EXPECT_EQ(stored_only.status().code(), StatusCode::kNotSupported);
  EXPECT_EQ(r.Read("archive/code/m.py", 100).status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(r.Read("archive/none", 100).status().code(), StatusCode::kDataLoss);
  auto members = ReadZipMembers(zip, {"archive/data.pkl", "absent"}, ZipLimits{});
  ASSERT_TRUE(members.ok());
  EXPECT_EQ(members->size(), 1u);
}

TEST(ZipReader, RefusesPathTraversal) {
  for (const char* name : {"../../tmp/x", "/etc/passwd", "a/../../b", "a\\b", "a//b", "./a"}) {
    ZipReader r;
    const Status s = r.Open(MakeZip({{"ok", "1"}, {name, "x"}}));
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(s.message(), HasSubstr("unsafe name")) << name;
  }
  EXPECT_TRUE(IsSafeZipEntryName("assets/"));
  EXPECT_TRUE(IsSafeZipEntryName("a/b.c"));
}

TEST(ZipReader, RefusesDecompressionBombs) {
  const std::string zip = MakeZip({{"bomb", std::string(size_t{8} << 20, '\0'), true}});
  ZipLimits limits;
  limits.max_ratio = 100;
  ZipReader r;
  ASSERT_TRUE(r.Open(zip, limits).ok());
  const auto got = r.Read("bomb", size_t{1} << 30);
  EXPECT_EQ(got.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(got.status().message(), HasSubstr("decompression bomb"));
  limits.max_member_bytes = 1 << 20;
  EXPECT_THAT(ReadZipMembers(zip, {"bomb"}, limits).status().message(),
              HasSubstr("more than the limit"));
}

TEST(ZipReader, RefusesTooManyMembersAndNonZips) {
  ZipLimits limits;
  limits.max_entries = 2;
  ZipReader r;
  EXPECT_EQ(r.Open(MakeZip({{"a", "1"}, {"b", "2"}, {"c", "3"}}), limits).code(),
            StatusCode::kResourceExhausted);
  ZipReader r2;
  EXPECT_EQ(r2.Open("not a zip at all").code(), StatusCode::kDataLoss);
}

TEST(ZipReader, RefusesEncryptedMembers) {
  if (!zip_encryption_method_supported(ZIP_EM_AES_256, 1)) GTEST_SKIP() << "libzip without AES";
  ZipReader r;
  ASSERT_TRUE(r.Open(MakeZip({{"secret", "data", false, true}})).ok());
  const auto got = r.Read("secret", 100);
  EXPECT_EQ(got.status().code(), StatusCode::kNotSupported);
  EXPECT_THAT(got.status().message(), HasSubstr("encrypted"));
}

}  // namespace
}  // namespace tiffin::io
