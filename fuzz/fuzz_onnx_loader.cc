// libFuzzer target: arbitrary bytes as an ONNX model. Loading must either
// succeed or return an error; a model that loads is also run on small inputs
// of its declared dtypes and shapes. Nothing may crash, leak, overflow, hang
// or allocate without bound.
//   make fuzz FUZZ_SECONDS=300          (see fuzz/README.md)
//
// Input format. A plain .onnx file is a valid input. Optionally it may carry
// a trailer that steers the values fed to the model's inputs:
//   <model bytes> <n parameter bytes> <n: one byte, 1..64> "TFZ"
// Without a trailer the parameters are the last (up to) 16 bytes of the file.
// Parameter byte 0 picks the size of every dynamic dim (0..3); the input
// elements cycle through the remaining bytes, each mapped to a value of
// interest for its dtype (0, +-1, small ints, extremes, NaN, inf...). All of
// it is a pure function of the input bytes, so every run is reproducible.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "tiffin/model.h"

// UBSan findings (signed overflow, bad float->int casts, misaligned loads...)
// are fatal, so that libFuzzer records them as crashes with the input.
extern "C" const char* __ubsan_default_options() { return "halt_on_error=1:print_stacktrace=1"; }

namespace {

constexpr int64_t kMaxElementsPerInput = 4096;
constexpr int64_t kMaxElementsTotal = 16384;
constexpr size_t kMaxInputs = 32;

double FloatValue(uint8_t b) {
  static constexpr double kInf = std::numeric_limits<double>::infinity();
  static const double kTable[16] = {0.0,  1.0,   -1.0, 2.0,  0.5,   -0.5, 3.0,   -3.0,
                                    10.0, -100., 1e-3, 1e30, -1e30, kInf, -kInf, std::nan("")};
  return kTable[b % 16];
}

template <typename T>
T IntValue(uint8_t b) {
  using L = std::numeric_limits<T>;
  switch (b % 16) {
    case 0:
      return T(0);
    case 1:
      return T(1);
    case 2:
      return static_cast<T>(-1);
    case 3:
      return T(2);
    case 4:
      return T(3);
    case 5:
      return static_cast<T>(-2);
    case 6:
      return T(5);
    case 7:
      return T(7);
    case 8:
      return T(100);
    case 9:
      return static_cast<T>(-100);
    case 10:
      return L::max();
    case 11:
      return L::min();
    case 12:
      return static_cast<T>(L::max() - 1);
    case 13:
      return T(127);
    case 14:
      return static_cast<T>(-128);
    default:
      return static_cast<T>(b);
  }
}

template <typename T>
void FillInts(tiffin::Tensor& t, std::string_view p) {
  T* d = t.data<T>();
  for (int64_t i = 0; i < t.size(); ++i) d[i] = IntValue<T>(static_cast<uint8_t>(p[i % p.size()]));
}

void Fill(tiffin::Tensor& t, std::string_view p) {
  using tiffin::DType;
  if (p.empty() || t.size() == 0) return;  // stays zero
  auto byte = [&](int64_t i) { return static_cast<uint8_t>(p[static_cast<size_t>(i) % p.size()]); };
  switch (t.dtype()) {
    case DType::kFloat32:
      for (int64_t i = 0; i < t.size(); ++i)
        t.data<float>()[i] = static_cast<float>(FloatValue(byte(i)));
      break;
    case DType::kFloat64:
      for (int64_t i = 0; i < t.size(); ++i) t.data<double>()[i] = FloatValue(byte(i));
      break;
    case DType::kFloat16:
      for (int64_t i = 0; i < t.size(); ++i)
        t.data<tiffin::Float16>()[i] = tiffin::Float16(static_cast<float>(FloatValue(byte(i))));
      break;
    case DType::kInt8:
      FillInts<int8_t>(t, p);
      break;
    case DType::kInt16:
      FillInts<int16_t>(t, p);
      break;
    case DType::kInt32:
      FillInts<int32_t>(t, p);
      break;
    case DType::kInt64:
      FillInts<int64_t>(t, p);
      break;
    case DType::kUInt8:
      FillInts<uint8_t>(t, p);
      break;
    case DType::kUInt16:
      FillInts<uint16_t>(t, p);
      break;
    case DType::kUInt32:
      FillInts<uint32_t>(t, p);
      break;
    case DType::kUInt64:
      FillInts<uint64_t>(t, p);
      break;
    case DType::kBool:
      for (int64_t i = 0; i < t.size(); ++i) t.data<bool>()[i] = (byte(i) & 1) != 0;
      break;
    case DType::kString:
      for (int64_t i = 0; i < t.size(); ++i)
        t.data<std::string>()[i] = std::string(byte(i) % 4, static_cast<char>('a' + byte(i) % 26));
      break;
    default:
      break;  // other dtypes stay zero
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::string_view params;
  // Optional trailer: <params> <n> "TFZ".
  if (bytes.size() >= 4 && bytes.substr(bytes.size() - 3) == "TFZ") {
    const size_t n = static_cast<uint8_t>(bytes[bytes.size() - 4]);
    if (n >= 1 && n <= 64 && n + 4 <= bytes.size()) {
      params = bytes.substr(bytes.size() - 4 - n, n);
      bytes = bytes.substr(0, bytes.size() - 4 - n);
    }
  }
  if (params.empty()) params = bytes.substr(bytes.size() > 16 ? bytes.size() - 16 : 0);

  tiffin::LoadOptions options;
  options.max_tensor_bytes = size_t{64} << 20;  // keep the fuzzer's memory bounded
  options.max_external_bytes = 0;
  options.max_nodes = 10000;
  auto model = tiffin::LoadOnnxBytes(std::string(bytes), "", options);
  if (!model.ok()) return 0;

  const int64_t dyn_dim = params.empty() ? 2 : static_cast<uint8_t>(params[0]) % 4;
  const std::string_view values = params.size() > 1 ? params.substr(1) : std::string_view();
  if ((*model)->inputs().size() > kMaxInputs) return 0;
  std::vector<tiffin::NamedTensor> feeds;
  int64_t total = 0;
  for (const auto& in : (*model)->inputs()) {
    tiffin::Shape shape;
    int64_t n = 1;
    for (const auto& d : in.shape) {
      const int64_t v = d.fixed() ? d.value : dyn_dim;
      if (v < 0 || v > kMaxElementsPerInput) return 0;
      shape.push_back(v);
      n *= v > 0 ? v : 1;  // both factors <= 4096: no overflow
      if (n > kMaxElementsPerInput) return 0;
    }
    total += n;
    if (total > kMaxElementsTotal) return 0;
    tiffin::DType dt = in.dtype == tiffin::DType::kUndefined ? tiffin::DType::kFloat32 : in.dtype;
    tiffin::Tensor t(dt, shape);
    Fill(t, values);
    feeds.push_back({in.name, std::move(t)});
  }
  auto out = (*model)->Run(feeds);
  (void)out;
  return 0;
}
