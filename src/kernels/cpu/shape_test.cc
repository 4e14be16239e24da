// Expected values below were computed with numpy (np.transpose, np.pad,
// np.tile, np.triu, ...), not copied from the kernels.
#include <gtest/gtest.h>

#include <limits>

#include <string>
#include <vector>

#include "exec/testing.h"

namespace tiffin {
namespace {

using testing::FloatAttr;
using testing::IntAttr;
using testing::IntsAttr;
using testing::OpSpec;
using testing::RunOp;
using testing::StringAttr;

template <typename T>
std::vector<T> Values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.size());
}

std::vector<int64_t> Iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i;
  return v;
}

Tensor I64(std::vector<int64_t> v, Shape shape = {}) {
  return Tensor::FromVector<int64_t>(v, shape);
}

// Runs spec expecting success and returns output 0.
Tensor Run1(const OpSpec& spec) {
  auto out = RunOp(spec);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  if (!out.ok()) return Tensor();
  return (*out)[0];
}

// Runs spec expecting an error that names the node and contains `needle`.
void ExpectError(const OpSpec& spec, const std::string& needle) {
  auto out = RunOp(spec);
  ASSERT_FALSE(out.ok()) << spec.op_type << " unexpectedly succeeded";
  EXPECT_NE(out.status().message().find("node 'n0' (" + spec.op_type + ")"), std::string::npos)
      << out.status().message();
  EXPECT_NE(out.status().message().find(needle), std::string::npos) << out.status().message();
}

TEST(Shape, ReshapeCopiesZeroAndInfersMinusOne) {
  OpSpec spec{.op_type = "Reshape", .opset = 13};
  Tensor x = I64(Iota(24), {2, 3, 4});
  spec.inputs = {x, I64({0, -1, 2})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 6, 2}));
  EXPECT_EQ((*out)[0].data<int64_t>()[23], 23);
  // A graph output never shares the caller's input buffer (see Misc tests).
  EXPECT_FALSE((*out)[0].SharesBufferWith(x));
}

TEST(Shape, ReshapeAllowZeroKeepsZeroDims) {
  OpSpec spec{.op_type = "Reshape", .opset = 14};
  spec.attributes["allowzero"] = IntAttr(1);
  spec.inputs = {Tensor(DType::kFloat32, {0, 3}), I64({3, 0})};
  EXPECT_EQ(Run1(spec).shape(), (Shape{3, 0}));
}

TEST(Shape, ReshapeCountMismatchIsAnError) {
  OpSpec spec{.op_type = "Reshape"};
  spec.inputs = {Tensor(DType::kFloat32, {2, 3}), I64({4, 2})};
  ExpectError(spec, "cannot reshape");
  spec.inputs = {Tensor(DType::kFloat32, {2, 3}), I64({-1, -1})};
  ExpectError(spec, "more than one -1");
}

TEST(Shape, FlattenNegativeAxis) {
  OpSpec spec{.op_type = "Flatten"};
  spec.attributes["axis"] = IntAttr(-1);
  spec.inputs = {Tensor(DType::kString, {2, 3, 4})};
  EXPECT_EQ(Run1(spec).shape(), (Shape{6, 4}));
  spec.attributes["axis"] = IntAttr(4);
  ExpectError(spec, "out of range");
}

TEST(Shape, TransposeMatchesNumpy) {
  OpSpec spec{.op_type = "Transpose"};
  spec.attributes["perm"] = IntsAttr({1, 2, 0});
  spec.inputs = {I64(Iota(24), {2, 3, 4})};
  Tensor y = Run1(spec);
  EXPECT_EQ(y.shape(), (Shape{3, 4, 2}));
  EXPECT_EQ(Values<int64_t>(y), (std::vector<int64_t>{0, 12, 1, 13, 2, 14, 3, 15, 4,  16, 5,  17,
                                                      6, 18, 7, 19, 8, 20, 9, 21, 10, 22, 11, 23}));
}

TEST(Shape, TransposeLargeNchwToNhwcMatchesIndexFormula) {
  const int64_t N = 2, C = 37, H = 19, W = 23;
  std::vector<float> v(static_cast<size_t>(N * C * H * W));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  OpSpec spec{.op_type = "Transpose"};
  spec.attributes["perm"] = IntsAttr({0, 2, 3, 1});
  spec.inputs = {Tensor::FromVector<float>(v, {N, C, H, W})};
  Tensor y = Run1(spec);
  ASSERT_EQ(y.shape(), (Shape{N, H, W, C}));
  const float* p = y.data<float>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t w = 0; w < W; ++w)
        for (int64_t c = 0; c < C; ++c)
          ASSERT_EQ(p[((n * H + h) * W + w) * C + c],
                    static_cast<float>(((n * C + c) * H + h) * W + w));
}

TEST(Shape, TransposeDefaultReversesAndRejectsBadPerm) {
  OpSpec spec{.op_type = "Transpose"};
  spec.inputs = {Tensor(DType::kBool, {2, 3, 5})};
  EXPECT_EQ(Run1(spec).shape(), (Shape{5, 3, 2}));
  spec.attributes["perm"] = IntsAttr({0, 0, 1});
  ExpectError(spec, "not a permutation");
}

TEST(Shape, SqueezeAndUnsqueezeAttributeAndInputForms) {
  OpSpec sq{.op_type = "Squeeze", .opset = 11};
  sq.attributes["axes"] = IntsAttr({-1});
  sq.inputs = {Tensor(DType::kFloat32, {1, 3, 1})};
  EXPECT_EQ(Run1(sq).shape(), (Shape{1, 3}));
  OpSpec sq13{.op_type = "Squeeze", .opset = 13};
  sq13.inputs = {Tensor(DType::kFloat32, {1, 3, 1})};
  EXPECT_EQ(Run1(sq13).shape(), (Shape{3}));
  sq13.inputs.push_back(I64({1}));
  ExpectError(sq13, "cannot squeeze axis 1");

  OpSpec un{.op_type = "Unsqueeze", .opset = 11};
  un.attributes["axes"] = IntsAttr({0, -1});
  un.inputs = {Tensor(DType::kFloat32, {3})};
  EXPECT_EQ(Run1(un).shape(), (Shape{1, 3, 1}));
  OpSpec un13{.op_type = "Unsqueeze", .opset = 13};
  un13.inputs = {Tensor(DType::kFloat32, {3}), I64({2, 0})};
  EXPECT_EQ(Run1(un13).shape(), (Shape{1, 3, 1}));
  un13.inputs[1] = I64({0, 0});
  ExpectError(un13, "repeated");
}

TEST(Shape, ConcatStringsAlongAxis1) {
  OpSpec spec{.op_type = "Concat"};
  spec.attributes["axis"] = IntAttr(1);
  spec.inputs = {Tensor::FromVector<std::string>({"a", "b"}, {2, 1}),
                 Tensor::FromVector<std::string>({"c", "d", "e", "f"}, {2, 2})};
  Tensor y = Run1(spec);
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<std::string>(y), (std::vector<std::string>{"a", "c", "d", "b", "e", "f"}));
  spec.inputs[1] = Tensor::FromVector<std::string>({"c", "d", "e"}, {3, 1});
  ExpectError(spec, "does not match");
}

TEST(Shape, SplitAttributeInputAndNumOutputs) {
  OpSpec s11{.op_type = "Split", .opset = 11, .num_outputs = 2};
  s11.attributes["split"] = IntsAttr({1, 4});
  s11.inputs = {I64(Iota(5))};
  auto out = RunOp(s11);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Values<int64_t>((*out)[1]), (std::vector<int64_t>{1, 2, 3, 4}));

  // Opset 18: num_outputs with an uneven split gives ceil-sized chunks.
  OpSpec s18{.op_type = "Split", .opset = 18, .num_outputs = 3};
  s18.attributes["num_outputs"] = IntAttr(3);
  s18.inputs = {I64(Iota(5))};
  out = RunOp(s18);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Values<int64_t>((*out)[0]), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(Values<int64_t>((*out)[1]), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(Values<int64_t>((*out)[2]), (std::vector<int64_t>{4}));

  OpSpec s13{.op_type = "Split", .opset = 13, .num_outputs = 2};
  s13.inputs = {I64(Iota(5)), I64({2, 2})};
  ExpectError(s13, "sums to 4");
  s13.inputs = {I64(Iota(5))};
  ExpectError(s13, "does not split evenly");
}

TEST(Shape, SliceNegativeStepsAndClamping) {
  OpSpec spec{.op_type = "Slice", .opset = 13};
  spec.inputs = {I64(Iota(10)), I64({8}), I64({1}), I64({0}), I64({-3})};
  EXPECT_EQ(Values<int64_t>(Run1(spec)), (std::vector<int64_t>{8, 5, 2}));
  spec.inputs = {I64(Iota(10)), I64({-1}), I64({-1000}), I64({0}), I64({-4})};
  EXPECT_EQ(Values<int64_t>(Run1(spec)), (std::vector<int64_t>{9, 5, 1}));
  // x[2:0:-1, 1:100:2] of arange(12).reshape(3, 4)
  spec.inputs = {I64(Iota(12), {3, 4}), I64({2, 1}), I64({0, 100}), Tensor(), I64({-1, 2})};
  Tensor y = Run1(spec);
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<int64_t>(y), (std::vector<int64_t>{9, 11, 5, 7}));
  spec.inputs = {I64(Iota(10)), I64({0}), I64({5}), I64({0}), I64({0})};
  ExpectError(spec, "step");
}

TEST(Shape, SliceAttributeFormBeforeOpset10) {
  OpSpec spec{.op_type = "Slice", .opset = 9};
  spec.attributes["starts"] = IntsAttr({1});
  spec.attributes["ends"] = IntsAttr({1000});
  spec.attributes["axes"] = IntsAttr({1});
  spec.inputs = {I64(Iota(6), {2, 3})};
  EXPECT_EQ(Values<int64_t>(Run1(spec)), (std::vector<int64_t>{1, 2, 4, 5}));
}

TEST(Shape, GatherNegativeIndexAndOutOfRangeError) {
  OpSpec spec{.op_type = "Gather"};
  spec.attributes["axis"] = IntAttr(1);
  spec.inputs = {I64(Iota(6), {2, 3}), I64({-1, 0})};
  Tensor y = Run1(spec);
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<int64_t>(y), (std::vector<int64_t>{2, 0, 5, 3}));
  spec.inputs[1] = I64({3});
  ExpectError(spec, "index 3 is out of range");
  spec.inputs[1] = Tensor::FromVector<int32_t>({-4});
  ExpectError(spec, "index -4 is out of range");
}

TEST(Shape, GatherElementsAndOutOfRange) {
  OpSpec spec{.op_type = "GatherElements"};
  spec.attributes["axis"] = IntAttr(1);
  spec.inputs = {I64({1, 2, 3, 4}, {2, 2}), I64({0, 0, 1, 0}, {2, 2})};
  EXPECT_EQ(Values<int64_t>(Run1(spec)), (std::vector<int64_t>{1, 1, 4, 3}));
  spec.inputs[1] = I64({0, 2, 1, 0}, {2, 2});
  ExpectError(spec, "out of range");
}

TEST(Shape, GatherNDBatchDims) {
  OpSpec spec{.op_type = "GatherND", .opset = 12};
  spec.attributes["batch_dims"] = IntAttr(1);
  spec.inputs = {I64(Iota(8), {2, 2, 2}), I64({1, 0}, {2, 1})};
  Tensor y = Run1(spec);
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<int64_t>(y), (std::vector<int64_t>{2, 3, 4, 5}));
  spec.inputs[1] = I64({2, 0}, {2, 1});
  ExpectError(spec, "out of range");
}

TEST(Shape, ScatterReductions) {
  OpSpec se{.op_type = "ScatterElements", .opset = 18};
  se.attributes["reduction"] = StringAttr("max");
  se.inputs = {Tensor::FromVector<float>({1, 5, 3}), I64({0, 0, 2}),
               Tensor::FromVector<float>({7, 2, 1})};
  EXPECT_EQ(Values<float>(Run1(se)), (std::vector<float>{7, 5, 3}));
  se.opset = 16;  // max arrives at 18
  ExpectError(se, "unknown reduction");

  OpSpec nd{.op_type = "ScatterND", .opset = 16};
  nd.attributes["reduction"] = StringAttr("add");
  nd.inputs = {I64({1, 2, 3, 4}), I64({1, 1, 3}, {3, 1}), I64({10, 20, 30})};
  EXPECT_EQ(Values<int64_t>(Run1(nd)), (std::vector<int64_t>{1, 32, 3, 34}));
  nd.inputs[1] = I64({1, 1, 4}, {3, 1});
  ExpectError(nd, "index 4 is out of range");
}

TEST(Shape, ShapeStartEndAndSize) {
  OpSpec spec{.op_type = "Shape", .opset = 15};
  spec.attributes["start"] = IntAttr(-2);
  spec.inputs = {Tensor(DType::kFloat32, {2, 3, 4})};
  EXPECT_EQ(Values<int64_t>(Run1(spec)), (std::vector<int64_t>{3, 4}));
  OpSpec size{.op_type = "Size"};
  size.inputs = {Tensor(DType::kFloat32, {2, 3, 4})};
  Tensor y = Run1(size);
  EXPECT_EQ(y.shape(), Shape{});
  EXPECT_EQ(y.data<int64_t>()[0], 24);
}

TEST(Shape, ExpandAndTile) {
  OpSpec ex{.op_type = "Expand"};
  ex.inputs = {I64({0, 1, 2}, {3, 1}), I64({2, 1, 4})};
  Tensor y = Run1(ex);
  EXPECT_EQ(y.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(Values<int64_t>(y), (std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
                                                      0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2}));
  ex.inputs[1] = I64({2, 2});
  ExpectError(ex, "do not broadcast");

  OpSpec tile{.op_type = "Tile"};
  tile.inputs = {I64(Iota(6), {2, 3}), I64({2, 2})};
  y = Run1(tile);
  EXPECT_EQ(y.shape(), (Shape{4, 6}));
  EXPECT_EQ(Values<int64_t>(y), (std::vector<int64_t>{0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5,
                                                      0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5}));
  tile.inputs[1] = I64({2});
  ExpectError(tile, "repeats");
}

TEST(Shape, PadModes) {
  OpSpec wrap{.op_type = "Pad", .opset = 19};
  wrap.attributes["mode"] = StringAttr("wrap");
  wrap.inputs = {I64(Iota(6), {2, 3}), I64({1, 2, 0, 1})};
  Tensor y = Run1(wrap);
  EXPECT_EQ(y.shape(), (Shape{3, 6}));
  EXPECT_EQ(Values<int64_t>(y),
            (std::vector<int64_t>{4, 5, 3, 4, 5, 3, 1, 2, 0, 1, 2, 0, 4, 5, 3, 4, 5, 3}));
  wrap.opset = 18;
  ExpectError(wrap, "unknown mode 'wrap'");

  // Opset 18 axes input: pad only axis 1 (reflect).
  OpSpec refl{.op_type = "Pad", .opset = 18};
  refl.attributes["mode"] = StringAttr("reflect");
  refl.inputs = {I64(Iota(6), {2, 3}), I64({2, 2}), Tensor(), I64({-1})};
  EXPECT_EQ(Values<int64_t>(Run1(refl)),
            (std::vector<int64_t>{2, 1, 0, 1, 2, 1, 0, 5, 4, 3, 4, 5, 4, 3}));

  OpSpec edge{.op_type = "Pad", .opset = 13};
  edge.attributes["mode"] = StringAttr("edge");
  edge.inputs = {I64(Iota(6), {2, 3}), I64({1, 0, 1, 1})};
  EXPECT_EQ(Values<int64_t>(Run1(edge)),
            (std::vector<int64_t>{0, 1, 2, 2, 0, 1, 2, 2, 3, 4, 5, 5, 3, 4, 5, 5}));

  // Negative pads crop.
  OpSpec crop{.op_type = "Pad", .opset = 13};
  crop.inputs = {I64(Iota(6), {2, 3}), I64({0, -1, 0, 0})};
  EXPECT_EQ(Values<int64_t>(Run1(crop)), (std::vector<int64_t>{1, 2, 4, 5}));

  // Opset 2: pads and value are attributes.
  OpSpec old{.op_type = "Pad", .opset = 2};
  old.attributes["pads"] = IntsAttr({1, 0});
  old.attributes["value"] = FloatAttr(9.5f);
  old.inputs = {Tensor::FromVector<float>({1, 2})};
  EXPECT_EQ(Values<float>(Run1(old)), (std::vector<float>{9.5f, 1, 2}));

  OpSpec bad{.op_type = "Pad", .opset = 13};
  bad.inputs = {I64(Iota(6), {2, 3}), I64({0, -4, 0, 0})};
  ExpectError(bad, "negative");
}

TEST(Shape, OneHotNegativeAndOutOfRangeIndices) {
  OpSpec spec{.op_type = "OneHot", .opset = 11};
  spec.inputs = {I64({1, -1, 7}), Tensor::Scalar<int64_t>(4), Tensor::FromVector<float>({0, 1})};
  Tensor y = Run1(spec);
  EXPECT_EQ(y.shape(), (Shape{3, 4}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}));
}

TEST(Shape, NonZeroTriluDepthSpaceCompressEyeLike) {
  OpSpec nz{.op_type = "NonZero"};
  nz.inputs = {I64({0, 1, 0, 2, 0, 3}, {2, 3})};
  Tensor y = Run1(nz);
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<int64_t>(y), (std::vector<int64_t>{0, 1, 1, 1, 0, 2}));

  OpSpec tri{.op_type = "Trilu", .opset = 14};
  tri.inputs = {I64({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {3, 4}), Tensor::Scalar<int64_t>(1)};
  EXPECT_EQ(Values<int64_t>(Run1(tri)),
            (std::vector<int64_t>{0, 2, 3, 4, 0, 0, 7, 8, 0, 0, 0, 12}));
  tri.attributes["upper"] = IntAttr(0);
  tri.inputs[1] = Tensor::Scalar<int64_t>(-1);
  EXPECT_EQ(Values<int64_t>(Run1(tri)),
            (std::vector<int64_t>{0, 0, 0, 0, 5, 0, 0, 0, 9, 10, 0, 0}));

  OpSpec d2s{.op_type = "DepthToSpace", .opset = 13};
  d2s.attributes["blocksize"] = IntAttr(2);
  d2s.attributes["mode"] = StringAttr("CRD");
  d2s.inputs = {I64(Iota(16), {1, 8, 1, 2})};
  y = Run1(d2s);
  EXPECT_EQ(y.shape(), (Shape{1, 2, 2, 4}));
  EXPECT_EQ(Values<int64_t>(y),
            (std::vector<int64_t>{0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15}));
  d2s.attributes["mode"] = StringAttr("DCR");
  EXPECT_EQ(Values<int64_t>(Run1(d2s)),
            (std::vector<int64_t>{0, 4, 1, 5, 8, 12, 9, 13, 2, 6, 3, 7, 10, 14, 11, 15}));
  d2s.inputs = {I64(Iota(12), {1, 6, 1, 2})};
  ExpectError(d2s, "not divisible");

  OpSpec s2d{.op_type = "SpaceToDepth"};
  s2d.attributes["blocksize"] = IntAttr(2);
  s2d.inputs = {I64(Iota(16), {1, 1, 4, 4})};
  EXPECT_EQ(Values<int64_t>(Run1(s2d)),
            (std::vector<int64_t>{0, 2, 8, 10, 1, 3, 9, 11, 4, 6, 12, 14, 5, 7, 13, 15}));

  Tensor cond(DType::kBool, {3});
  cond.data<bool>()[1] = cond.data<bool>()[2] = true;
  OpSpec cmp{.op_type = "Compress"};
  cmp.inputs = {I64(Iota(6), {3, 2}), cond};
  EXPECT_EQ(Values<int64_t>(Run1(cmp)), (std::vector<int64_t>{1, 2}));

  OpSpec eye{.op_type = "EyeLike"};
  eye.attributes["k"] = IntAttr(1);
  eye.attributes["dtype"] = IntAttr(6);  // int32
  eye.inputs = {Tensor(DType::kFloat32, {2, 3})};
  y = Run1(eye);
  ASSERT_EQ(y.dtype(), DType::kInt32);
  EXPECT_EQ(Values<int32_t>(y), (std::vector<int32_t>{0, 1, 0, 0, 0, 1}));
}

TEST(Shape, HugeSizesAreRefusedNotAttempted) {
  const int64_t big = int64_t{1} << 40;
  OpSpec tile{.op_type = "Tile"};
  tile.inputs = {I64({1, 2}), I64({big})};
  auto out = RunOp(tile);
  ASSERT_FALSE(out.ok());
  tile.inputs = {I64({1, 2}), I64({INT64_MAX})};
  EXPECT_FALSE(RunOp(tile).ok());

  OpSpec pad{.op_type = "Pad", .opset = 13};
  pad.inputs = {I64({1, 2}), I64({0, INT64_MAX})};
  EXPECT_FALSE(RunOp(pad).ok());

  OpSpec ex{.op_type = "Expand"};
  ex.inputs = {I64({1}), I64({big, big})};
  EXPECT_FALSE(RunOp(ex).ok());

  OpSpec oh{.op_type = "OneHot", .opset = 11};
  oh.inputs = {I64({1, 2}), Tensor::Scalar<int64_t>(big), Tensor::FromVector<float>({0, 1})};
  EXPECT_FALSE(RunOp(oh).ok());

  OpSpec d2s{.op_type = "DepthToSpace"};
  d2s.attributes["blocksize"] = IntAttr(int64_t{1} << 20);
  d2s.inputs = {Tensor(DType::kFloat32, {1, 4, 1, 1})};
  EXPECT_FALSE(RunOp(d2s).ok());

  // A zero dim does not make other dims' products safe.
  OpSpec fl{.op_type = "Flatten"};
  fl.inputs = {Tensor(DType::kFloat32, {0, int64_t{1} << 62, 8})};
  fl.attributes["axis"] = IntAttr(1);
  EXPECT_FALSE(RunOp(fl).ok());
}

// ---- Fuzzer regressions (fuzz/README.md).

// review: ScatterElements/ScatterND with reduction add/mul combined integers
// with a signed add/multiply (overflow is undefined; it wraps now). These
// abort under UBSan before the fix.
TEST(Scatter, IntegerReductionsWrap) {
  const int32_t imax = std::numeric_limits<int32_t>::max();
  OpSpec spec{.op_type = "ScatterElements", .opset = 18};
  spec.attributes["reduction"] = StringAttr("add");
  spec.inputs = {Tensor::FromVector<int32_t>({imax, 5}), Tensor::FromVector<int64_t>({0}),
                 Tensor::FromVector<int32_t>({1})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].data<int32_t>()[0], std::numeric_limits<int32_t>::min());
  EXPECT_EQ((*out)[0].data<int32_t>()[1], 5);

  OpSpec nd{.op_type = "ScatterND", .opset = 18};
  nd.attributes["reduction"] = StringAttr("mul");
  nd.inputs = {Tensor::FromVector<uint16_t>({65535, 3}), Tensor::FromVector<int64_t>({0}, {1, 1}),
               Tensor::FromVector<uint16_t>({65535})};
  out = RunOp(nd);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].data<uint16_t>()[0], 1);  // 65535^2 mod 2^16
}

// review: a begin pad of -2^63 is accepted when the end pad makes the size
// non-negative again, and the index map computed o - pad in int64 (signed
// overflow; it aborts under UBSan before the fix).
TEST(Pad, ExtremeBeginPadDoesNotOverflowTheIndexMap) {
  OpSpec spec{.op_type = "Pad", .opset = 13};
  spec.attributes["mode"] = StringAttr("reflect");
  spec.inputs = {Tensor::FromVector<float>({1, 2, 3}),
                 Tensor::FromVector<int64_t>(
                     {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ((*out)[0].shape(), (Shape{2}));  // 3 - 2^63 + 2^63 - 1
  // Output index o reads input o + 2^63, reflected with period 4:
  // 2^63 = 0 (mod 4) -> 1, then 2.
  EXPECT_EQ((*out)[0].data<float>()[0], 1.f);
  EXPECT_EQ((*out)[0].data<float>()[1], 2.f);
}

// review: Pad-2's float 'value' attribute went through static_cast<int64_t>
// for an integer input; 1e30 does not fit (x86 gave INT64_MIN, so 0 for
// int32). It saturates now.
TEST(Pad, FloatValueAttributeSaturatesForIntegers) {
  OpSpec spec{.op_type = "Pad", .opset = 2};
  spec.attributes["pads"] = IntsAttr({1, 1});
  spec.attributes["value"] = FloatAttr(1e30f);
  spec.inputs = {Tensor::FromVector<int32_t>({7})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].data<int32_t>()[0], std::numeric_limits<int32_t>::max());
  EXPECT_EQ((*out)[0].data<int32_t>()[1], 7);
}

// review: EyeLike computed i + k in int64; k = INT64_MAX overflowed.
TEST(EyeLike, DiagonalFarOutsideIsEmpty) {
  for (int64_t k : {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}) {
    OpSpec spec{.op_type = "EyeLike"};
    spec.attributes["k"] = IntAttr(k);
    spec.inputs = {Tensor(DType::kFloat32, {2, 2})};
    auto out = RunOp(spec);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    for (int i = 0; i < 4; ++i) EXPECT_EQ((*out)[0].data<float>()[i], 0.f);
  }
}

}  // namespace
}  // namespace tiffin
