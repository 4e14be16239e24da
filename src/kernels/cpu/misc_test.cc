// Expected values were computed with numpy (astype, arange, einsum) and, for
// Resize, with a numpy port of ONNX's reference interpolation extended with
// the opset 18/19 modes; they are not copied from the kernels.
#include <gtest/gtest.h>

#include <limits>

#include <cmath>
#include <string>
#include <vector>

#include "exec/testing.h"

namespace tiffin {
namespace {

using testing::FloatAttr;
using testing::FloatsAttr;
using testing::IntAttr;
using testing::IntsAttr;
using testing::OpSpec;
using testing::RunOp;
using testing::StringAttr;

template <typename T>
std::vector<T> Values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.size());
}

Tensor Run1(const OpSpec& spec) {
  auto out = RunOp(spec);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  if (!out.ok()) return Tensor();
  return (*out)[0];
}

void ExpectError(const OpSpec& spec, const std::string& needle) {
  auto out = RunOp(spec);
  ASSERT_FALSE(out.ok()) << spec.op_type << " unexpectedly succeeded";
  EXPECT_NE(out.status().message().find("node 'n0' (" + spec.op_type + ")"), std::string::npos)
      << out.status().message();
  EXPECT_NE(out.status().message().find(needle), std::string::npos) << out.status().message();
}

void ExpectNear(const Tensor& t, const std::vector<float>& want, float tol = 1e-5f) {
  ASSERT_EQ(t.dtype(), DType::kFloat32);
  ASSERT_EQ(t.size(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(t.data<float>()[i], want[i], tol) << "element " << i;
}

ir::Attribute TensorAttr(Tensor t) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kTensor;
  a.t = std::move(t);
  return a;
}

// ---------------------------------------------------------------- Constant family

TEST(Misc, ConstantForms) {
  OpSpec spec{.op_type = "Constant", .opset = 13};
  spec.attributes["value_floats"] = FloatsAttr({1.5f, -2});
  Tensor y = Run1(spec);
  EXPECT_EQ(y.shape(), (Shape{2}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{1.5f, -2}));

  OpSpec i{.op_type = "Constant", .opset = 13};
  i.attributes["value_int"] = IntAttr(7);
  y = Run1(i);
  EXPECT_EQ(y.shape(), Shape{});
  EXPECT_EQ(y.data<int64_t>()[0], 7);

  OpSpec two{.op_type = "Constant", .opset = 13};
  two.attributes["value_int"] = IntAttr(7);
  two.attributes["value_float"] = FloatAttr(7);
  ExpectError(two, "exactly one");

  OpSpec sparse{.op_type = "Constant", .opset = 13};
  sparse.attributes["sparse_value"] = TensorAttr(Tensor(DType::kFloat32, {1}));
  auto out = RunOp(sparse);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kNotSupported);
}

TEST(Misc, ConstantOfShapeValueAndDefault) {
  OpSpec spec{.op_type = "ConstantOfShape"};
  spec.attributes["value"] = TensorAttr(Tensor::FromVector<int64_t>({5}));
  spec.inputs = {Tensor::FromVector<int64_t>({2, 3})};
  Tensor y = Run1(spec);
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<int64_t>(y), std::vector<int64_t>(6, 5));

  OpSpec def{.op_type = "ConstantOfShape"};
  def.inputs = {Tensor::FromVector<int64_t>({3})};
  y = Run1(def);
  EXPECT_EQ(y.dtype(), DType::kFloat32);
  EXPECT_EQ(Values<float>(y), std::vector<float>(3, 0.0f));

  def.inputs = {Tensor::FromVector<int64_t>({2, -1})};
  ExpectError(def, "negative");
}

// Identity aliases its input inside the graph; a graph output never shares
// the caller's buffer (the executor copies it), so the caller may write it.
TEST(Misc, IdentityOutputHasTheValuesButNotTheBufferOfItsInput) {
  OpSpec spec{.op_type = "Identity"};
  Tensor x = Tensor::FromVector<float>({1, 2});
  spec.inputs = {x};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE((*out)[0].SharesBufferWith(x));
  EXPECT_EQ((*out)[0].data<float>()[1], 2.0f);
}

// ---------------------------------------------------------------- Cast

TEST(Misc, CastFloatToIntTruncatesAndWraps) {
  OpSpec spec{.op_type = "Cast"};
  spec.attributes["to"] = IntAttr(3);  // int8
  spec.inputs = {Tensor::FromVector<float>({1.9f, -1.9f, 300, -300.5f})};
  EXPECT_EQ(Values<int8_t>(Run1(spec)), (std::vector<int8_t>{1, -1, 44, -44}));
  spec.attributes["to"] = IntAttr(2);  // uint8
  spec.inputs = {Tensor::FromVector<float>({1.9f, -1.9f})};
  EXPECT_EQ(Values<uint8_t>(Run1(spec)), (std::vector<uint8_t>{1, 255}));
  // NaN and out-of-range values must not be undefined behaviour.
  spec.attributes["to"] = IntAttr(6);  // int32
  spec.inputs = {Tensor::FromVector<float>({NAN, 3e9f})};
  EXPECT_EQ(Values<int32_t>(Run1(spec)), (std::vector<int32_t>{INT32_MIN, INT32_MIN}));
}

TEST(Misc, CastNumbersToStringsLikeNumpy) {
  OpSpec spec{.op_type = "Cast"};
  spec.attributes["to"] = IntAttr(8);  // string
  spec.inputs = {Tensor::FromVector<float>({1.0f, 100000.0f, 1e16f, 1.5e-5f, 1e-4f, 123456789.0f,
                                            -0.0f, INFINITY, -INFINITY, NAN, 0.039187793f})};
  EXPECT_EQ(Values<std::string>(Run1(spec)),
            (std::vector<std::string>{"1.0", "100000.0", "1e+16", "1.5e-05", "1e-04", "123456790.0",
                                      "-0.0", "inf", "-inf", "nan", "0.039187793"}));
  spec.inputs = {Tensor::FromVector<double>({0.1, 1.0 / 3})};
  EXPECT_EQ(Values<std::string>(Run1(spec)),
            (std::vector<std::string>{"0.1", "0.3333333333333333"}));
  Tensor half(DType::kFloat16, {2});
  half.data<Float16>()[0] = Float16(0.1f);
  half.data<Float16>()[1] = Float16(65504.0f);
  spec.inputs = {half};
  EXPECT_EQ(Values<std::string>(Run1(spec)), (std::vector<std::string>{"0.1", "65500.0"}));
  Tensor b(DType::kBool, {2});
  b.data<bool>()[0] = true;
  spec.inputs = {b};
  EXPECT_EQ(Values<std::string>(Run1(spec)), (std::vector<std::string>{"True", "False"}));
  spec.inputs = {Tensor::FromVector<int64_t>({-42})};
  EXPECT_EQ(Values<std::string>(Run1(spec)), (std::vector<std::string>{"-42"}));
}

TEST(Misc, CastStringsToNumbers) {
  OpSpec spec{.op_type = "Cast"};
  spec.attributes["to"] = IntAttr(1);
  spec.inputs = {Tensor::FromVector<std::string>({"1e-3", " -inf", "NaN", "+INF"})};
  std::vector<float> got = Values<float>(Run1(spec));
  ASSERT_EQ(got.size(), 4u);
  EXPECT_FLOAT_EQ(got[0], 0.001f);
  EXPECT_TRUE(std::isinf(got[1]) && got[1] < 0);
  EXPECT_TRUE(std::isnan(got[2]));
  EXPECT_TRUE(std::isinf(got[3]) && got[3] > 0);
  spec.attributes["to"] = IntAttr(6);
  spec.inputs = {Tensor::FromVector<std::string>({"42", "-7"})};
  EXPECT_EQ(Values<int32_t>(Run1(spec)), (std::vector<int32_t>{42, -7}));
  spec.inputs = {Tensor::FromVector<std::string>({"4x"})};
  ExpectError(spec, "cannot parse string '4x'");
  spec.inputs = {Tensor::FromVector<std::string>({"99999999999"})};
  ExpectError(spec, "cannot parse");
}

TEST(Misc, CastRefusesUnsupportedTargets) {
  for (int64_t to : {16, 17, 19, 99}) {
    OpSpec spec{.op_type = "Cast", .opset = 19};
    spec.attributes["to"] = IntAttr(to);
    spec.inputs = {Tensor::FromVector<float>({1})};
    auto out = RunOp(spec);
    ASSERT_FALSE(out.ok()) << to;
    EXPECT_EQ(out.status().code(), StatusCode::kNotSupported) << to;
    EXPECT_NE(out.status().message().find("node 'n0' (Cast)"), std::string::npos);
  }
}

TEST(Misc, CastLikeUsesTheTargetDtype) {
  OpSpec spec{.op_type = "CastLike", .opset = 15};
  spec.inputs = {Tensor::FromVector<float>({2.7f, -0.5f}), Tensor::FromVector<int64_t>({0})};
  Tensor y = Run1(spec);
  ASSERT_EQ(y.dtype(), DType::kInt64);
  EXPECT_EQ(Values<int64_t>(y), (std::vector<int64_t>{2, 0}));
}

// ---------------------------------------------------------------- Range

TEST(Misc, RangeFloatIntAndErrors) {
  OpSpec spec{.op_type = "Range"};
  spec.inputs = {Tensor::Scalar<float>(1), Tensor::Scalar<float>(2), Tensor::Scalar<float>(0.3f)};
  ExpectNear(Run1(spec), {1.0f, 1.3f, 1.6f, 1.9f});
  spec.inputs = {Tensor::Scalar<int32_t>(10), Tensor::Scalar<int32_t>(4),
                 Tensor::Scalar<int32_t>(-3)};
  EXPECT_EQ(Values<int32_t>(Run1(spec)), (std::vector<int32_t>{10, 7}));
  spec.inputs = {Tensor::Scalar<int32_t>(0), Tensor::Scalar<int32_t>(4),
                 Tensor::Scalar<int32_t>(0)};
  ExpectError(spec, "delta is 0");
  spec.inputs = {Tensor::Scalar<int64_t>(0), Tensor::Scalar<int64_t>(INT64_MAX),
                 Tensor::Scalar<int64_t>(1)};
  auto out = RunOp(spec);
  ASSERT_FALSE(out.ok());  // too large: refused, not attempted
}

// ---------------------------------------------------------------- Resize / Upsample

Tensor Arange(int n, Shape shape, float start = 0) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = start + static_cast<float>(i);
  return Tensor::FromVector<float>(v, shape);
}

TEST(Misc, ResizeHalfPixelSymmetricOpset19) {
  OpSpec spec{.op_type = "Resize", .opset = 19};
  spec.attributes["mode"] = StringAttr("linear");
  spec.attributes["coordinate_transformation_mode"] = StringAttr("half_pixel_symmetric");
  spec.inputs = {Arange(16, {1, 1, 4, 4}, 1), Tensor(),
                 Tensor::FromVector<float>({1, 1, 0.6f, 0.6f})};
  Tensor y = Run1(spec);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  ExpectNear(y, {4.3333335f, 6.0f, 11.0f, 12.666667f}, 1e-4f);
  spec.opset = 18;  // not yet defined there
  ExpectError(spec, "half_pixel_symmetric");
}

TEST(Misc, ResizeAxesAndKeepAspectRatioOpset18) {
  OpSpec spec{.op_type = "Resize", .opset = 18};
  spec.attributes["axes"] = IntsAttr({2, 3});
  spec.attributes["keep_aspect_ratio_policy"] = StringAttr("not_larger");
  spec.inputs = {Tensor::FromVector<float>({1, 2, 3, 4}, {1, 1, 2, 2}), Tensor(), Tensor(),
                 Tensor::FromVector<int64_t>({7, 8})};
  Tensor y = Run1(spec);
  ASSERT_EQ(y.shape(), (Shape{1, 1, 7, 7}));
  const std::vector<float> want = {1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1,
                                   1, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4,
                                   4, 3, 3, 3, 3, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4};
  ExpectNear(y, want);
  spec.attributes["keep_aspect_ratio_policy"] = StringAttr("not_smaller");
  EXPECT_EQ(Run1(spec).shape(), (Shape{1, 1, 8, 8}));
  spec.inputs[3] = Tensor::FromVector<int64_t>({7, 8, 9});
  ExpectError(spec, "expected 2");
}

TEST(Misc, ResizeTrilinear) {
  OpSpec spec{.op_type = "Resize", .opset = 13};
  spec.attributes["mode"] = StringAttr("linear");
  spec.inputs = {Arange(8, {2, 2, 2}), Tensor(), Tensor::FromVector<float>({2, 2, 2})};
  Tensor y = Run1(spec);
  ASSERT_EQ(y.shape(), (Shape{4, 4, 4}));
  const std::vector<float> want = {
      0.0, 0.25, 0.75, 1.0, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2.0, 2.25, 2.75, 3.0,
      1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0,
      3.0, 3.25, 3.75, 4.0, 3.5, 3.75, 4.25, 4.5, 4.5, 4.75, 5.25, 5.5, 5.0, 5.25, 5.75, 6.0,
      4.0, 4.25, 4.75, 5.0, 4.5, 4.75, 5.25, 5.5, 5.5, 5.75, 6.25, 6.5, 6.0, 6.25, 6.75, 7.0};
  ExpectNear(y, want);
}

TEST(Misc, ResizeUint8LinearRoundsAndInt8Nearest) {
  OpSpec spec{.op_type = "Resize", .opset = 13};
  spec.attributes["mode"] = StringAttr("linear");
  spec.inputs = {Tensor::FromVector<uint8_t>({0, 255, 10}), Tensor(), Tensor(),
                 Tensor::FromVector<int64_t>({5})};
  EXPECT_EQ(Values<uint8_t>(Run1(spec)), (std::vector<uint8_t>{0, 102, 255, 108, 10}));
  OpSpec nn{.op_type = "Resize", .opset = 13};
  nn.inputs = {Tensor::FromVector<int8_t>({-1, 2}), Tensor(), Tensor::FromVector<float>({2})};
  EXPECT_EQ(Values<int8_t>(Run1(nn)), (std::vector<int8_t>{-1, -1, 2, 2}));
}

TEST(Misc, ResizeOpset10AndUpsample) {
  OpSpec r10{.op_type = "Resize", .opset = 10};
  r10.inputs = {Arange(4, {1, 1, 2, 2}, 1), Tensor::FromVector<float>({1, 1, 2, 2})};
  ExpectNear(Run1(r10), {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});

  OpSpec u7{.op_type = "Upsample", .opset = 7};
  u7.attributes["mode"] = StringAttr("linear");
  u7.attributes["scales"] = FloatsAttr({1, 2});
  u7.inputs = {Tensor::FromVector<float>({1, 2}, {1, 2})};
  ExpectNear(Run1(u7), {1, 1.5f, 2, 2});

  OpSpec u9{.op_type = "Upsample", .opset = 9};
  u9.inputs = {Tensor::FromVector<float>({1, 2}, {1, 2}), Tensor::FromVector<float>({2, 1})};
  ExpectNear(Run1(u9), {1, 2, 1, 2});
}

TEST(Misc, ResizeErrors) {
  OpSpec spec{.op_type = "Resize", .opset = 13};
  spec.inputs = {Arange(4, {2, 2}), Tensor(), Tensor::FromVector<float>({1, 0})};
  ExpectError(spec, "positive");
  spec.inputs = {Arange(4, {2, 2}), Tensor()};
  ExpectError(spec, "one of scales or sizes");
  spec.attributes["coordinate_transformation_mode"] = StringAttr("bogus");
  spec.inputs = {Arange(4, {2, 2}), Tensor(), Tensor::FromVector<float>({1, 1})};
  ExpectError(spec, "bogus");
}

// ---------------------------------------------------------------- Einsum

TEST(Misc, EinsumImplicitTraceAndEllipsis) {
  OpSpec mm{.op_type = "Einsum", .opset = 12};
  mm.attributes["equation"] = StringAttr("ij,jk");
  mm.inputs = {Arange(6, {2, 3}), Arange(12, {3, 4})};
  Tensor y = Run1(mm);
  EXPECT_EQ(y.shape(), (Shape{2, 4}));
  ExpectNear(y, {20, 23, 26, 29, 56, 68, 80, 92});

  OpSpec tr{.op_type = "Einsum", .opset = 12};
  tr.attributes["equation"] = StringAttr("ii");
  tr.inputs = {Tensor::FromVector<int64_t>({0, 1, 2, 3, 4, 5, 6, 7, 8}, {3, 3})};
  y = Run1(tr);
  EXPECT_EQ(y.shape(), Shape{});
  EXPECT_EQ(y.data<int64_t>()[0], 12);

  OpSpec el{.op_type = "Einsum", .opset = 12};
  el.attributes["equation"] = StringAttr("...j,kj->...k");
  el.inputs = {Arange(6, {2, 1, 3}), Arange(12, {4, 3})};
  y = Run1(el);
  EXPECT_EQ(y.shape(), (Shape{2, 1, 4}));
  ExpectNear(y, {5, 14, 23, 32, 14, 50, 86, 122});

  // Ellipsis dims broadcast (1 against 3).
  OpSpec bc{.op_type = "Einsum", .opset = 12};
  bc.attributes["equation"] = StringAttr("...ij,...jk->...ik");
  bc.inputs = {Arange(4, {1, 2, 2}), Arange(12, {3, 2, 2})};
  y = Run1(bc);
  EXPECT_EQ(y.shape(), (Shape{3, 2, 2}));
  ExpectNear(y, {2, 3, 6, 11, 6, 7, 26, 31, 10, 11, 46, 51});

  OpSpec bad{.op_type = "Einsum", .opset = 12};
  bad.attributes["equation"] = StringAttr("ij,jk->ik");
  bad.inputs = {Arange(6, {2, 3}), Arange(8, {2, 4})};
  ExpectError(bad, "differ in size");
}

TEST(Misc, HugeSizesAreRefusedNotAttempted) {
  OpSpec cos{.op_type = "ConstantOfShape"};
  cos.inputs = {Tensor::FromVector<int64_t>({int64_t{1} << 40, int64_t{1} << 40})};
  EXPECT_FALSE(RunOp(cos).ok());
  OpSpec rs{.op_type = "Resize", .opset = 13};
  rs.inputs = {Tensor(DType::kFloat32, {1, 2}), Tensor(), Tensor::FromVector<float>({1e30f, 1})};
  EXPECT_FALSE(RunOp(rs).ok());
  rs.inputs = {Tensor(DType::kFloat32, {1, 2}), Tensor(), Tensor(),
               Tensor::FromVector<int64_t>({int64_t{1} << 40, 1})};
  EXPECT_FALSE(RunOp(rs).ok());
  OpSpec rg{.op_type = "Range"};
  rg.inputs = {Tensor::Scalar<float>(0), Tensor::Scalar<float>(INFINITY), Tensor::Scalar<float>(1)};
  EXPECT_FALSE(RunOp(rg).ok());
  rg.inputs = {Tensor::Scalar<float>(0), Tensor::Scalar<float>(1), Tensor::Scalar<float>(NAN)};
  EXPECT_FALSE(RunOp(rg).ok());
}

// ---- Fuzzer regressions (fuzz/README.md).

// review: integer Einsum summed products in the signed type (overflow is
// undefined; it wraps now, as numpy's does). Aborts under UBSan before.
TEST(Einsum, IntegerSumsOfProductsWrap) {
  OpSpec spec{.op_type = "Einsum", .opset = 12};
  spec.attributes["equation"] = StringAttr("i,i->");
  spec.inputs = {Tensor::FromVector<int64_t>({std::numeric_limits<int64_t>::max(), 1}),
                 Tensor::FromVector<int64_t>({2, 2})};
  Tensor y = Run1(spec);
  EXPECT_EQ(y.data<int64_t>()[0], 0);  // 2^64 - 2 + 2
}

}  // namespace
}  // namespace tiffin
