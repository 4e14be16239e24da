// tiffin's side of the peer benchmark: times Model::Run in process on a
// random float32 input and prints one JSON line in the format of
// tools/ort/bench.js and bench/peers/torch_bench.py.
//   tiffin_bench MODEL --batch N --iters K [--threads T] [--warmup W]
// --threads sets OpenBLAS's thread count (the only parallelism tiffin uses).
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "tiffin/model.h"

extern "C" void openblas_set_num_threads(int);

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: tiffin_bench MODEL --batch N --iters K [--threads T] [--warmup W]\n");
    return 2;
  }
  std::string path = argv[1];
  int batch = 1, iters = 100, threads = 1, warmup = -1;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (k == "--batch")
      batch = v;
    else if (k == "--iters")
      iters = v;
    else if (k == "--threads")
      threads = v;
    else if (k == "--warmup")
      warmup = v;
    else {
      std::fprintf(stderr, "tiffin_bench: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (warmup < 0) warmup = std::max(3, std::min(50, (iters + 9) / 10));
  auto model =
      tiffin::LoadModel(path);  // sets OpenBLAS to one thread unless the env says otherwise
  openblas_set_num_threads(threads);
  if (!model.ok()) {
    std::fprintf(stderr, "tiffin_bench: %s\n", model.status().ToString().c_str());
    return 1;
  }
  const auto& in = (*model)->inputs()[0];
  tiffin::Shape shape;
  for (size_t d = 0; d < in.shape.size(); ++d)
    shape.push_back(d == 0 ? batch : std::max<int64_t>(in.shape[d].value, 1));
  tiffin::Tensor x(tiffin::DType::kFloat32, shape);
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  for (int64_t i = 0; i < x.size(); ++i) x.data<float>()[i] = dist(rng);
  std::vector<tiffin::NamedTensor> feeds{{in.name, x}};
  for (int i = 0; i < warmup; ++i) {
    auto r = (*model)->Run(feeds);
    if (!r.ok()) {
      std::fprintf(stderr, "tiffin_bench: %s\n", r.status().ToString().c_str());
      return 1;
    }
  }
  std::vector<double> us;
  us.reserve(static_cast<size_t>(iters));
  for (int i = 0; i < iters; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = (*model)->Run(feeds);
    auto t1 = std::chrono::steady_clock::now();
    if (!r.ok()) return 1;
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  double mean = 0;
  for (double u : us) mean += u;
  mean /= static_cast<double>(us.size());
  std::sort(us.begin(), us.end());
  double p50 = us[us.size() / 2];
  std::string name = path;
  auto slash = name.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    auto prev = name.rfind('/', slash - 1);
    name = name.substr(prev == std::string::npos ? 0 : prev + 1,
                       slash - (prev == std::string::npos ? 0 : prev + 1));
  }
  std::printf(
      "{\"peer\":\"tiffin %s\",\"model\":\"%s\",\"batch\":%d,\"threads\":%d,\"iters\":%d,"
      "\"mean_us\":%.2f,\"p50_us\":%.2f,\"rows_per_s\":%.1f}\n",
      tiffin::Version(), name.c_str(), batch, threads, iters, mean, p50, batch * 1e6 / mean);
  return 0;
}
