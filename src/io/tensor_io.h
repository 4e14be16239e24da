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

namespace simdjson::dom {
class element;
}  // namespace simdjson::dom

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

// One entry of a KServe v2 "inputs" list, already parsed (the server parses
// the request once and reads its other fields itself): {"name", "shape"?,
// "datatype"?, "data"}. `index` names the entry in errors; dtypes and limits
// as for ParseJsonInputs.
Result<NamedTensor> ParseV2Input(const simdjson::dom::element& in, size_t index,
                                 const std::vector<TensorInfo>& expected,
                                 const ParseLimits& limits = {});

// One named value of the shorthand form, already parsed: a number or a
// nested list, as `{"<name>": value}` would give it.
Result<NamedTensor> ParseNamedInput(const std::string& name, const simdjson::dom::element& value,
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

// Parses a table as users keep it and binds it to the model's inputs. Forms
// (a leading UTF-8 byte order mark is skipped):
//   CSV with a header row (RFC 4180: "quoted, fields", "" for a quote, quoted
//     newlines, \n or \r\n line ends; blank lines are skipped);
//   JSON records  [{"col": v, ...}, ...]  (the first record names the columns;
//     every record must hold each of them, null being the missing value);
//   JSON columns  {"col": [v, ...], ...}  (lists of equal length);
//   JSON split    {"columns": [...], "data": [[...], ...], "index": [...]}
//     (pandas orient="split"; "index" is ignored);
//   and MLflow's {"dataframe_split": {...}} and {"dataframe_records": [...]}.
//
// Two model layouts are understood, as scikit-learn models are converted:
//   (a) one input [N, F] (float, integer, bool or string): every column goes
//       into it; the column names the model expects are `feature_names`
//       (empty when unknown).
//   (b) several inputs, each [N, 1], one per column: the column names are the
//       input names, unless those are x0, x1, ... (names unknown);
//       `feature_names` is not used.
// Columns given under exactly the expected names bind by name, in any order.
// Other names are an error listing the missing and unexpected columns when
// the names are known; when they are not, columns bind by position and their
// count must match. A CSV whose first row is all numbers is read as data
// without a header when the names are unknown.
//
// Values: numbers, text, and missing values (an empty CSV field, NaN in any
// case, NA, null; JSON null). In numeric inputs a missing value is NaN (an
// error for integer inputs) and text must parse as a number ("true"/"false"
// read as 1/0), else the error names the column, the row (1-based, counting
// data rows) and the value. In string inputs a missing value is "" (how the
// converted model spells a missing category), a JSON number becomes its
// shortest text (3 -> "3", 2.5 -> "2.5"), a JSON bool "True"/"False", and a CSV
// field is kept exactly as written; a quoted CSV field is never a missing
// marker ("NA" in quotes stays "NA").
//
// Returns one tensor per model input, in the order of `inputs`: [N, F] for
// layout (a), [N, 1] for each input of layout (b), of the input's dtype
// (float32 when undefined). Rows, columns and bytes are checked against
// `limits` before anything is allocated (kResourceExhausted). Errors:
// kInvalidArgument for malformed text, mismatched columns or bad values;
// kInvalidArgument when the model's inputs fit neither layout.
Result<std::vector<NamedTensor>> ParseTabular(std::string_view text,
                                              const std::vector<TensorInfo>& inputs,
                                              const std::vector<std::string>& feature_names,
                                              const ParseLimits& limits = {});

// True when `text` looks like one of ParseTabular's forms rather than a
// KServe v2 or {"<input>": nested list} body (or .npy): any text that does not
// start with '{' or '[' (CSV); a JSON array of objects; an object with
// "dataframe_split", "dataframe_records", or "columns" and "data"; an object
// of flat lists (the columns form) when `inputs` fit one of ParseTabular's
// layouts, except {"<input>": [...]} naming a model's only input when that
// input is not known to be one column wide (the shorthand with a flat list).
// Cheap for CSV and records; parses an object body once.
bool LooksTabular(std::string_view text, const std::vector<TensorInfo>& inputs);

}  // namespace tiffin::io

#endif  // TIFFIN_IO_TENSOR_IO_H_
