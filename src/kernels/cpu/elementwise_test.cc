#include <gtest/gtest.h>

#include "exec/testing.h"

namespace tiffin {
namespace {

using testing::OpSpec;
using testing::RunOp;

TEST(Elementwise, AddBroadcastsRowVector) {
  OpSpec spec{.op_type = "Add"};
  spec.inputs = {Tensor::FromVector<float>({1, 2, 3, 4, 5, 6}, {2, 3}),
                 Tensor::FromVector<float>({10, 20, 30}, {3})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ((*out)[0].shape(), (Shape{2, 3}));
  const float want[] = {11, 22, 33, 14, 25, 36};
  for (int i = 0; i < 6; ++i) EXPECT_EQ((*out)[0].data<float>()[i], want[i]);
}

TEST(Elementwise, MulBroadcastsBothSides) {
  OpSpec spec{.op_type = "Mul"};
  spec.inputs = {Tensor::FromVector<int64_t>({1, 2}, {2, 1}),
                 Tensor::FromVector<int64_t>({3, 4, 5}, {1, 3})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const int64_t want[] = {3, 4, 5, 6, 8, 10};
  for (int i = 0; i < 6; ++i) EXPECT_EQ((*out)[0].data<int64_t>()[i], want[i]);
}

TEST(Elementwise, IncompatibleShapesNameTheNode) {
  OpSpec spec{.op_type = "Sub"};
  spec.inputs = {Tensor(DType::kFloat32, {2, 3}), Tensor(DType::kFloat32, {4})};
  auto out = RunOp(spec);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("do not broadcast"), std::string::npos);
  EXPECT_NE(out.status().message().find("node 'n0' (Sub)"), std::string::npos);
}

TEST(Elementwise, IntegerDivisionByZeroIsAnErrorNotACrash) {
  OpSpec spec{.op_type = "Div"};
  spec.inputs = {Tensor::FromVector<int32_t>({1, 2}), Tensor::FromVector<int32_t>({1, 0})};
  auto out = RunOp(spec);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("division by zero"), std::string::npos);
}

TEST(Elementwise, WhereSelects) {
  OpSpec spec{.op_type = "Where"};
  Tensor cond(DType::kBool, {2});
  cond.data<bool>()[0] = true;
  spec.inputs = {cond, Tensor::FromVector<float>({1, 2}), Tensor::FromVector<float>({9}, {1})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].data<float>()[0], 1);
  EXPECT_EQ((*out)[0].data<float>()[1], 9);
}

TEST(Registry, UnsupportedOpListsWhatIsSupported) {
  OpSpec spec{.op_type = "NoSuchOp"};
  spec.inputs = {Tensor(DType::kFloat32, {1})};
  auto out = RunOp(spec);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kNotSupported);
  EXPECT_NE(out.status().message().find("NoSuchOp"), std::string::npos);
  EXPECT_NE(out.status().message().find("opset 17"), std::string::npos);
  EXPECT_NE(out.status().message().find("Add"), std::string::npos);
}

}  // namespace
}  // namespace tiffin
