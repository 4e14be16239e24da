// Element types of tiffin tensors. Values equal ONNX's TensorProto.DataType
// so that conversion to and from ONNX is a cast.
#ifndef TIFFIN_DTYPE_H_
#define TIFFIN_DTYPE_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace tiffin {

enum class DType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
  kUInt32 = 12,
  kUInt64 = 13,
};

// IEEE 754 binary16, stored as its bits. Arithmetic converts to float.
struct Float16 {
  uint16_t bits = 0;
  Float16() = default;
  explicit Float16(float f);
  explicit operator float() const;
};

float HalfToFloat(uint16_t bits);
uint16_t FloatToHalf(float value);  // round to nearest even, like numpy

// Bytes per element; 0 for kUndefined; sizeof(std::string) for kString.
size_t DTypeSize(DType dtype);

// numpy-style name: "float32", "int64", "bool", "string", ...
std::string_view DTypeName(DType dtype);

// Open Inference Protocol name: "FP32", "INT64", "BOOL", "BYTES", ...
std::string_view DTypeKServeName(DType dtype);

// Parses a numpy-style or KServe name ("float32", "FP32", "int64", ...).
std::optional<DType> ParseDType(std::string_view name);

// True for the dtypes tiffin can hold (every enumerator but kUndefined).
bool IsKnownDType(int32_t onnx_type);

bool IsFloatingPoint(DType dtype);  // float16, float32, float64
bool IsInteger(DType dtype);        // signed and unsigned integers, not bool

// Maps a C++ element type to its DType.
template <typename T>
constexpr DType DTypeOf();
template <>
constexpr DType DTypeOf<float>() {
  return DType::kFloat32;
}
template <>
constexpr DType DTypeOf<double>() {
  return DType::kFloat64;
}
template <>
constexpr DType DTypeOf<Float16>() {
  return DType::kFloat16;
}
template <>
constexpr DType DTypeOf<int8_t>() {
  return DType::kInt8;
}
template <>
constexpr DType DTypeOf<int16_t>() {
  return DType::kInt16;
}
template <>
constexpr DType DTypeOf<int32_t>() {
  return DType::kInt32;
}
template <>
constexpr DType DTypeOf<int64_t>() {
  return DType::kInt64;
}
template <>
constexpr DType DTypeOf<uint8_t>() {
  return DType::kUInt8;
}
template <>
constexpr DType DTypeOf<uint16_t>() {
  return DType::kUInt16;
}
template <>
constexpr DType DTypeOf<uint32_t>() {
  return DType::kUInt32;
}
template <>
constexpr DType DTypeOf<uint64_t>() {
  return DType::kUInt64;
}
template <>
constexpr DType DTypeOf<bool>() {
  return DType::kBool;
}

}  // namespace tiffin

#endif  // TIFFIN_DTYPE_H_
