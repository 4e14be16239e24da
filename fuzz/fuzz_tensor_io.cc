// libFuzzer target: arbitrary bytes as a request body: the JSON forms (v2 and
// shorthand), .npy, CSV and the tabular forms (CSV with a header, JSON
// records, columns and split) that the CLI (and later the server) feed with
// strangers' data.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "io/tensor_io.h"

namespace {

tiffin::TensorInfo Column(const char* name, tiffin::DType dtype) {
  return {name, dtype, true, {tiffin::Dim{-1, "N"}, tiffin::Dim{1, ""}}};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  tiffin::io::ParseLimits limits;
  limits.max_tensor_bytes = size_t{64} << 20;
  limits.max_elements = size_t{1} << 22;
  tiffin::TensorInfo x;
  x.name = "x";
  x.dtype = size % 2 ? tiffin::DType::kFloat32 : tiffin::DType::kInt64;
  auto parsed = tiffin::io::ParseJsonInputs(bytes, {x}, limits);
  if (parsed.ok()) {
    std::vector<tiffin::NamedTensor> outs = *parsed;
    (void)tiffin::io::WriteJsonOutputs(outs);
  }
  auto npy = tiffin::io::ParseNpy(bytes, limits);
  if (npy.ok()) (void)tiffin::io::WriteNpy(*npy);
  std::vector<std::string> header;
  (void)tiffin::io::ParseCsv(bytes, tiffin::DType::kFloat32, &header, limits);

  // A mixed table (one [N, 1] input per column, as a ColumnTransformer
  // model has), and one [N, F] matrix with feature names.
  const std::vector<tiffin::TensorInfo> mixed = {Column("age", tiffin::DType::kFloat64),
                                                 Column("city", tiffin::DType::kString),
                                                 Column("n", tiffin::DType::kInt64)};
  (void)tiffin::io::LooksTabular(bytes, mixed);
  auto table = tiffin::io::ParseTabular(bytes, mixed, {}, limits);
  if (table.ok()) (void)tiffin::io::WriteJsonOutputs(*table);
  tiffin::TensorInfo matrix{
      "X", tiffin::DType::kFloat64, true, {tiffin::Dim{-1, "N"}, tiffin::Dim{2, ""}}};
  (void)tiffin::io::ParseTabular(bytes, {matrix}, {"a", "b"}, limits);
  return 0;
}
