#include "tiffin/dtype.h"

#include <string>

namespace tiffin {

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ffu) << 13;
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

uint16_t FloatToHalf(float value) {
  uint32_t x;
  std::memcpy(&x, &value, sizeof x);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // inf or nan; keep nan quiet
    return sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u);
  }
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // rounds to inf
  if (abs < 0x38800000u) {                        // subnormal half or zero
    // Add 0.5 in the half's subnormal scale and let float rounding do RNE.
    float f;
    std::memcpy(&f, &abs, sizeof f);
    f += 0.5f;
    uint32_t r;
    std::memcpy(&r, &f, sizeof r);
    return sign | static_cast<uint16_t>(r - 0x3f000000u);
  }
  const uint32_t mant_odd = (abs >> 13) & 1u;
  uint32_t v = abs + 0xc8000fffu + mant_odd;  // rebias exponent and round to nearest even
  return sign | static_cast<uint16_t>(v >> 13);
}

Float16::Float16(float f) : bits(FloatToHalf(f)) {}
Float16::operator float() const { return HalfToFloat(bits); }

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kUndefined:
      return 0;
    case DType::kBool:
    case DType::kInt8:
    case DType::kUInt8:
      return 1;
    case DType::kInt16:
    case DType::kUInt16:
    case DType::kFloat16:
      return 2;
    case DType::kInt32:
    case DType::kUInt32:
    case DType::kFloat32:
      return 4;
    case DType::kInt64:
    case DType::kUInt64:
    case DType::kFloat64:
      return 8;
    case DType::kString:
      return sizeof(std::string);
  }
  return 0;
}

namespace {
struct DTypeNames {
  DType dtype;
  std::string_view numpy;
  std::string_view kserve;
};
constexpr DTypeNames kNames[] = {
    {DType::kFloat32, "float32", "FP32"}, {DType::kFloat64, "float64", "FP64"},
    {DType::kFloat16, "float16", "FP16"}, {DType::kInt8, "int8", "INT8"},
    {DType::kInt16, "int16", "INT16"},    {DType::kInt32, "int32", "INT32"},
    {DType::kInt64, "int64", "INT64"},    {DType::kUInt8, "uint8", "UINT8"},
    {DType::kUInt16, "uint16", "UINT16"}, {DType::kUInt32, "uint32", "UINT32"},
    {DType::kUInt64, "uint64", "UINT64"}, {DType::kBool, "bool", "BOOL"},
    {DType::kString, "string", "BYTES"},
};
}  // namespace

std::string_view DTypeName(DType dtype) {
  for (const auto& n : kNames)
    if (n.dtype == dtype) return n.numpy;
  return "undefined";
}

std::string_view DTypeKServeName(DType dtype) {
  for (const auto& n : kNames)
    if (n.dtype == dtype) return n.kserve;
  return "UNDEFINED";
}

std::optional<DType> ParseDType(std::string_view name) {
  for (const auto& n : kNames)
    if (n.numpy == name || n.kserve == name) return n.dtype;
  if (name == "float") return DType::kFloat32;
  if (name == "double") return DType::kFloat64;
  return std::nullopt;
}

bool IsKnownDType(int32_t t) { return t >= 1 && t <= 13; }

bool IsFloatingPoint(DType d) {
  return d == DType::kFloat16 || d == DType::kFloat32 || d == DType::kFloat64;
}

bool IsInteger(DType d) {
  switch (d) {
    case DType::kInt8:
    case DType::kInt16:
    case DType::kInt32:
    case DType::kInt64:
    case DType::kUInt8:
    case DType::kUInt16:
    case DType::kUInt32:
    case DType::kUInt64:
      return true;
    default:
      return false;
  }
}

}  // namespace tiffin
