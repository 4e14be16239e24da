// ai.onnx.ml kernels (TreeEnsemble*, LinearClassifier/Regressor, SVM*,
// Scaler, Normalizer, OneHotEncoder, LabelEncoder, ZipMap, ...). The domain
// is already accepted by the loader and the registry; its kernels arrive
// with the scikit-learn importer (issue 3), which emits them. Until then an
// ai.onnx.ml node is refused at load with the usual unsupported-op message.
#include "kernels/registry.h"

namespace tiffin::kernels {

std::span<const KernelDef> MlKernels() { return {}; }

}  // namespace tiffin::kernels
