// numpy values inside a parsed pickle (see pickle.h).
//
// Understands the forms numpy writes:
//   * ndarray, protocol <= 4: Object numpy._core.multiarray._reconstruct(
//     numpy.ndarray, (0,), b'b') with BUILD state
//     (version, shape, dtype, is_fortran, rawdata) (version omitted in v0);
//   * ndarray, protocol 5 in-band: Object numpy._core.numeric._frombuffer(
//     bytes, dtype, shape, order);
//   * numpy scalars: Object numpy._core.multiarray.scalar(dtype, raw bytes);
//   * dtypes: Object numpy.dtype(typestr, False, True) with BUILD state
//     (version, endian, subarray, names, fields, elsize, alignment, flags[, metadata]).
// The parse must allow those globals: pass kNumpyAllowedGlobals (or a superset)
// as PickleOptions::allowed_globals. Every size is checked against the bytes
// present; nothing is trusted.
#ifndef TIFFIN_IMPORTERS_PICKLE_NUMPY_H_
#define TIFFIN_IMPORTERS_PICKLE_NUMPY_H_

#include <string>
#include <vector>

#include "importers/pickle/pickle.h"
#include "tiffin/status.h"
#include "tiffin/tensor.h"

namespace tiffin::pickle {

// The globals the functions below need on the allow-list.
extern const std::vector<std::string> kNumpyAllowedGlobals;

struct NumpyField;

// A parsed numpy dtype.
struct NumpyDType {
  char kind = 0;          // 'f', 'i', 'u', 'b', 'c', 'V', 'O', 'U', 'S', 'M', 'm'
  int64_t itemsize = 0;   // bytes per element
  char byte_order = '|';  // '<', '>' or '|' (not applicable)
  std::string str;        // the typestr as pickled, e.g. "f8", "V64"
  // For structured dtypes ('V' with names): fields in `names` order.
  std::vector<NumpyField> fields;
  // The tiffin dtype for numeric and bool kinds; kUndefined otherwise.
  DType dtype = DType::kUndefined;

  bool is_structured() const { return !fields.empty(); }
  bool big_endian() const { return byte_order == '>'; }
};

struct NumpyField {
  std::string name;
  int64_t offset = 0;  // within the item, checked: offset + field size <= itemsize
  NumpyDType dtype;
};

// Parses an Object numpy.dtype (with its BUILD state).
Result<NumpyDType> ParseNumpyDType(const PickleValue& value);

// A numpy array or scalar as a Tensor in C order and native byte order.
// Accepts the ndarray forms above (numeric and bool dtypes, any byte order,
// C or Fortran order, 0-d and empty) and numpy scalars (shape []).
// Fixed-width text arrays become kString tensors: 'U' (UTF-32) is converted
// to UTF-8 and 'S' kept as bytes, both without trailing NULs.
// Fails with a message naming the dtype for object, string and structured
// arrays (use the functions below).
Result<Tensor> NumpyArrayToTensor(const PickleValue& value);

// An object-dtype ('O') array: its elements in C order and its shape.
struct NumpyObjectArray {
  Shape shape;
  std::vector<PickleRef> items;
};
Result<NumpyObjectArray> NumpyObjectArrayItems(const PickleValue& value);

// A structured-dtype array (e.g. sklearn Tree nodes): the raw items in C
// order (byte order as in `dtype`; fields are not converted) and the layout.
struct NumpyStructuredArray {
  Shape shape;
  NumpyDType dtype;
  std::string raw;  // shape product * dtype.itemsize bytes
};
Result<NumpyStructuredArray> NumpyStructuredArrayFromPickle(const PickleValue& value);

}  // namespace tiffin::pickle

#endif  // TIFFIN_IMPORTERS_PICKLE_NUMPY_H_
