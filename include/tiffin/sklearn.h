// scikit-learn pickles and joblib files: what a file holds, before (or
// instead of) loading it. LoadModel() loads these files like any other
// format; this header adds the inspection `tiffin inspect` shows.
#ifndef TIFFIN_SKLEARN_H_
#define TIFFIN_SKLEARN_H_

#include <string>
#include <vector>

#include "tiffin/status.h"

namespace tiffin {

struct SklearnObject {
  std::string path;             // where it sits in the pickled value: "", "[0]", "['model']"
  std::string name;             // what --steps accepts: "model", "scaler", a dict key, ...
  std::string class_name;       // "sklearn.preprocessing._data.MinMaxScaler"
  std::string role;             // "classifier", "regressor", "transformer", "outlier detector",
                                // "label encoder", "clusterer" or "other"
  std::string sklearn_version;  // "1.2.1", or "before 0.18" when the pickle has none
  bool supported = false;       // tiffin converts this class
  // The estimator tree, one line per step, with key parameters.
  std::vector<std::string> tree;
};

struct SklearnFileInfo {
  std::string container;    // "pickle" or "joblib"
  std::string compression;  // "none", "zlib", "gzip", "bz2", "xz", "lzma", "lz4", "zstd"
  int pickle_protocol = 0;
  bool numpy2 = false;  // arrays written by numpy 2 (numpy._core module paths)
  std::vector<SklearnObject> objects;
  // What tiffin adapted or approximated to read the file.
  std::vector<std::string> notes;
};

// Reads a scikit-learn pickle or joblib file (never executing it) and lists
// the objects it holds.
Result<SklearnFileInfo> InspectSklearnFile(const std::string& path);

// The scikit-learn classes tiffin converts (short names).
std::vector<std::string> SklearnSupportedClasses();

}  // namespace tiffin

#endif  // TIFFIN_SKLEARN_H_
