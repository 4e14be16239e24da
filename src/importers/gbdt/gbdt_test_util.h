// Reading the text tables the gradient-boosting tests compare against and
// running a model on them; shared by gbdt_import_test and gbdt_leaves_test.
// Tolerance everywhere: |got - want| <= 1e-5 * |want| + 1e-6.
#ifndef TIFFIN_IMPORTERS_GBDT_GBDT_TEST_UTIL_H_
#define TIFFIN_IMPORTERS_GBDT_GBDT_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tiffin/model.h"

namespace tiffin::gbdt_test {

using Matrix = std::vector<std::vector<double>>;

// Whitespace-separated numbers ("nan" is NaN), one row per line.
inline Matrix ReadMatrix(const std::filesystem::path& p) {
  Matrix m;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::vector<double> row;
    std::string tok;
    while (ss >> tok)
      row.push_back(tok == "nan" ? std::nan("") : std::strtod(tok.c_str(), nullptr));
    if (!row.empty()) m.push_back(row);
  }
  return m;
}

// libsvm rows "label i:v ..."; feature i lands in column i + shift; absent
// entries are `absent`.
inline Matrix ReadLibsvm(const std::filesystem::path& p, int64_t width, int64_t shift,
                         double absent) {
  Matrix m;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string tok;
    if (!(ss >> tok)) continue;  // the label
    std::vector<double> row(static_cast<size_t>(width), absent);
    while (ss >> tok) {
      const size_t c = tok.find(':');
      const long col = std::strtol(tok.substr(0, c).c_str(), nullptr, 10) + shift;
      if (col >= 0 && col < width)
        row[static_cast<size_t>(col)] = std::strtod(tok.c_str() + c + 1, nullptr);
    }
    m.push_back(row);
  }
  return m;
}

inline Tensor ToTensor(const Matrix& x) {
  std::vector<double> flat;
  for (const auto& r : x) flat.insert(flat.end(), r.begin(), r.end());
  return Tensor::FromVector(
      flat, {static_cast<int64_t>(x.size()), static_cast<int64_t>(x.empty() ? 0 : x[0].size())});
}

// Every output of `model` on `x` (input "X"), as doubles, by output name.
inline std::map<std::string, std::vector<double>> RunModel(const Model& model, const Matrix& x) {
  auto out = model.Run({{"X", ToTensor(x)}});
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  std::map<std::string, std::vector<double>> r;
  if (!out.ok()) return r;
  for (size_t i = 0; i < model.outputs().size(); ++i) {
    const Tensor& t = (*out)[i];
    std::vector<double> v(static_cast<size_t>(t.size()));
    for (int64_t j = 0; j < t.size(); ++j)
      v[static_cast<size_t>(j)] = t.dtype() == DType::kInt64
                                      ? static_cast<double>(t.data<int64_t>()[j])
                                      : t.data<double>()[j];
    r[model.outputs()[i].name] = v;
  }
  return r;
}

// Values outside the tolerance; *worst gets the largest absolute difference
// and *first describes the first bad value.
inline int Mismatches(const std::vector<double>& got, const std::vector<double>& want,
                      double* worst, std::string* first) {
  if (got.size() != want.size()) {
    *first = "got " + std::to_string(got.size()) + " values, want " + std::to_string(want.size());
    return static_cast<int>(std::max<size_t>({got.size(), want.size(), 1}));
  }
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(got[i] - want[i]);
    *worst = std::max(*worst, err);
    if (!(err <= 1e-5 * std::fabs(want[i]) + 1e-6) && bad++ == 0)
      *first = "value " + std::to_string(i) + ": got " + std::to_string(got[i]) + ", want " +
               std::to_string(want[i]);
  }
  return bad;
}

}  // namespace tiffin::gbdt_test

#endif  // TIFFIN_IMPORTERS_GBDT_GBDT_TEST_UTIL_H_
