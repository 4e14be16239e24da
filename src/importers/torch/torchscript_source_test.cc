// The TorchScript source matcher: literals, renaming, the printer's inlining.
#include "importers/torch/torchscript_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tiffin::torch_import {
namespace {

using ::testing::ElementsAre;

TEST(TorchScriptSource, ParsesLiteralLists) {
  std::vector<Literal> l;
  ASSERT_TRUE(ParseLiterals("[2, 2], \"same\", [1, 1], 2", &l));
  ASSERT_EQ(l.size(), 4u);
  EXPECT_EQ(l[0].kind, Literal::kIntList);
  EXPECT_THAT(l[0].ints, ElementsAre(2, 2));
  EXPECT_EQ(l[1].text, "same");
  EXPECT_EQ(l[3].kind, Literal::kInt);
  ASSERT_TRUE(ParseLiterals("-0.5, 1.0000000000000001e-05, False, None, ", &l));
  ASSERT_EQ(l.size(), 4u);
  EXPECT_EQ(l[0].kind, Literal::kFloat);
  EXPECT_DOUBLE_EQ(l[1].number, 1e-05);
  EXPECT_EQ(l[3].kind, Literal::kNone);
  ASSERT_TRUE(ParseLiterals(", 1, 2", &l));
  EXPECT_EQ(l.size(), 2u);
  ASSERT_TRUE(ParseLiterals("", &l));
  EXPECT_TRUE(l.empty());
  ASSERT_TRUE(ParseLiterals("approximate=\"tanh\"", &l));
  EXPECT_EQ(l[0].keyword, "approximate");
  for (const char* bad : {"x", "1, , 2", "torch.relu(x)", "[1, a]", "\"a b\"", "1 + 2", "[[1]]"})
    EXPECT_FALSE(ParseLiterals(bad, &l)) << bad;
}

TEST(TorchScriptSource, RenamesTemporariesInOrder) {
  EXPECT_THAT(Canonicalize({"_7 = torch.conv2d(input0, w, [1, 1])", "return _7"}),
              ElementsAre("$0 = torch.conv2d($1, w, [1, 1])", "return $0"));
  EXPECT_THAT(Canonicalize({"x = \"_1\""}), ElementsAre("x = \"_1\""));
}

TEST(TorchScriptSource, MatchesPrintedVariantsAndCaptures) {
  const std::vector<std::string> pattern = {"_0 = __torch__.torch.nn.functional.hardtanh",
                                            "return _0(input, {a}, {a}, {a}, )"};
  std::vector<std::string> caps;
  EXPECT_TRUE(MatchBody(
      {"_1 = __torch__.torch.nn.functional.hardtanh", "return _1(input, -1., 1., False, )"},
      pattern, &caps));
  EXPECT_THAT(caps, ElementsAre("-1.", "1.", "False"));
  caps.clear();
  // The printer keeps a temporary for a long line.
  EXPECT_TRUE(MatchBody({"_0 = __torch__.torch.nn.functional.hardtanh",
                         "_1 = _0(input, -0.5, 0.69999999999999996, False, )", "return _1"},
                        pattern, &caps));
  EXPECT_THAT(caps, ElementsAre("-0.5", "0.69999999999999996", "False"));
  caps.clear();
  EXPECT_FALSE(MatchBody({"_0 = __torch__.torch.nn.functional.hardtanh",
                          "return _0(input, torch.neg(input), 1., False, )"},
                         pattern, &caps));
  EXPECT_FALSE(MatchBody({"_0 = __torch__.torch.nn.functional.hardtanh",
                          "ops.prim.RaiseException(\"x\")", "return _0(input, 1., 1., False, )"},
                         pattern, &caps));
}

TEST(TorchScriptSource, CapturesListsBetweenPlaceholders) {
  std::vector<std::string> caps;
  EXPECT_TRUE(MatchBody({"_0 = torch.conv_transpose2d(input, weight, bias, [2, 2], [1, 1], p, 1)"},
                        {"_0 = torch.conv_transpose2d(input, weight, bias, {a}, {a}, p, {a})"},
                        &caps));
  EXPECT_THAT(caps, ElementsAre("[2, 2]", "[1, 1]", "1"));
}

}  // namespace
}  // namespace tiffin::torch_import
