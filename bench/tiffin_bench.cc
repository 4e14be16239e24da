// tiffin's side of the peer benchmark: times Model::Run in process and prints
// one JSON line in the format of tools/ort/bench.js and
// bench/peers/torch_bench.py / sklearn_bench.py.
//   tiffin_bench MODEL --batch N --iters K [--threads T] [--warmup W] [--input X.npy]
// MODEL is anything tiffin::LoadModel reads (ONNX, scikit-learn pickle or
// joblib file). Every Run computes all of the model's outputs.
// Input: without --input, random normal values of the model's first input
// dtype (float32 or float64) and shape [N, rest]. With --input, rows of the
// .npy file (converted to the input's dtype when it is float32/float64): batch
// b holds rows (b*N + r) mod R, r < N, of the file's R rows, so a batch larger
// than the file tiles its rows; there are max(1, min(R / N, 1024)) distinct
// batches and iteration i runs batch i mod that count (the same rule as
// bench.js and sklearn_bench.py), so single-row latency cycles through the
// file's rows instead of repeating one tree path.
// --threads sets OpenBLAS's thread count (the only parallelism tiffin uses).
// JSON: mean, p50, p99 (nearest rank) and min of one Run in µs; rows_per_s is
// N / mean; cpu_us is the process CPU time of the timed loop divided by K
// (on a shared machine, mean_us well above cpu_us means the process waited
// for a core).
#include <cblas.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "io/tensor_io.h"
#include "tiffin/model.h"

extern "C" void openblas_set_num_threads(int);

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: tiffin_bench MODEL --batch N --iters K [--threads T] [--warmup W] "
               "[--input X.npy]\n");
  return 2;
}

double ToDouble(const tiffin::Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case tiffin::DType::kFloat32:
      return t.data<float>()[i];
    case tiffin::DType::kFloat64:
      return t.data<double>()[i];
    case tiffin::DType::kInt64:
      return static_cast<double>(t.data<int64_t>()[i]);
    case tiffin::DType::kInt32:
      return t.data<int32_t>()[i];
    default:
      return std::nan("");
  }
}

// Rows (b*batch + r) mod R of `src` ([R, ...]) as a [batch, ...] tensor of `dtype`.
tiffin::Tensor TakeRows(const tiffin::Tensor& src, tiffin::DType dtype, int64_t batch, int64_t b) {
  const int64_t rows = src.dim(0);
  const int64_t width = rows > 0 ? src.size() / rows : 0;
  tiffin::Shape shape = src.shape();
  shape[0] = batch;
  tiffin::Tensor out(dtype, shape);
  for (int64_t r = 0; r < batch; ++r) {
    const int64_t from = (b * batch + r) % rows;
    if (dtype == src.dtype()) {
      const size_t row_bytes = static_cast<size_t>(width) * tiffin::DTypeSize(dtype);
      std::memcpy(static_cast<char*>(out.raw_data()) + static_cast<size_t>(r) * row_bytes,
                  static_cast<const char*>(src.raw_data()) + static_cast<size_t>(from) * row_bytes,
                  row_bytes);
    } else {
      for (int64_t k = 0; k < width; ++k) {
        const double v = ToDouble(src, from * width + k);
        if (dtype == tiffin::DType::kFloat64)
          out.data<double>()[r * width + k] = v;
        else
          out.data<float>()[r * width + k] = static_cast<float>(v);
      }
    }
  }
  return out;
}

double CpuMicros() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  std::string path = argv[1];
  std::string input_path;
  int batch = 1, iters = 100, threads = 1, warmup = -1, load = 0, verify = 1;
  for (int i = 2; i < argc; i += 2) {
    std::string k = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "tiffin_bench: missing value for %s\n", k.c_str());
      return Usage();
    }
    std::string s = argv[i + 1];
    int v = std::atoi(s.c_str());
    if (k == "--batch")
      batch = v;
    else if (k == "--iters")
      iters = v;
    else if (k == "--threads")
      threads = v;
    else if (k == "--warmup")
      warmup = v;
    else if (k == "--input")
      input_path = s;
    else if (k == "--load")  // time LoadModel itself, N times, and exit
      load = v;
    else if (k == "--verify")  // 0: LoadOptions::verify = false (bundles)
      verify = v;
    else {
      std::fprintf(stderr, "tiffin_bench: unknown option %s\n", k.c_str());
      return Usage();
    }
  }
  if (batch < 1 || iters < 1 || threads < 1) {
    std::fprintf(stderr, "tiffin_bench: --batch, --iters and --threads must be >= 1\n");
    return 2;
  }
  if (warmup < 0) warmup = std::max(3, std::min(50, (iters + 9) / 10));
  if (load > 0) {
    // Load time (a .tiffin bundle: mmap, hash checks, parse, compile, and the
    // reference replay unless --verify 0). The first load warms the page cache.
    tiffin::LoadOptions lo;
    lo.verify = verify != 0;
    std::vector<double> ms;
    for (int i = 0; i <= load; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      auto m = tiffin::LoadModel(path, lo);
      const auto t1 = std::chrono::steady_clock::now();
      if (!m.ok()) {
        std::fprintf(stderr, "tiffin_bench: %s\n", m.status().ToString().c_str());
        return 1;
      }
      if (i > 0) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    std::printf("{\"peer\":\"tiffin %s\",\"model\":\"%s\",\"measure\":\"load\",\"verify\":%s,"
                "\"loads\":%d,\"p50_ms\":%.3f,\"min_ms\":%.3f,\"max_ms\":%.3f}\n",
                tiffin::Version(), path.c_str(), verify ? "true" : "false", load, ms[ms.size() / 2], ms.front(),
                ms.back());
    return 0;
  }
  auto model =
      tiffin::LoadModel(path);  // sets OpenBLAS to one thread unless the env says otherwise
  openblas_set_num_threads(threads);
  if (!model.ok()) {
    std::fprintf(stderr, "tiffin_bench: %s\n", model.status().ToString().c_str());
    return 1;
  }
  const auto& in = (*model)->inputs()[0];
  tiffin::DType dtype = in.dtype;
  if (dtype != tiffin::DType::kFloat32 && dtype != tiffin::DType::kFloat64) {
    std::fprintf(stderr, "tiffin_bench: input '%s' is not float32/float64\n", in.name.c_str());
    return 1;
  }

  std::vector<std::vector<tiffin::NamedTensor>> feeds;
  if (!input_path.empty()) {
    std::ifstream f(input_path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    if (!f) {
      std::fprintf(stderr, "tiffin_bench: cannot read %s\n", input_path.c_str());
      return 1;
    }
    auto src = tiffin::io::ParseNpy(ss.str());
    if (!src.ok()) {
      std::fprintf(stderr, "tiffin_bench: %s: %s\n", input_path.c_str(),
                   src.status().ToString().c_str());
      return 1;
    }
    if (src->rank() < 1 || src->dim(0) < 1) {
      std::fprintf(stderr, "tiffin_bench: %s has no rows\n", input_path.c_str());
      return 1;
    }
    const int64_t distinct = std::max<int64_t>(1, std::min<int64_t>(src->dim(0) / batch, 1024));
    for (int64_t b = 0; b < distinct; ++b)
      feeds.push_back({{in.name, TakeRows(*src, dtype, batch, b)}});
  } else {
    tiffin::Shape shape;
    for (size_t d = 0; d < in.shape.size(); ++d)
      shape.push_back(d == 0 ? batch : std::max<int64_t>(in.shape[d].value, 1));
    tiffin::Tensor x(dtype, shape);
    std::mt19937 rng(1);
    std::normal_distribution<float> dist;
    for (int64_t i = 0; i < x.size(); ++i) {
      if (dtype == tiffin::DType::kFloat64)
        x.data<double>()[i] = dist(rng);
      else
        x.data<float>()[i] = dist(rng);
    }
    feeds.push_back({{in.name, x}});
  }

  for (int i = 0; i < warmup; ++i) {
    auto r = (*model)->Run(feeds[static_cast<size_t>(i) % feeds.size()]);
    if (!r.ok()) {
      std::fprintf(stderr, "tiffin_bench: %s\n", r.status().ToString().c_str());
      return 1;
    }
  }
  std::vector<double> us;
  us.reserve(static_cast<size_t>(iters));
  const double cpu0 = CpuMicros();
  for (int i = 0; i < iters; ++i) {
    const auto& feed = feeds[static_cast<size_t>(i) % feeds.size()];
    auto t0 = std::chrono::steady_clock::now();
    auto r = (*model)->Run(feed);
    auto t1 = std::chrono::steady_clock::now();
    if (!r.ok()) return 1;
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  const double cpu_us = (CpuMicros() - cpu0) / iters;
  double mean = 0;
  for (double u : us) mean += u;
  mean /= static_cast<double>(us.size());
  std::sort(us.begin(), us.end());
  const double p50 = us[us.size() / 2];
  const size_t rank99 = static_cast<size_t>(std::ceil(0.99 * static_cast<double>(us.size())));
  const double p99 = us[std::max<size_t>(rank99, 1) - 1];
  std::string name = path;
  auto slash = name.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    auto prev = name.rfind('/', slash - 1);
    name = name.substr(prev == std::string::npos ? 0 : prev + 1,
                       slash - (prev == std::string::npos ? 0 : prev + 1));
  }
  std::string outputs;
  for (const auto& o : (*model)->outputs())
    outputs += (outputs.empty() ? "\"" : ",\"") + o.name + "\"";
  std::printf(
      "{\"peer\":\"tiffin %s\",\"model\":\"%s\",\"batch\":%d,\"threads\":%d,\"iters\":%d,"
      "\"mean_us\":%.2f,\"p50_us\":%.2f,\"p99_us\":%.2f,\"min_us\":%.2f,\"cpu_us\":%.2f,\"rows_per_"
      "s\":%.1f,"
      "\"input\":\"%s\",\"outputs\":[%s]}\n",
      tiffin::Version(), name.c_str(), batch, threads, iters, mean, p50, p99, us.front(), cpu_us,
      batch * 1e6 / mean, input_path.empty() ? "random" : "npy", outputs.c_str());
  return 0;
}
