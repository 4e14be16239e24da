// `tiffin diff` for PyTorch state_dicts: the failure of load_state_dict,
// explained before it happens.
//
// A is the state_dict (or checkpoint) being loaded, B the model it is loaded
// into: another torch.save file, or any model tiffin reads (its initializers,
// which torch.onnx.export names after the parameters, e.g. `fc1.weight`).
// Keys are matched by name after the prefix, stripped from one side only,
// that best aligns them (a checkpoint's "model." or "state_dict.",
// DataParallel's "module.").
// Reported as torch does: missing keys (in B, not in A), unexpected keys (in
// A, not in B), size mismatches ([10,5] in A, [10,4] in B), then dtypes and
// the largest absolute difference of tensors of equal shape.
#ifndef TIFFIN_DIFF_STATE_DICT_DIFF_H_
#define TIFFIN_DIFF_STATE_DICT_DIFF_H_

#include <string>
#include <utility>
#include <vector>

#include "diff/diff.h"
#include "tiffin/options.h"
#include "tiffin/tensor.h"

namespace tiffin::diff {

// True when `path` is a torch.save file (zip or legacy), TorchScript included.
bool IsTorchFile(const std::string& path);

// Named tensors: a torch file's, or a model's initializers.
struct NamedParams {
  std::string path;
  std::string kind;  // "PyTorch torch.save zip", "ONNX initializers", ...
  std::vector<std::pair<std::string, Tensor>> tensors;
};
Result<NamedParams> ReadNamedParams(const std::string& path, const LoadOptions& options = {});

struct SizeMismatch {
  std::string name;
  Shape a, b;
};

struct StateDictDiff {
  std::string prefix_a, prefix_b;       // stripped before matching ("" when none)
  std::vector<std::string> missing;     // in B, not in A
  std::vector<std::string> unexpected;  // in A, not in B
  std::vector<SizeMismatch> size_mismatch;
  DiffResult result;  // every finding as lines (sections "keys", "shapes", "values")
};

StateDictDiff CompareStateDicts(const NamedParams& a, const NamedParams& b);

std::string StateDictDiffJson(const StateDictDiff& d, const NamedParams& a, const NamedParams& b);

}  // namespace tiffin::diff

#endif  // TIFFIN_DIFF_STATE_DICT_DIFF_H_
