// Reading and writing tensors in the forms users hand to tiffin: KServe v2
// JSON requests and responses, the {"name": nested list} shorthand, .npy
// files and CSV. Shared by the CLI and the server.
#ifndef TIFFIN_IO_TENSOR_IO_H_
#define TIFFIN_IO_TENSOR_IO_H_

#include <string>
#include <string_view>
#include <vector>

#include "tiffin/model.h"
#include "tiffin/tensor.h"

namespace tiffin::io {

// Limits applied to anything parsed here.
struct ParseLimits {
  size_t max_tensor_bytes = size_t{1} << 30;  // per tensor
  size_t max_elements = size_t{1} << 28;      // per tensor
};

// Parses a JSON body: either the KServe v2 form
//   {"inputs":[{"name":..,"shape":[..],"datatype":"FP32","data":[..]}]}
// (data flat or nested), or the shorthand {"<input name>": nested list}.
// `expected` (the model's inputs) gives dtypes for the shorthand and for
// converting numbers; an input name not in `expected` is still returned so
// that the model reports it. Errors name the input and what is wrong.
Result<std::vector<NamedTensor>> ParseJsonInputs(std::string_view json,
                                                 const std::vector<TensorInfo>& expected,
                                                 const ParseLimits& limits = {});

// Writes {"outputs":[{"name","datatype","shape","data"}]} (KServe v2 response
// form). Floats are printed in shortest round-trip form. NaN and infinities
// have no JSON number form; they are written as null so that strict parsers
// (Go, Java, JavaScript) accept the document.
std::string WriteJsonOutputs(const std::vector<NamedTensor>& outputs,
                             const std::string& model_name = "");

// Appends one tensor's flat data as a JSON array to `out`.
void AppendJsonData(const Tensor& t, std::string* out);

// Parses a .npy file (format 1.0-3.0; little or big endian; C or Fortran
// order; numeric and bool dtypes; unicode 'U' strings).
Result<Tensor> ParseNpy(std::string_view bytes, const ParseLimits& limits = {});
// Serializes a tensor as .npy 1.0 (strings as fixed-width unicode).
std::string WriteNpy(const Tensor& t);

// Parses CSV of numbers into a [rows, cols] tensor of `dtype` (float32 or
// float64, or any integer dtype). A first row that is not numeric is taken as
// a header and its names are returned in *header. Empty cells and "nan" give
// NaN for floats.
Result<Tensor> ParseCsv(std::string_view text, DType dtype, std::vector<std::string>* header,
                        const ParseLimits& limits = {});

// True when `bytes` starts with the .npy magic.
bool LooksLikeNpy(std::string_view bytes);

}  // namespace tiffin::io

#endif  // TIFFIN_IO_TENSOR_IO_H_
