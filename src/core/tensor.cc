#include "tiffin/tensor.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace tiffin {

Result<int64_t> CheckedElementCount(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return InvalidArgument("shape " + ShapeToString(shape) + ": negative dim");
    if (d != 0 && n > INT64_MAX / d) {
      return ResourceExhausted("shape " + ShapeToString(shape) + ": element count overflows int64");
    }
    n *= d;
  }
  return n;
}

std::string ShapeToString(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

namespace {

int64_t ElementCountUnchecked(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// 64-byte aligned, zeroed storage; strings are constructed in place.
std::shared_ptr<void> AllocateBuffer(DType dtype, int64_t n) {
  if (dtype == DType::kString) {
    auto* p = new std::string[static_cast<size_t>(n > 0 ? n : 1)];
    return std::shared_ptr<void>(p, [](void* q) { delete[] static_cast<std::string*>(q); });
  }
  size_t bytes = static_cast<size_t>(n) * DTypeSize(dtype);
  size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
  // One allocation for the buffer and its reference count (a separate
  // aligned_alloc and control block cost two mallocs and two frees per
  // tensor, a visible share of a one-row model's run); the handle aliases
  // the 64-byte aligned start inside the block.
  std::shared_ptr<std::byte[]> block = std::make_shared_for_overwrite<std::byte[]>(rounded + 63);
  void* start = block.get();
  size_t space = rounded + 63;
  void* p = std::align(64, rounded, start, space);
  std::memset(p, 0, rounded);
  return std::shared_ptr<void>(std::move(block), p);
}

}  // namespace

Tensor::Tensor(DType dtype, Shape shape)
    : dtype_(dtype), shape_(std::move(shape)), size_(ElementCountUnchecked(shape_)) {
  owner_ = AllocateBuffer(dtype_, size_);
  data_ = owner_.get();
}

Result<Tensor> Tensor::Allocate(DType dtype, Shape shape, size_t max_bytes) {
  TIFFIN_ASSIGN_OR_RETURN(int64_t n, CheckedElementCount(shape));
  size_t elem = DTypeSize(dtype);
  if (elem == 0) return InvalidArgument("cannot allocate a tensor of undefined dtype");
  if (static_cast<uint64_t>(n) > max_bytes / elem) {
    return ResourceExhausted("tensor of shape " + ShapeToString(shape) + " and dtype " +
                             std::string(DTypeName(dtype)) + " needs " +
                             std::to_string(static_cast<double>(n) * static_cast<double>(elem)) +
                             " bytes, over the limit of " + std::to_string(max_bytes) +
                             " (raise max_tensor_bytes if this size is intended)");
  }
  try {
    return Tensor(dtype, std::move(shape));
  } catch (const std::bad_alloc&) {
    return ResourceExhausted("out of memory allocating a tensor of " +
                             std::to_string(static_cast<uint64_t>(n) * elem) + " bytes");
  }
}

Tensor Tensor::Wrap(DType dtype, Shape shape, void* data, std::shared_ptr<void> owner) {
  Tensor t;
  t.dtype_ = dtype;
  t.size_ = ElementCountUnchecked(shape);
  t.shape_ = std::move(shape);
  t.data_ = data;
  t.owner_ = std::move(owner);
  return t;
}

Tensor Tensor::Reshaped(Shape shape) const {
  Tensor t = *this;
  t.shape_ = std::move(shape);
  assert(ElementCountUnchecked(t.shape_) == size_);
  return t;
}

Tensor Tensor::Clone() const {
  if (!defined()) return Tensor();
  Tensor t(dtype_, shape_);
  if (dtype_ == DType::kString) {
    for (int64_t i = 0; i < size_; ++i) t.data<std::string>()[i] = data<std::string>()[i];
  } else if (nbytes() > 0) {
    std::memcpy(t.data_, data_, nbytes());
  }
  return t;
}

double ElementAsDouble(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kFloat32:
      return t.data<float>()[i];
    case DType::kFloat64:
      return t.data<double>()[i];
    case DType::kFloat16:
      return HalfToFloat(t.data<Float16>()[i].bits);
    case DType::kInt64:
      return static_cast<double>(t.data<int64_t>()[i]);
    case DType::kInt32:
      return t.data<int32_t>()[i];
    case DType::kInt16:
      return t.data<int16_t>()[i];
    case DType::kInt8:
      return t.data<int8_t>()[i];
    case DType::kUInt8:
      return t.data<uint8_t>()[i];
    case DType::kUInt16:
      return t.data<uint16_t>()[i];
    case DType::kUInt32:
      return t.data<uint32_t>()[i];
    case DType::kUInt64:
      return static_cast<double>(t.data<uint64_t>()[i]);
    case DType::kBool:
      return t.data<bool>()[i] ? 1 : 0;
    default:
      return std::nan("");
  }
}

}  // namespace tiffin
