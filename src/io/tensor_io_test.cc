#include "io/tensor_io.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <utility>

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

namespace tiffin::io {
namespace {

using ::testing::HasSubstr;

// Layout (a): one input X of shape [N, width] (width < 0: symbolic).
std::vector<TensorInfo> Matrix(DType dt, int64_t width) {
  TensorInfo t;
  t.name = "X";
  t.dtype = dt;
  t.has_shape = true;
  t.shape = {Dim{-1, "N"}, width >= 0 ? Dim{width, ""} : Dim{-1, "F"}};
  return {t};
}

// Layout (b): one [N, 1] input per column.
std::vector<TensorInfo> Columns(const std::vector<std::pair<std::string, DType>>& cols) {
  std::vector<TensorInfo> out;
  for (const auto& [name, dt] : cols) out.push_back({name, dt, true, {Dim{-1, "N"}, Dim{1, ""}}});
  return out;
}

const std::vector<std::string> kNoNames;

std::vector<double> Doubles(const Tensor& t) {
  return std::vector<double>(t.data<double>(), t.data<double>() + t.size());
}
std::vector<std::string> Strings(const Tensor& t) {
  return std::vector<std::string>(t.data<std::string>(), t.data<std::string>() + t.size());
}

TEST(Tabular, CsvColumnsBindByFeatureNameInAnyOrder) {
  auto r = ParseTabular("c,a,b\n3,1,2\n6,4,5\n", Matrix(DType::kFloat64, 3), {"a", "b", "c"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].name, "X");
  EXPECT_EQ((*r)[0].tensor.shape(), (Shape{2, 3}));
  EXPECT_EQ(Doubles((*r)[0].tensor), (std::vector<double>{1, 2, 3, 4, 5, 6}));
}

TEST(Tabular, EveryFormGivesTheSameTensorsForAMixedTable) {
  const auto inputs = Columns({{"age", DType::kFloat64}, {"city", DType::kString}});
  const std::vector<std::string> forms = {
      "city,age\nParis,31\nOslo,47.5\n",
      "\xEF\xBB\xBF"
      "city,age\r\nParis,31\r\nOslo,47.5\r\n",
      R"([{"city": "Paris", "age": 31}, {"age": 47.5, "city": "Oslo"}])",
      R"({"city": ["Paris", "Oslo"], "age": [31, 47.5]})",
      R"({"columns": ["city", "age"], "data": [["Paris", 31], ["Oslo", 47.5]]})",
      R"({"columns": ["city", "age"], "index": [7, 8], "data": [["Paris", 31], ["Oslo", 47.5]]})",
      R"({"dataframe_split": {"columns": ["city", "age"], "data": [["Paris", 31], ["Oslo", 47.5]]}})",
      R"({"dataframe_records": [{"city": "Paris", "age": 31}, {"city": "Oslo", "age": 47.5}]})",
  };
  for (const auto& text : forms) {
    auto r = ParseTabular(text, inputs, kNoNames);
    ASSERT_TRUE(r.ok()) << text << "\n" << r.status().ToString();
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ((*r)[0].name, "age");
    EXPECT_EQ((*r)[0].tensor.shape(), (Shape{2, 1}));
    EXPECT_EQ(Doubles((*r)[0].tensor), (std::vector<double>{31, 47.5})) << text;
    EXPECT_EQ((*r)[1].name, "city");
    EXPECT_EQ((*r)[1].tensor.dtype(), DType::kString);
    EXPECT_EQ(Strings((*r)[1].tensor), (std::vector<std::string>{"Paris", "Oslo"})) << text;
  }
}

TEST(Tabular, MismatchedColumnsListMissingUnexpectedAndExpected) {
  const auto x = Matrix(DType::kFloat64, 3);
  const std::vector<std::string> names = {"age", "income", "city"};
  auto misnamed = ParseTabular("Age,income,city\n1,2,3\n", x, names);
  ASSERT_FALSE(misnamed.ok());
  EXPECT_EQ(misnamed.status().message(),
            "columns do not match the model: missing [age], unexpected [Age]; expected [age, "
            "income, city] (in any order)");
  auto extra = ParseTabular(R"([{"age": 1, "income": 2, "city": 3, "zip": 4}])", x, names);
  ASSERT_FALSE(extra.ok());
  EXPECT_THAT(extra.status().message(), HasSubstr(": unexpected [zip]; expected [age, income"));
  auto missing = ParseTabular(R"({"income": [2], "age": [1]})", x, names);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr(": missing [city]; expected"));
  auto twice = ParseTabular("age,age,city\n1,2,3\n", x, names);
  ASSERT_FALSE(twice.ok());
  EXPECT_THAT(twice.status().message(), HasSubstr("column 'age' appears twice"));
  // Per-column models: the input names are the column names.
  auto b = ParseTabular("age,town\n1,Paris\n",
                        Columns({{"age", DType::kFloat64}, {"city", DType::kString}}), kNoNames);
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(), HasSubstr("missing [city], unexpected [town]"));
}

TEST(Tabular, MissingValuesBecomeNaNOrEmptyStrings) {
  const auto inputs = Columns({{"age", DType::kFloat64}, {"city", DType::kString}});
  auto csv =
      ParseTabular("age,city\n,\nNaN,NA\nnull,\"NA\"\nnan,null\n NAN ,x\n", inputs, kNoNames);
  ASSERT_TRUE(csv.ok()) << csv.status().ToString();
  for (double v : Doubles((*csv)[0].tensor)) EXPECT_TRUE(std::isnan(v));
  // A quoted "NA" is text, not a missing marker.
  EXPECT_EQ(Strings((*csv)[1].tensor), (std::vector<std::string>{"", "", "NA", "", "x"}));
  auto json =
      ParseTabular(R"([{"age": null, "city": null}, {"age": 2, "city": "NA"}])", inputs, kNoNames);
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  EXPECT_TRUE(std::isnan((*json)[0].tensor.data<double>()[0]));
  EXPECT_EQ(Strings((*json)[1].tensor), (std::vector<std::string>{"", "NA"}));
}

TEST(Tabular, NumbersInStringColumnsBecomeText) {
  const auto inputs = Columns({{"code", DType::kString}, {"v", DType::kFloat64}});
  auto json = ParseTabular(R"({"code": [3, 2.5, true, null, "x", -7], "v": [1, 2, 3, 4, 5, 6]})",
                           inputs, kNoNames);
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  EXPECT_EQ(Strings((*json)[0].tensor),
            (std::vector<std::string>{"3", "2.5", "True", "", "x", "-7"}));
  // CSV fields are kept exactly as written.
  auto csv = ParseTabular("code,v\n3.0,1\n 007,2\n", inputs, kNoNames);
  ASSERT_TRUE(csv.ok()) << csv.status().ToString();
  EXPECT_EQ(Strings((*csv)[0].tensor), (std::vector<std::string>{"3.0", " 007"}));
}

TEST(Tabular, CsvQuotingFollowsRfc4180) {
  const auto inputs = Columns({{"name", DType::kString}, {"note", DType::kString}});
  auto r = ParseTabular(
      "name,note\r\n\"Smith, J\",\"He said \"\"hi\"\"\nthen left\"\r\n\n\"\",plain \"quote\"\r\n",
      inputs, kNoNames);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Strings((*r)[0].tensor), (std::vector<std::string>{"Smith, J", ""}));
  EXPECT_EQ(Strings((*r)[1].tensor),
            (std::vector<std::string>{"He said \"hi\"\nthen left", "plain \"quote\""}));

  auto open = ParseTabular("name,note\na,\"never closed\n", inputs, kNoNames);
  ASSERT_FALSE(open.ok());
  EXPECT_THAT(open.status().message(), HasSubstr("starts on line 2 is never closed"));
  auto stray = ParseTabular("name,note\n\"a\"b,c\n", inputs, kNoNames);
  ASSERT_FALSE(stray.ok());
  EXPECT_THAT(stray.status().message(), HasSubstr("after the closing quote"));
}

TEST(Tabular, RaggedRowsAreNamed) {
  auto r = ParseTabular("a,b,c\n1,2,3\n\"multi\nline\",5\n", Matrix(DType::kString, 3), kNoNames);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "csv row 2 (line 3) has 2 fields, the header has 3");
  auto longer = ParseTabular("a,b\n1,2,3\n", Matrix(DType::kFloat64, 2), kNoNames);
  ASSERT_FALSE(longer.ok());
  EXPECT_THAT(longer.status().message(), HasSubstr("csv row 1 (line 2) has 3 fields"));
  auto split = ParseTabular(R"({"columns": ["a", "b"], "data": [[1, 2], [3]]})",
                            Matrix(DType::kFloat64, 2), kNoNames);
  ASSERT_FALSE(split.ok());
  EXPECT_THAT(split.status().message(), HasSubstr("data[1] has 1 values"));
  auto cols = ParseTabular(R"({"a": [1, 2], "b": [3]})", Matrix(DType::kFloat64, 2), kNoNames);
  ASSERT_FALSE(cols.ok());
  EXPECT_THAT(cols.status().message(), HasSubstr("column 'b' has 1 values, column 'a' has 2"));
}

TEST(Tabular, TextInANumericColumnNamesColumnRowAndValue) {
  const auto inputs = Columns({{"age", DType::kFloat64}, {"city", DType::kString}});
  auto csv = ParseTabular("city,age\nParis,31\nOslo,abc\n", inputs, kNoNames);
  ASSERT_FALSE(csv.ok());
  EXPECT_EQ(csv.status().message(),
            "column 'age', row 2: 'abc' is not a number (the model expects numbers in this "
            "column)");
  auto json =
      ParseTabular(R"([{"age": 1, "city": "a"}, {"age": "n/a", "city": "b"}])", inputs, kNoNames);
  ASSERT_FALSE(json.ok());
  EXPECT_THAT(json.status().message(), HasSubstr("column 'age', row 2: 'n/a' is not a number"));
  auto nested = ParseTabular(R"({"age": [[1]], "city": ["a"]})", inputs, kNoNames);
  ASSERT_FALSE(nested.ok());
  EXPECT_THAT(nested.status().message(), HasSubstr("column 'age', row 1: a list or object"));
  // Numeric text in JSON strings, signs, booleans and infinities are numbers.
  auto lenient = ParseTabular(
      R"({"age": ["2.5", "+3", "true", "-inf", "-0"], "city": ["a", "b", "c", "d", "e"]})", inputs,
      kNoNames);
  ASSERT_TRUE(lenient.ok()) << lenient.status().ToString();
  EXPECT_EQ(Doubles((*lenient)[0].tensor),
            (std::vector<double>{2.5, 3, 1, -std::numeric_limits<double>::infinity(), 0}));
  EXPECT_TRUE(std::signbit((*lenient)[0].tensor.data<double>()[4]));
}

TEST(Tabular, RecordsMustHoldEveryColumn) {
  auto r = ParseTabular(R"([{"a": 1, "b": 2}, {"a": 3}])", Matrix(DType::kFloat64, 2), {"a", "b"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "row 2 (records[1]) has no key 'b' (send null for a missing value)");
  auto not_obj = ParseTabular(R"([{"a": 1}, 5])", Matrix(DType::kFloat64, 1), kNoNames);
  ASSERT_FALSE(not_obj.ok());
  EXPECT_THAT(not_obj.status().message(), HasSubstr("records[1]) is not an object"));
  // Keys later records add are ignored.
  auto extra =
      ParseTabular(R"([{"a": 1}, {"a": 2, "z": 9}])", Matrix(DType::kFloat64, 1), kNoNames);
  ASSERT_TRUE(extra.ok()) << extra.status().ToString();
  EXPECT_EQ(Doubles((*extra)[0].tensor), (std::vector<double>{1, 2}));
}

TEST(Tabular, UnknownNamesBindByPosition) {
  // Layout (a) without feature names: any header, by position; count must match.
  auto named = ParseTabular("p,q,r\n1,2,3\n", Matrix(DType::kFloat64, 3), kNoNames);
  ASSERT_TRUE(named.ok()) << named.status().ToString();
  EXPECT_EQ(Doubles((*named)[0].tensor), (std::vector<double>{1, 2, 3}));
  auto count = ParseTabular("p,q\n1,2\n", Matrix(DType::kFloat64, 3), kNoNames);
  ASSERT_FALSE(count.ok());
  EXPECT_THAT(count.status().message(), HasSubstr("expected 3 columns, got 2"));
  // A numeric first row is data, as ParseCsv reads it.
  auto headerless = ParseTabular("1,2,3\n4,,6\n", Matrix(DType::kFloat32, -1), kNoNames);
  ASSERT_TRUE(headerless.ok()) << headerless.status().ToString();
  EXPECT_EQ((*headerless)[0].tensor.shape(), (Shape{2, 3}));
  EXPECT_EQ((*headerless)[0].tensor.dtype(), DType::kFloat32);
  EXPECT_TRUE(std::isnan((*headerless)[0].tensor.data<float>()[4]));
  // ...but not when the model knows its names: the first row is the header.
  auto known = ParseTabular("1,2,3\n4,5,6\n", Matrix(DType::kFloat64, 3), {"a", "b", "c"});
  ASSERT_FALSE(known.ok());
  EXPECT_THAT(known.status().message(), HasSubstr("missing [a, b, c], unexpected [1, 2, 3]"));

  // Layout (b) with x0, x1, ... inputs (listed out of order): by position,
  // unless the header names them.
  const auto generic = Columns({{"x1", DType::kString}, {"x0", DType::kFloat64}});
  auto pos = ParseTabular("num,text\n1.5,a\n", generic, kNoNames);
  ASSERT_TRUE(pos.ok()) << pos.status().ToString();
  EXPECT_EQ((*pos)[0].name, "x1");
  EXPECT_EQ(Strings((*pos)[0].tensor), (std::vector<std::string>{"a"}));
  EXPECT_EQ(Doubles((*pos)[1].tensor), (std::vector<double>{1.5}));
  auto by_name = ParseTabular("x1,x0\na,1.5\n", generic, kNoNames);
  ASSERT_TRUE(by_name.ok()) << by_name.status().ToString();
  EXPECT_EQ(Strings((*by_name)[0].tensor), (std::vector<std::string>{"a"}));
  auto wide = ParseTabular(R"({"columns": [0, 1, 2], "data": [[1, "a", 2]]})", generic, kNoNames);
  ASSERT_FALSE(wide.ok());
  EXPECT_THAT(wide.status().message(), HasSubstr("expected 2 columns, got 3"));
  auto headerless_b = ParseTabular("2.5,7\n", generic, kNoNames);
  ASSERT_TRUE(headerless_b.ok()) << headerless_b.status().ToString();
  EXPECT_EQ(Strings((*headerless_b)[0].tensor), (std::vector<std::string>{"7"}));
}

TEST(Tabular, IntegerInputsStayExactAndRefuseNaN) {
  auto r = ParseTabular("a,b\n9007199254740993,2.0\n", Matrix(DType::kInt64, 2), kNoNames);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].tensor.data<int64_t>()[0], 9007199254740993);
  EXPECT_EQ((*r)[0].tensor.data<int64_t>()[1], 2);
  auto nan = ParseTabular("a,b\n1,\n", Matrix(DType::kInt64, 2), kNoNames);
  ASSERT_FALSE(nan.ok());
  EXPECT_THAT(nan.status().message(),
              HasSubstr("column 'b', row 1: missing value, but input 'X' is int64"));
  auto frac = ParseTabular(R"({"a": [1.5], "b": [1]})", Matrix(DType::kInt64, 2), kNoNames);
  ASSERT_FALSE(frac.ok());
  EXPECT_THAT(frac.status().message(), HasSubstr("not an integer"));
}

TEST(Tabular, ModelsThatAreNotTablesAreRefused) {
  std::vector<TensorInfo> image = {
      {"img", DType::kFloat32, true, {Dim{1}, Dim{3}, Dim{8}, Dim{8}}}};
  auto r = ParseTabular("a\n1\n", image, kNoNames);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("input 'img' has shape [1,3,8,8]"));
  auto wide = Columns({{"a", DType::kFloat64}, {"b", DType::kFloat64}});
  wide[1].shape[1].value = 4;
  auto w = ParseTabular("a,b\n1,2\n", wide, kNoNames);
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(w.status().message(), HasSubstr("one [rows, 1] model input per column"));
  auto names = ParseTabular("a\n1\n", Matrix(DType::kFloat64, 3), {"a"});
  ASSERT_FALSE(names.ok());
  EXPECT_THAT(names.status().message(),
              HasSubstr("lists 1 feature names for input 'X' of width 3"));
}

TEST(Tabular, LimitsAreCheckedBeforeAllocating) {
  ParseLimits small;
  small.max_elements = 5;
  const auto x = Matrix(DType::kFloat64, 2);
  EXPECT_TRUE(ParseTabular("a,b\n1,2\n3,4\n", x, kNoNames, small).ok());
  for (const char* text : {"a,b\n1,2\n3,4\n5,6\n", R"({"a": [1, 3, 5], "b": [2, 4, 6]})",
                           R"([{"a": 1, "b": 2}, {"a": 1, "b": 2}, {"a": 1, "b": 2}])",
                           R"({"columns": ["a", "b"], "data": [[1, 2], [3, 4], [5, 6]]})"}) {
    auto r = ParseTabular(text, x, kNoNames, small);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << text;
    EXPECT_THAT(r.status().message(), HasSubstr("more than 2 rows")) << text;
  }
  ParseLimits bytes;
  bytes.max_tensor_bytes = 24;  // 3 float64
  auto b = ParseTabular("a,b\n1,2\n3,4\n", x, kNoNames, bytes);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kResourceExhausted);
  auto header =
      ParseTabular("a,b,c,d,e,f\n1,2,3,4,5,6\n", Matrix(DType::kFloat64, -1), kNoNames, small);
  ASSERT_FALSE(header.ok());
  EXPECT_THAT(header.status().message(), HasSubstr("more than 5 columns"));
}

TEST(Tabular, LooksTabularTellsTablesFromTensorBodies) {
  const auto x = Matrix(DType::kFloat64, 3);
  const auto b = Columns({{"age", DType::kFloat64}, {"city", DType::kString}});
  EXPECT_TRUE(LooksTabular("age,city\n1,a\n", b));
  EXPECT_TRUE(LooksTabular("1,2,3\n", x));
  EXPECT_TRUE(LooksTabular(" [ {\"a\": 1}]", x));
  EXPECT_TRUE(LooksTabular(R"({"age": [1, 2], "city": ["a", "b"]})", b));
  EXPECT_TRUE(LooksTabular(R"({"a": [1], "b": [2], "c": [3]})", x));
  EXPECT_TRUE(LooksTabular(R"({"columns": ["a"], "data": [[1]], "index": [0]})", x));
  EXPECT_TRUE(LooksTabular(R"({"dataframe_split": {"columns": ["a"], "data": [[1]]}})", x));
  EXPECT_TRUE(LooksTabular(R"({"dataframe_records": [{"a": 1}]})", x));
  EXPECT_TRUE(LooksTabular(R"({"X": [1, 2]})", Matrix(DType::kFloat64, 1)));

  EXPECT_FALSE(LooksTabular(R"({"inputs": [{"name": "X", "data": [1, 2, 3]}]})", x));
  EXPECT_FALSE(LooksTabular(R"({"X": [[1, 2, 3]]})", x));
  EXPECT_FALSE(LooksTabular(R"({"X": [1, 2, 3]})", x));
  EXPECT_FALSE(LooksTabular(R"({"age": [[1]], "city": [["a"]]})", b));
  EXPECT_FALSE(LooksTabular(R"({"data": [[1, 2, 3]]})", x));
  EXPECT_FALSE(LooksTabular("[[1, 2, 3]]", x));
  EXPECT_FALSE(LooksTabular("{not json", x));
  EXPECT_FALSE(LooksTabular(WriteNpy(Tensor::FromVector<double>({1, 2, 3})), x));
  std::vector<TensorInfo> image = {
      {"img", DType::kFloat32, true, {Dim{1}, Dim{3}, Dim{8}, Dim{8}}}};
  EXPECT_FALSE(LooksTabular(R"({"img": [1, 2, 3]})", image));
}

// Truncations and byte flips of valid tables: an error or a consistent
// result, never a crash (run under ASan/UBSan in the sanitizer builds).
TEST(Tabular, DamagedInputNeverCrashes) {
  const std::vector<std::string> docs = {
      "\xEF\xBB\xBF"
      "city,age,\"no\"\"te\"\r\nParis,31,\"a,\nb\"\r\nOslo,,\"\"\r\n",
      R"([{"city": "Paris", "age": 31, "no\"te": null}, {"city": 7, "age": "4", "no\"te": "x"}])",
      R"({"city": ["Paris", null], "age": [31, 1e3], "no\"te": [true, "y"]})",
      R"({"dataframe_split": {"columns": ["city", "age", "no\"te"], "index": [0],
          "data": [["Paris", 31, "a"], ["Oslo", null, "b"]]}})",
  };
  const std::vector<std::vector<TensorInfo>> models = {
      Columns({{"age", DType::kFloat64}, {"city", DType::kString}, {"no\"te", DType::kString}}),
      Matrix(DType::kString, 3), Matrix(DType::kFloat64, -1), Matrix(DType::kInt64, 3),
      Columns({{"x0", DType::kString}, {"x1", DType::kFloat32}, {"x2", DType::kString}})};
  ParseLimits limits;
  limits.max_elements = 64;
  std::mt19937 rng(12345);
  size_t parsed = 0;
  auto check = [&](const std::string& text, const std::vector<TensorInfo>& model) {
    (void)LooksTabular(text, model);
    auto r = ParseTabular(text, model, kNoNames, limits);
    if (!r.ok()) {
      EXPECT_FALSE(r.status().message().empty());
      return;
    }
    ++parsed;
    ASSERT_EQ(r->size(), model.size());
    const int64_t rows = (*r)[0].tensor.dim(0);
    for (const auto& nt : *r) EXPECT_EQ(nt.tensor.dim(0), rows);
  };
  for (const auto& doc : docs) {
    for (const auto& model : models) {
      for (size_t cut = 0; cut <= doc.size(); ++cut) check(doc.substr(0, cut), model);
      for (int k = 0; k < 200; ++k) {
        std::string damaged = doc;
        const int flips = 1 + static_cast<int>(rng() % 3);
        for (int f = 0; f < flips; ++f) {
          damaged[rng() % damaged.size()] = "\",\n\r[]{}:0a \\\x00\xff"[rng() % 16];
        }
        check(damaged, model);
      }
    }
  }
  EXPECT_GT(parsed, 0u);
}

}  // namespace
}  // namespace tiffin::io
