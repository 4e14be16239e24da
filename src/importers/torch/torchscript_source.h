// Recognising the TorchScript source of standard torch.nn modules, without
// interpreting it. A TorchScript archive's code/ holds what torch's printer
// wrote for each class; tiffin compares a method body line by line with what
// torch 1.13 prints for the standard module, after renaming temporaries and
// renumbered locals (`_3`, `input0`: numbered per file) in order of first
// use, and reads the literals the printer inlined (a Conv2d's stride and
// padding, a LeakyReLU's slope) at placeholders:
//   {a}     exactly one literal
//   {args}  a comma-separated list of literals, possibly empty
// A literal is an int, a float, True/False, None, a "string", a list of ints
// or `name=literal`. Anything else does not match.
#ifndef TIFFIN_IMPORTERS_TORCH_TORCHSCRIPT_SOURCE_H_
#define TIFFIN_IMPORTERS_TORCH_TORCHSCRIPT_SOURCE_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "io/zip_reader.h"
#include "tiffin/status.h"

namespace tiffin::torch_import {

struct Literal {
  enum Kind { kInt, kFloat, kBool, kNone, kString, kIntList };
  Kind kind = kNone;
  double number = 0;          // kInt, kFloat, kBool (0/1)
  std::string text;           // kString
  std::string keyword;        // "approximate" for approximate="tanh"; else empty
  std::vector<int64_t> ints;  // kIntList

  bool IsNumber() const { return kind == kInt || kind == kFloat; }
};

// Parses "1, [2, 2], True, None, approximate=\"tanh\", " (leading and
// trailing ", " allowed). False on anything that is not a literal list.
bool ParseLiterals(std::string_view text, std::vector<Literal>* out);

// `lines` with temporaries and renumbered locals renamed $0, $1, ... in
// order of first appearance (string literals and attribute names after '.'
// untouched).
std::vector<std::string> Canonicalize(const std::vector<std::string>& lines);

// `lines` with each printer temporary (`_3 = f(x)`) that is used once, at
// the top level, written in place of its use: torch's printer inlines or
// not depending on the line's length.
std::vector<std::string> InlineTemporaries(std::vector<std::string> lines);

// Matches `body` against `pattern` (both inlined and canonicalized here); the text at
// each placeholder goes to `captures`, in order.
bool MatchBody(const std::vector<std::string>& body, const std::vector<std::string>& pattern,
               std::vector<std::string>* captures);

// The code/ sources of an archive: class methods and module-level
// functions, with their signatures (lines joined after trimming) and their
// bodies (lines with indentation relative to the body, blank lines dropped).
class SourceReader {
 public:
  SourceReader(const io::ZipReader* zip, std::string record)
      : zip_(zip), record_(std::move(record)) {}

  // Method `method` of class `cls` ("__torch__.a.b.Cls").
  Result<std::vector<std::string>> Method(const std::string& cls, const std::string& method,
                                          std::string* signature);
  // Module-level function `fn` of `module_path` ("__torch__.torch.nn.functional").
  Result<std::vector<std::string>> Function(const std::string& module_path, const std::string& fn,
                                            std::string* signature);

 private:
  Result<std::string> File(const std::string& module_path);

  const io::ZipReader* zip_;
  std::string record_;
  std::map<std::string, std::string> files_;
};

// Checks that the torch.nn.functional helper `fn` in the archive, and every
// helper it calls, is what torch 1.13 prints (torchscript_functional.inc).
// Results are cached in `checked`. Error: kNotSupported naming the function.
Status CheckFunctional(SourceReader* src, const std::string& fn,
                       std::map<std::string, bool>* checked);

// The torch.nn.functional helpers `body` calls
// (`__torch__.torch.nn.functional.<name>`).
std::vector<std::string> FunctionalCalls(const std::vector<std::string>& body);

}  // namespace tiffin::torch_import

#endif  // TIFFIN_IMPORTERS_TORCH_TORCHSCRIPT_SOURCE_H_
