// Shared helpers for kernels: broadcasting, axes, dtype dispatch.
#ifndef TIFFIN_KERNELS_UTIL_H_
#define TIFFIN_KERNELS_UTIL_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/kernel.h"

namespace tiffin::kernels {

// The numpy-style broadcast of two shapes, or an error naming the node.
Result<Shape> BroadcastShapes(const ir::Node& node, const Shape& a, const Shape& b);

// Element strides of `in` when broadcast to `out` (0 for broadcast dims).
// REQUIRES: `in` broadcasts to `out`.
std::vector<int64_t> BroadcastStrides(const Shape& in, const Shape& out);

// Calls f(i_out, i_a, i_b) for every output element, walking the broadcast.
template <typename F>
void ForEachBroadcast(const Shape& out, const std::vector<int64_t>& sa,
                      const std::vector<int64_t>& sb, F&& f) {
  const size_t rank = out.size();
  int64_t total = 1;
  for (int64_t d : out) total *= d;
  if (total == 0) return;
  if (rank == 0) {
    f(0, 0, 0);
    return;
  }
  std::vector<int64_t> idx(rank, 0);
  int64_t ia = 0, ib = 0;
  const int64_t inner = out[rank - 1];
  const int64_t sa_in = sa[rank - 1], sb_in = sb[rank - 1];
  for (int64_t o = 0; o < total; o += inner) {
    int64_t a = ia, b = ib;
    for (int64_t k = 0; k < inner; ++k, a += sa_in, b += sb_in) f(o + k, a, b);
    // advance the outer index
    for (int64_t d = static_cast<int64_t>(rank) - 2; d >= 0; --d) {
      ia += sa[d];
      ib += sb[d];
      if (++idx[d] < out[d]) break;
      ia -= sa[d] * out[d];
      ib -= sb[d] * out[d];
      idx[d] = 0;
    }
  }
}

// Row-major element strides of `shape`.
std::vector<int64_t> Strides(const Shape& shape);

// Maps a possibly negative axis into [0, rank), or an error naming the node.
Result<int64_t> NormalizeAxis(const ir::Node& node, int64_t axis, int64_t rank);

// Reads an int32/int64 tensor (shape, axes, indices) into int64s.
Result<std::vector<int64_t>> ToInt64s(const ir::Node& node, const Tensor& t, const char* what);

// Reads a float/double/int scalar-ish tensor's first element as double.
Result<double> ScalarAsDouble(const ir::Node& node, const Tensor& t, const char* what);

// Error helpers naming the node.
Status MissingInput(const ir::Node& node, int i, const char* what);
Status BadDType(const ir::Node& node, const char* what, DType got);

// Returns input i or an error naming it when it is omitted.
Result<const Tensor*> RequiredInput(KernelContext& ctx, int i, const char* what);

// Dispatch on a runtime dtype: calls f(T{}) with T the element type.
// Returns a not-supported error naming the node for dtypes outside the set.
#define TIFFIN_DISPATCH_CASE_(DT, T) \
  case DType::DT:                    \
    return f(T{});

template <typename F>
Status DispatchFloat(const ir::Node& node, DType dt, F&& f) {
  switch (dt) {
    TIFFIN_DISPATCH_CASE_(kFloat32, float)
    TIFFIN_DISPATCH_CASE_(kFloat64, double)
    default:
      return BadDType(node, "input", dt);
  }
}

template <typename F>
Status DispatchNumeric(const ir::Node& node, DType dt, F&& f) {
  switch (dt) {
    TIFFIN_DISPATCH_CASE_(kFloat32, float)
    TIFFIN_DISPATCH_CASE_(kFloat64, double)
    TIFFIN_DISPATCH_CASE_(kInt8, int8_t)
    TIFFIN_DISPATCH_CASE_(kInt16, int16_t)
    TIFFIN_DISPATCH_CASE_(kInt32, int32_t)
    TIFFIN_DISPATCH_CASE_(kInt64, int64_t)
    TIFFIN_DISPATCH_CASE_(kUInt8, uint8_t)
    TIFFIN_DISPATCH_CASE_(kUInt16, uint16_t)
    TIFFIN_DISPATCH_CASE_(kUInt32, uint32_t)
    TIFFIN_DISPATCH_CASE_(kUInt64, uint64_t)
    default:
      return BadDType(node, "input", dt);
  }
}

// Every dtype, strings and bool included (for data movement ops).
template <typename F>
Status DispatchAll(const ir::Node& node, DType dt, F&& f) {
  switch (dt) {
    TIFFIN_DISPATCH_CASE_(kFloat32, float)
    TIFFIN_DISPATCH_CASE_(kFloat64, double)
    TIFFIN_DISPATCH_CASE_(kFloat16, Float16)
    TIFFIN_DISPATCH_CASE_(kInt8, int8_t)
    TIFFIN_DISPATCH_CASE_(kInt16, int16_t)
    TIFFIN_DISPATCH_CASE_(kInt32, int32_t)
    TIFFIN_DISPATCH_CASE_(kInt64, int64_t)
    TIFFIN_DISPATCH_CASE_(kUInt8, uint8_t)
    TIFFIN_DISPATCH_CASE_(kUInt16, uint16_t)
    TIFFIN_DISPATCH_CASE_(kUInt32, uint32_t)
    TIFFIN_DISPATCH_CASE_(kUInt64, uint64_t)
    TIFFIN_DISPATCH_CASE_(kBool, bool)
    TIFFIN_DISPATCH_CASE_(kString, std::string)
    default:
      return BadDType(node, "input", dt);
  }
}

// Copies `n` elements of any dtype (strings by assignment).
void CopyElements(DType dt, const void* src, void* dst, int64_t n);

// Runs a float16 tensor through a float32 computation: converts input(s) to
// float32, lets `f` compute, converts the result back. Used where kernels
// accept float16 by upcasting.
Tensor HalfToFloatTensor(const Tensor& t);
void FloatToHalfInto(const Tensor& src, Tensor* dst);

// A gather along independent per-axis index maps, as nearest-neighbour
// Resize and Pad need: out[i0,...,ik] = src[maps[0][i0], ..., maps[k][ik]],
// or `fill` where any map entry is -1. `src_strides` are the source's
// row-major element strides; every map entry is either -1 or a valid index
// into its source axis (callers build the maps from bounds-checked values).
template <typename T>
void GatherAxisMaps(const T* src, const std::vector<int64_t>& src_strides,
                    const std::vector<std::vector<int64_t>>& maps, const Shape& out_shape,
                    const T& fill, T* dst) {
  const size_t r = out_shape.size();
  if (r == 0) {
    dst[0] = src[0];
    return;
  }
  int64_t total = 1;
  for (int64_t d : out_shape) total *= d;
  if (total == 0) return;
  const size_t last = r - 1;
  const int64_t row = out_shape[last];
  const std::vector<int64_t>& ml = maps[last];
  std::vector<int64_t> idx(r, 0);
  for (int64_t o = 0; o < total; o += row) {
    int64_t base = 0;
    bool inside = true;
    for (size_t d = 0; d < last; ++d) {
      const int64_t i = maps[d][static_cast<size_t>(idx[d])];
      if (i < 0) {
        inside = false;
        break;
      }
      base += i * src_strides[d];
    }
    T* drow = dst + o;
    if (!inside) {
      std::fill(drow, drow + row, fill);
    } else {
      const T* srow = src + base;
      for (int64_t k = 0; k < row; ++k) {
        const int64_t i = ml[static_cast<size_t>(k)];
        drow[k] = i < 0 ? fill : srow[i];
      }
    }
    for (size_t d = last; d-- > 0;) {
      if (++idx[d] < out_shape[d]) break;
      idx[d] = 0;
    }
  }
}

// Sets OpenBLAS to one thread, once per process, unless the user chose a
// count through OPENBLAS_NUM_THREADS. One thread per Run keeps latency
// predictable when many requests run at once (a server) and avoids the
// second BLAS thread spinning on two cores.
void InitBlasThreadsOnce();

}  // namespace tiffin::kernels

#endif  // TIFFIN_KERNELS_UTIL_H_
