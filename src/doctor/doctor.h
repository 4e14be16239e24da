// tiffin doctor: why a model will not load, or why its predictions are
// suspect, as an ordered checklist. Each check names a cause and a fix.
//
// Checks, in order: the file and its format (by content, not extension);
// integrity; provenance (which library and version wrote it, what tiffin
// adapted to read it); operator support; reference cases. With input data:
// columns, dtypes, missing values, and values far outside what the model
// was trained on, including the two scaling stories (raw input fed to an
// estimator saved without its scaler, and scaled input fed to a pipeline
// that scales).
#ifndef TIFFIN_DOCTOR_DOCTOR_H_
#define TIFFIN_DOCTOR_DOCTOR_H_

#include <string>
#include <vector>

#include "tiffin/status.h"

namespace tiffin::doctor {

enum class Level { kPass, kInfo, kWarn, kFail };
std::string_view LevelName(Level level);  // "PASS", "INFO", "WARN", "FAIL"

struct Check {
  std::string id;  // stable name: "format", "integrity", "provenance", ...
  Level level = Level::kPass;
  std::string message;  // what was found
  std::string fix;      // what to do (empty for PASS/INFO)
};

struct Report {
  std::vector<Check> checks;
  bool ok() const;  // no FAIL
};

struct Options {
  std::string data_path;           // optional: CSV/JSON/.npy input to check
  std::vector<std::string> steps;  // as --steps elsewhere
};

// Never fails: every problem becomes a FAIL line.
Report Diagnose(const std::string& path, const Options& options);

std::string ToText(const Report& r);
std::string ToJson(const Report& r, const std::string& path);

}  // namespace tiffin::doctor

#endif  // TIFFIN_DOCTOR_DOCTOR_H_
