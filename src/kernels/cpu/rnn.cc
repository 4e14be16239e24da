// TODO(owner): kernels of this family are being written.
#include "kernels/registry.h"

namespace tiffin::kernels {

std::span<const KernelDef> RnnKernels() { return {}; }

}  // namespace tiffin::kernels
