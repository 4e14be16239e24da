// LabelEncoder (opsets 1, 2, 4), OneHotEncoder and FeatureVectorizer tests,
// and the refusals of the map operators (CastMap, DictVectorizer).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "exec/testing.h"
#include "kernels/cpu/ml_test_util.h"

namespace tiffin {
namespace {

using mltest::ExpectError;
using mltest::ExpectInts;
using mltest::ExpectValues;
using mltest::Ml;
using mltest::StringsAttr;
using mltest::TensorAttr;
using testing::FloatAttr;
using testing::FloatsAttr;
using testing::IntAttr;
using testing::IntsAttr;
using testing::OpSpec;
using testing::RunOp;
using testing::StringAttr;

void ExpectStrings(const Tensor& t, const std::vector<std::string>& want) {
  ASSERT_EQ(t.dtype(), DType::kString);
  ASSERT_EQ(t.size(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(t.data<std::string>()[i], want[i]) << i;
}

Tensor Strings(std::vector<std::string> v) { return Tensor::FromVector(v); }

TEST(MlLabelEncoder, Opset1MapsStringsToPositionsAndBack) {
  OpSpec s = Ml("LabelEncoder", 1);
  s.attributes = {{"classes_strings", StringsAttr({"a", "b", "c"})}};
  s.inputs = {Strings({"b", "z", "a"})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectInts((*out)[0], {1, -1, 0});
  s.attributes["default_int64"] = IntAttr(7);
  s.attributes["default_string"] = StringAttr("?");
  out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectInts((*out)[0], {1, 7, 0});
  s.inputs = {Tensor::FromVector<int64_t>({2, 5, -1}, {1, 3})};
  out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].shape(), (Shape{1, 3}));
  ExpectStrings((*out)[0], {"c", "?", "?"});
}

TEST(MlLabelEncoder, OnnxStringToInt) {
  OpSpec s = Ml("LabelEncoder", 2);
  s.attributes = {{"keys_strings", StringsAttr({"a", "b", "c"})},
                  {"values_int64s", IntsAttr({0, 1, 2})},
                  {"default_int64", IntAttr(42)}};
  s.inputs = {Strings({"a", "b", "d", "c", "g"})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectInts((*out)[0], {0, 1, 42, 2, 42});
  s.attributes.erase("default_int64");
  out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectInts((*out)[0], {0, 1, -1, 2, -1});
}

TEST(MlLabelEncoder, FloatKeysMatchNaNAndSignedZero) {
  OpSpec s = Ml("LabelEncoder", 2);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  s.attributes = {{"keys_floats", FloatsAttr({1.5f, nan, -0.0f})},
                  {"values_strings", StringsAttr({"x", "n", "z"})}};
  s.inputs = {Tensor::FromVector<float>({1.5f, -nan, 0.0f, 2}, {2, 2})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 2}));
  ExpectStrings((*out)[0], {"x", "n", "z", "_Unused"});
}

TEST(MlLabelEncoder, IntToFloatAndLastRepeatedKeyWins) {
  OpSpec s = Ml("LabelEncoder", 2);
  s.attributes = {{"keys_int64s", IntsAttr({1, 2, 1})},
                  {"values_floats", FloatsAttr({0.5f, 1.5f, 2.5f})},
                  {"default_float", FloatAttr(9)}};
  s.inputs = {Tensor::FromVector<int64_t>({2, 3, 1})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<float>((*out)[0], {1.5f, 9, 2.5f});
}

TEST(MlLabelEncoder, Opset4TensorAttributes) {
  OpSpec s = Ml("LabelEncoder", 4);
  s.attributes = {{"keys_tensor", TensorAttr(Strings({"a", "b", "c"}))},
                  {"values_tensor", TensorAttr(Tensor::FromVector<int16_t>({0, 1, 2}))},
                  {"default_tensor", TensorAttr(Tensor::FromVector<int16_t>({42}))}};
  s.inputs = {Strings({"a", "b", "d", "c", "g"})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<int16_t>((*out)[0], {0, 1, 42, 2, 42}, 0);
  // Keys from a list, values from a tensor (ONNX's value-only mapping case).
  s.attributes.erase("keys_tensor");
  s.attributes["keys_strings"] = StringsAttr({"a", "b", "c"});
  out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<int16_t>((*out)[0], {0, 1, 42, 2, 42}, 0);
  // int32 keys to double values; the default default is -0.0.
  s.attributes = {{"keys_tensor", TensorAttr(Tensor::FromVector<int32_t>({7, -7}))},
                  {"values_tensor", TensorAttr(Tensor::FromVector<double>({0.25, 1e300}))}};
  s.inputs = {Tensor::FromVector<int32_t>({-7, 0, 7})};
  out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<double>((*out)[0], {1e300, 0, 0.25}, 0);
  EXPECT_TRUE(std::signbit((*out)[0].data<double>()[1]));
}

TEST(MlLabelEncoder, BadAttributesAndInputsAreRefused) {
  OpSpec s = Ml("LabelEncoder", 2);
  s.attributes = {{"keys_strings", StringsAttr({"a", "b"})}, {"values_int64s", IntsAttr({0})}};
  s.inputs = {Strings({"a"})};
  ExpectError(s, "must match");
  s.attributes = {{"keys_strings", StringsAttr({"a"})},
                  {"keys_int64s", IntsAttr({1})},
                  {"values_int64s", IntsAttr({0})}};
  ExpectError(s, "exactly one of keys_");
  s.attributes = {{"keys_strings", StringsAttr({"a"})}};
  ExpectError(s, "exactly one of values_");
  s.attributes = {{"keys_strings", StringsAttr({"a"})}, {"values_int64s", IntsAttr({0})}};
  s.inputs = {Tensor::FromVector<float>({1})};
  ExpectError(s, "must match");
  s = Ml("LabelEncoder", 4);
  s.attributes = {{"keys_strings", StringsAttr({"a"})},
                  {"values_tensor", TensorAttr(Tensor::FromVector<int16_t>({1}))},
                  {"default_tensor", TensorAttr(Tensor::FromVector<int64_t>({1}))}};
  s.inputs = {Strings({"a"})};
  ExpectError(s, "default_tensor");
  s.attributes = {{"keys_tensor", TensorAttr(Tensor::FromVector<uint8_t>({1}))},
                  {"values_int64s", IntsAttr({0})}};
  ExpectError(s, "keys_tensor has dtype");
}

TEST(MlOneHotEncoder, IntegersAddALastAxis) {
  OpSpec s = Ml("OneHotEncoder", 1);
  s.attributes = {{"cats_int64s", IntsAttr({1, 3, 5})}};
  s.inputs = {Tensor::FromVector<int64_t>({5, 1, 3, 7}, {2, 2})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 2, 3}));
  ExpectValues<float>((*out)[0], {0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0});
  s.attributes["zeros"] = IntAttr(0);
  ExpectError(s, "not a category");
}

TEST(MlOneHotEncoder, StringsAndTruncatedFloats) {
  OpSpec s = Ml("OneHotEncoder", 1);
  s.attributes = {{"cats_strings", StringsAttr({"a", "b"})}};
  s.inputs = {Strings({"b", "a", "c"})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].shape(), (Shape{3, 2}));
  ExpectValues<float>((*out)[0], {0, 1, 1, 0, 0, 0});
  s.attributes = {{"cats_int64s", IntsAttr({3, 0})}};
  const double nan = std::numeric_limits<double>::quiet_NaN();
  s.inputs = {Tensor::FromVector<double>({3.7, -0.5, nan, 1e300})};
  out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<float>((*out)[0], {1, 0, 0, 1, 0, 0, 0, 0});
  s.inputs = {Strings({"a"})};
  ExpectError(s, "cats_strings");
  s.attributes["cats_strings"] = StringsAttr({"a"});
  ExpectError(s, "exactly one of");
}

TEST(MlFeatureVectorizer, ConcatenatesPadsAndTruncates) {
  OpSpec s = Ml("FeatureVectorizer", 1);
  s.attributes = {{"inputdimensions", IntsAttr({2, 2, 2})}};
  s.inputs = {Tensor::FromVector<float>({1, 2, 3, 4}, {2, 2}),
              Tensor::FromVector<int64_t>({5, 6}, {2, 1}),
              Tensor::FromVector<double>({7, 8, 9, 10, 11, 12}, {2, 3})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 6}));
  ExpectValues<float>((*out)[0], {1, 2, 5, 0, 7, 8, 3, 4, 6, 0, 10, 11});
  s.attributes = {{"inputdimensions", IntsAttr({3})}};
  s.inputs = {Tensor::FromVector<int32_t>({1, 2, 3})};
  out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].shape(), (Shape{1, 3}));
  ExpectValues<float>((*out)[0], {1, 2, 3});
}

TEST(MlFeatureVectorizer, BadShapesAreRefused) {
  OpSpec s = Ml("FeatureVectorizer", 1);
  s.attributes = {{"inputdimensions", IntsAttr({2, 1})}};
  s.inputs = {Tensor::FromVector<float>({1, 2, 3, 4}, {2, 2}),
              Tensor::FromVector<float>({5, 6, 7}, {3, 1})};
  ExpectError(s, "rows");
  s.attributes = {{"inputdimensions", IntsAttr({2})}};
  ExpectError(s, "inputdimensions");
  s.attributes = {{"inputdimensions", IntsAttr({2, -1})}};
  ExpectError(s, "inputdimensions");
  s.attributes = {{"inputdimensions", IntsAttr({1})}};
  s.inputs = {Strings({"a"})};
  ExpectError(s, "dtype");
}

TEST(MlMapOperators, RefusedNamingTensors) {
  for (const char* op : {"CastMap", "DictVectorizer"}) {
    OpSpec s = Ml(op, 1);
    s.inputs = {Tensor::FromVector<float>({1})};
    auto out = RunOp(s);
    ASSERT_FALSE(out.ok()) << op;
    EXPECT_EQ(out.status().code(), StatusCode::kNotSupported);
    EXPECT_NE(out.status().message().find("tensors"), std::string::npos);
    EXPECT_NE(out.status().message().find(op), std::string::npos);
  }
}

}  // namespace
}  // namespace tiffin
