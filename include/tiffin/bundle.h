// `.tiffin` bundles: one self-verifying file holding a model's graph,
// weights, schema, provenance, training statistics and reference cases
// (docs/bundle-format.md). LoadModel (tiffin/model.h) loads them like any
// other model file, verifying them as it does.
//
// Example:
//   tiffin::PackOptions p;
//   p.steps = {"scaler", "model"};
//   p.reference_path = "X.csv";
//   tiffin::Status s = tiffin::PackBundle("model.pkl", "model.tiffin", p);
//   auto model = tiffin::LoadModel("model.tiffin");  // checks hashes, replays cases
#ifndef TIFFIN_BUNDLE_H_
#define TIFFIN_BUNDLE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tiffin/status.h"

namespace tiffin {

// The bundle format version this tiffin writes and the newest it reads.
inline constexpr int kBundleFormatVersion = 1;

struct PackOptions {
  // model.name in the manifest. Default: the source file's stem.
  std::string name;
  // model.version in the manifest, free form. Default: "1".
  std::string model_version = "1";
  // Reference data (CSV or JSON table, or .npy for a one-input model): its
  // first `reference_rows` rows and the predictions made for them become the
  // bundle's reference case, and its numeric columns give training
  // statistics (source "reference data"). Empty (the default): no reference
  // cases, and the manifest says so.
  std::string reference_path;
  int64_t reference_rows = 16;
  // Replay tolerance for floating-point outputs: |got - expected| <= atol +
  // rtol * max(|expected|, largest |expected| in its row) (the rule in
  // docs/bundle-format.md). Other dtypes compare exactly.
  double rtol = 1e-4;
  double atol = 1e-5;
  // Objects of a multi-object pickle to compose, as LoadOptions::steps.
  std::vector<std::string> steps;
  // Keras weights-only `.h5` sources: the architecture JSON (LoadOptions).
  std::string config_path;
  // Called with a line of progress ("hashing source", "writing ...") during
  // long steps. Default: none.
  std::function<void(std::string_view)> progress;
};

// Packs the model at `source` (any format LoadModel reads, except a bundle)
// into a bundle at `out_path` (written to "<out_path>.tmp", then renamed).
// Errors: those of loading the source or reading the reference data, with
// the file named; kResourceExhausted past 4 GiB (zip64 is not written).
Status PackBundle(const std::string& source, const std::string& out_path,
                  const PackOptions& options = {});

// Returns the manifest.json text of the bundle at `path` after checking the
// zip structure (nothing else is verified: use LoadModel for that).
Result<std::string> ReadBundleManifest(const std::string& path);

}  // namespace tiffin

#endif  // TIFFIN_BUNDLE_H_
