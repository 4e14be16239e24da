// Helpers for the ai.onnx.ml kernel tests (ml*_test.cc).
#ifndef TIFFIN_KERNELS_CPU_ML_TEST_UTIL_H_
#define TIFFIN_KERNELS_CPU_ML_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "exec/testing.h"

namespace tiffin::mltest {

inline ir::Attribute StringsAttr(std::vector<std::string> v) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kStrings;
  a.strings = std::move(v);
  return a;
}

inline ir::Attribute TensorAttr(Tensor t) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kTensor;
  a.t = std::move(t);
  return a;
}

// A one-node spec for `op` in ai.onnx.ml at `opset`.
inline testing::OpSpec Ml(const char* op, int64_t opset = 3) {
  testing::OpSpec s{.op_type = op, .domain = "ai.onnx.ml"};
  s.opset = opset;
  return s;
}

template <typename T>
void ExpectValues(const Tensor& t, const std::vector<T>& want, double tol = 1e-6) {
  ASSERT_EQ(t.dtype(), DTypeOf<T>());
  ASSERT_EQ(t.size(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(static_cast<double>(t.data<T>()[i]), static_cast<double>(want[i]), tol)
        << "at " << i;
}

inline void ExpectInts(const Tensor& t, const std::vector<int64_t>& want) {
  ASSERT_EQ(t.dtype(), DType::kInt64);
  ASSERT_EQ(t.size(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(t.data<int64_t>()[i], want[i]) << "at " << i;
}

// The run fails and its message contains `part`.
inline void ExpectError(const testing::OpSpec& s, const std::string& part) {
  auto out = testing::RunOp(s);
  ASSERT_FALSE(out.ok()) << "expected an error mentioning '" << part << "'";
  EXPECT_NE(out.status().message().find(part), std::string::npos) << out.status().ToString();
}

}  // namespace tiffin::mltest

#endif  // TIFFIN_KERNELS_CPU_ML_TEST_UTIL_H_
