// libFuzzer target: arbitrary text as the body of a TorchScript method,
// through the source matcher tiffin uses to recognise standard modules
// (literal lists, temporary renaming and inlining, placeholder matching).
// Nothing may crash, hang or over-allocate.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "importers/torch/torchscript_source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size() && lines.size() < 4096) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    lines.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  using namespace tiffin::torch_import;
  std::vector<Literal> lits;
  for (const auto& l : lines) (void)ParseLiterals(l, &lits);
  (void)Canonicalize(InlineTemporaries(lines));
  (void)FunctionalCalls(lines);
  static const std::vector<std::vector<std::string>> kPatterns = {
      {"_0 = __torch__.torch.nn.functional.hardtanh", "return _0(input, {a}, {a}, {a}, )"},
      {"weight = self.weight", "bias = self.bias",
       "_0 = (self)._conv_forward(input, weight, bias, )", "return _0"},
      {"_1 = torch.conv2d(input, weight, bias, {args})", "return _1"},
      {"return torch.flatten(input{args})"},
  };
  for (const auto& p : kPatterns) {
    std::vector<std::string> captures;
    (void)MatchBody(lines, p, &captures);
  }
  return 0;
}
