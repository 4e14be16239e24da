#include "io/tensor_io.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tiffin::io {
namespace {

using ::testing::HasSubstr;

std::vector<TensorInfo> OneInput(DType dt) {
  TensorInfo t;
  t.name = "x";
  t.dtype = dt;
  return {t};
}

TEST(JsonInputs, KServeFormWithFlatData) {
  auto r = ParseJsonInputs(
      R"({"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1,2.5,3,4]}]})",
      OneInput(DType::kFloat32));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].tensor.shape(), (Shape{2, 2}));
  EXPECT_EQ((*r)[0].tensor.data<float>()[1], 2.5f);
}

TEST(JsonInputs, ShorthandTakesTheModelsDtype) {
  auto r = ParseJsonInputs(R"({"x": [[1, 2], [3, 4], [5, 6]]})", OneInput(DType::kFloat64));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].tensor.dtype(), DType::kFloat64);
  EXPECT_EQ((*r)[0].tensor.shape(), (Shape{3, 2}));
  EXPECT_EQ((*r)[0].tensor.data<double>()[5], 6.0);
}

TEST(JsonInputs, RaggedListsAndCountMismatchesAreErrors) {
  auto ragged = ParseJsonInputs(R"({"x": [[1, 2], [3]]})", OneInput(DType::kFloat32));
  ASSERT_FALSE(ragged.ok());
  EXPECT_THAT(ragged.status().message(), HasSubstr("ragged"));
  auto count =
      ParseJsonInputs(R"({"inputs":[{"name":"x","shape":[2,3],"datatype":"FP32","data":[1,2]}]})",
                      OneInput(DType::kFloat32));
  ASSERT_FALSE(count.ok());
  EXPECT_THAT(count.status().message(), HasSubstr("holds 6 values, but data has 2"));
  auto bad = ParseJsonInputs("{not json", OneInput(DType::kFloat32));
  ASSERT_FALSE(bad.ok());
  auto frac = ParseJsonInputs(R"({"x": [1.5]})", OneInput(DType::kInt64));
  ASSERT_FALSE(frac.ok());
  EXPECT_THAT(frac.status().message(), HasSubstr("not an integer"));
}

TEST(JsonOutputs, WritesV2FormWithNullForNaN) {
  Tensor t = Tensor::FromVector<float>({0.5f, std::nanf("")}, {1, 2});
  std::string s = WriteJsonOutputs({{"y", t}});
  EXPECT_EQ(s, R"({"outputs":[{"name":"y","datatype":"FP32","shape":[1,2],"data":[0.5,null]}]})");
}

TEST(Npy, RoundTripsAndReadsFortranOrderAndBigEndian) {
  Tensor t = Tensor::FromVector<int32_t>({1, 2, 3, 4, 5, 6}, {2, 3});
  auto back = ParseNpy(WriteNpy(t));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->shape(), (Shape{2, 3}));
  EXPECT_EQ(back->data<int32_t>()[4], 5);

  // A 2x2 big-endian Fortran-order int16 array [[1,2],[3,4]] as numpy writes it.
  std::string header = "{'descr': '>i2', 'fortran_order': True, 'shape': (2, 2), }";
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header += '\n';
  std::string f = std::string("\x93NUMPY\x01\x00", 8);
  f += static_cast<char>(header.size());
  f += '\0';
  f += header;
  for (int v : {1, 3, 2, 4}) {  // column-major
    f += '\0';
    f += static_cast<char>(v);
  }
  auto fr = ParseNpy(f);
  ASSERT_TRUE(fr.ok()) << fr.status().ToString();
  EXPECT_EQ(fr->data<int16_t>()[1], 2);
  EXPECT_EQ(fr->data<int16_t>()[2], 3);
}

TEST(Npy, TruncatedFilesAreErrors) {
  std::string full = WriteNpy(Tensor::FromVector<float>({1, 2, 3}));
  for (size_t cut : {size_t{3}, size_t{9}, size_t{40}, full.size() - 1}) {
    EXPECT_FALSE(ParseNpy(full.substr(0, cut)).ok()) << cut;
  }
}

TEST(Csv, HeaderIsOptionalAndColumnsMustAgree) {
  std::vector<std::string> header;
  auto t = ParseCsv("a,b\n1,2\n3,4\n", DType::kFloat32, &header);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(header, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(t->shape(), (Shape{2, 2}));
  std::vector<std::string> h2;
  auto bad = ParseCsv("1,2\n3\n", DType::kFloat32, &h2);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("line 2"));
}

}  // namespace
}  // namespace tiffin::io

namespace tiffin::io {
namespace {

TEST(JsonInputs, IntegersOutOfRangeAreErrorsNotWraps) {
  auto narrow = ParseJsonInputs(R"({"x": [300, -1]})", OneInput(DType::kUInt8));
  ASSERT_FALSE(narrow.ok());
  EXPECT_THAT(narrow.status().message(), HasSubstr("out of range for uint8"));
  auto huge = ParseJsonInputs(R"({"x": [1e300]})", OneInput(DType::kInt32));
  ASSERT_FALSE(huge.ok());
  EXPECT_THAT(huge.status().message(), HasSubstr("out of range for int32"));
  auto ok = ParseJsonInputs(R"({"x": [255, 0]})", OneInput(DType::kUInt8));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)[0].tensor.data<uint8_t>()[0], 255);
}

TEST(Npy, MalformedHeadersAreRefused) {
  auto make = [](std::string header) {
    header.append(64 - (10 + header.size() + 1) % 64, ' ');
    header += '\n';
    std::string f = std::string("\x93NUMPY\x01\x00", 8);
    f += static_cast<char>(header.size());
    f += '\0';
    return f + header + std::string(16, '\0');
  };
  EXPECT_TRUE(ParseNpy(make("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }")).ok());
  EXPECT_FALSE(ParseNpy(make("{'descr': '<f4', 'fortran_order': False, 'shape': (3, }")).ok());
  EXPECT_FALSE(ParseNpy(make("{'descr': '<f4', 'fortran_order': False, }")).ok());
  EXPECT_FALSE(
      ParseNpy(make("{'descr': '<f4junk', 'fortran_order': False, 'shape': (2,), }")).ok());
}

}  // namespace
}  // namespace tiffin::io
