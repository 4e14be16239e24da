// Predict-time checks: what a serving path does before and after Run.
//
// ConformInputs converts each input to the dtype the model declares when
// the conversion loses nothing (int64 -> float64 up to 2^53, float32 ->
// float64, float64 -> float32 when every value round-trips, bool -> numbers)
// and refuses it otherwise, naming the input, the value and the fix.
// RangeWarnings counts values far outside the training range the model keeps
// (ModelInfo::training_stats): more than half the range beyond either end.
// Warnings are returned, never dropped: the CLI prints them in a `warnings`
// field beside the outputs, and the server will do the same.
#ifndef TIFFIN_CHECKS_H_
#define TIFFIN_CHECKS_H_

#include <string>
#include <vector>

#include "tiffin/model.h"

namespace tiffin {

Result<std::vector<NamedTensor>> ConformInputs(const Model& model, std::vector<NamedTensor> inputs);

std::vector<std::string> RangeWarnings(const Model& model, const std::vector<NamedTensor>& inputs);

}  // namespace tiffin

#endif  // TIFFIN_CHECKS_H_
