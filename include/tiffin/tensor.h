// Tensor: a dense, row-major array of any rank and any tiffin dtype.
//
// A Tensor is a cheap handle: copying it shares the underlying buffer (the
// buffer is reference counted). Tensors handed to Model::Run are never
// written to; kernels write only to the outputs they allocate. Use Clone()
// for an independent copy.
#ifndef TIFFIN_TENSOR_H_
#define TIFFIN_TENSOR_H_

#include <cassert>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tiffin/dtype.h"
#include "tiffin/status.h"

namespace tiffin {

template <>
constexpr DType DTypeOf<std::string>() {
  return DType::kString;
}

using Shape = std::vector<int64_t>;

// Number of elements of `shape` (1 for a scalar), or an error if a dim is
// negative or the product overflows int64.
Result<int64_t> CheckedElementCount(const Shape& shape);

// "[2,3,4]".
std::string ShapeToString(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;  // undefined dtype, no data

  // Allocates a zero-initialised tensor (strings are empty).
  // REQUIRES: every dim >= 0 and the size fits in memory; use Allocate() for
  // sizes that come from untrusted input.
  Tensor(DType dtype, Shape shape);

  // Allocates like the constructor, but refuses more than `max_bytes` bytes
  // with a kResourceExhausted error instead of trying.
  static Result<Tensor> Allocate(DType dtype, Shape shape, size_t max_bytes);

  // Wraps memory owned by `owner` (kept alive while any handle exists).
  // REQUIRES: `data` holds at least ElementCount(shape) elements of dtype.
  static Tensor Wrap(DType dtype, Shape shape, void* data, std::shared_ptr<void> owner);

  // A 1-element tensor of shape [] holding `value`.
  template <typename T>
  static Tensor Scalar(T value) {
    Tensor t(DTypeOf<T>(), {});
    *t.data<T>() = value;
    return t;
  }
  // A 1-D tensor holding `values` (shape overrides, if given).
  template <typename T>
  static Tensor FromVector(const std::vector<T>& values, Shape shape = {}) {
    if (shape.empty()) shape = {static_cast<int64_t>(values.size())};
    Tensor t(DTypeOf<T>(), shape);
    for (size_t i = 0; i < values.size(); ++i) t.data<T>()[i] = values[i];
    return t;
  }

  bool defined() const { return dtype_ != DType::kUndefined; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_[static_cast<size_t>(i)]; }
  int64_t size() const { return size_; }  // number of elements
  size_t nbytes() const { return static_cast<size_t>(size_) * DTypeSize(dtype_); }

  // Typed access. REQUIRES: DTypeOf<T>() == dtype() (checked in debug builds).
  template <typename T>
  T* data() {
    assert(DTypeOf<T>() == dtype_);
    return static_cast<T*>(data_);
  }
  template <typename T>
  const T* data() const {
    assert(DTypeOf<T>() == dtype_);
    return static_cast<const T*>(data_);
  }
  void* raw_data() { return data_; }
  const void* raw_data() const { return data_; }

  // The same buffer seen with another shape.
  // REQUIRES: the element count of `shape` equals size().
  Tensor Reshaped(Shape shape) const;

  // A deep copy that owns its buffer.
  Tensor Clone() const;

  // True when both handles share one buffer.
  bool SharesBufferWith(const Tensor& other) const { return owner_ && owner_ == other.owner_; }
  const std::shared_ptr<void>& owner() const { return owner_; }

 private:
  DType dtype_ = DType::kUndefined;
  Shape shape_;
  int64_t size_ = 0;
  void* data_ = nullptr;
  std::shared_ptr<void> owner_;
};

// Element `i` (flat, row-major) of a numeric or bool tensor as a double;
// NaN for strings and undefined tensors. REQUIRES: 0 <= i < t.size().
double ElementAsDouble(const Tensor& t, int64_t i);

// A tensor with the name of the model input or output it binds to.
struct NamedTensor {
  std::string name;
  Tensor tensor;
};

}  // namespace tiffin

#endif  // TIFFIN_TENSOR_H_
