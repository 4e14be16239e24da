// The cost of answering one inference request inside `tiffin serve`, without
// the network: Service::Handle on a prepared HttpRequest, timed in thread CPU
// time so that other load on the machine does not count. Separates what the
// server spends in protocol decoding, checks, the model and the response from
// what the kernel's loopback path costs (bench/serve_bench.sh measures both).
//
//   build/bin/handler_bench MODEL_REPOSITORY [--iters N] [--only "V2 JSON"|"TF JSON"]
// Each model in the repository is sent one row of four numbers (the iris
// examples) as a V2 JSON request and as a TF Serving `instances` request.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "server/repository.h"
#include "server/service.h"

namespace {

double ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: handler_bench MODEL_REPOSITORY [--iters N] [--only FORM]\n");
    return 2;
  }
  long iters = 200000;
  std::string only;  // --only "V2 JSON" or "TF JSON": one request form
  for (int i = 2; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--iters") iters = std::max(1L, std::atol(argv[i + 1]));
    if (std::string(argv[i]) == "--only") only = argv[i + 1];
  }
  tiffin::server::RepositoryOptions ro;
  ro.path = argv[1];
  tiffin::server::Repository repo(ro);
  if (auto s = repo.Init(); !s.ok()) {
    std::fprintf(stderr, "handler_bench: %s\n", s.message().c_str());
    return 1;
  }
  tiffin::server::Service service(&repo, {});
  const std::string row = "[5.9, 3.0, 5.1, 1.8]";
  std::printf("| model | request | µs CPU per request |\n|---|---|---|\n");
  for (const auto& m : repo.Models()) {
    const auto& model = *m->versions.rbegin()->second->model;
    const std::string input = model.inputs().empty() ? "X" : model.inputs()[0].name;
    const std::string dtype =
        model.inputs().empty() || model.inputs()[0].dtype == tiffin::DType::kFloat32 ? "FP32"
                                                                                     : "FP64";
    struct Case {
      const char* label;
      std::string target, body;
    } cases[] = {
        {"V2 JSON", "/v2/models/" + m->name + "/infer",
         R"({"inputs": [{"name": ")" + input + R"(", "shape": [1, 4], "datatype": ")" + dtype +
             R"(", "data": )" + row + "}]}"},
        {"TF JSON", "/v1/models/" + m->name + ":predict", R"({"instances": [)" + row + "]}"},
    };
    for (const auto& c : cases) {
      if (!only.empty() && only != c.label) continue;
      tiffin::server::HttpRequest req;
      req.method = "POST";
      req.target = c.target;
      req.body = c.body;
      req.headers.emplace_back("Content-Type", "application/json");
      auto first = service.Handle(req);
      if (first.status != 200) {
        std::fprintf(stderr, "handler_bench: %s %s answered %d: %s\n", m->name.c_str(), c.label,
                     first.status, first.body.c_str());
        return 1;
      }
      for (long i = 0; i < iters / 10; ++i) service.Handle(req);  // warm up
      const double t0 = ThreadCpuNs();
      for (long i = 0; i < iters; ++i) service.Handle(req);
      const double per = (ThreadCpuNs() - t0) / static_cast<double>(iters) / 1e3;
      std::printf("| %s | %s | %.2f |\n", m->name.c_str(), c.label, per);
    }
  }
  return 0;
}
