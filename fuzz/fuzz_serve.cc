// libFuzzer target: arbitrary bytes as an HTTP request body to the server's
// endpoints (KServe V2 infer with and without the binary-tensor extension, TF
// Serving :predict, MLflow /invocations as JSON and CSV, the repository
// index) on examples/iris_mlp/model.onnx, and TF Serving's :classify,
// :regress and b64 :predict on the examples/models repository. The first byte picks the endpoint
// and, for binary requests, where the JSON header ends. Every answer must be
// a 2xx or 4xx: a 5xx is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "server/repository.h"
#include "server/service.h"

#ifndef TIFFIN_SOURCE_DIR
#define TIFFIN_SOURCE_DIR "."
#endif

namespace {

tiffin::server::Service* GetService() {
  static tiffin::server::Repository* repo = [] {
    tiffin::server::RepositoryOptions o;
    o.path = std::string(TIFFIN_SOURCE_DIR) + "/examples/iris_mlp/model.onnx";
    o.model_name = "m";
    auto* r = new tiffin::server::Repository(o);
    if (!r->Init().ok()) std::abort();
    return r;
  }();
  static tiffin::server::Service* service = new tiffin::server::Service(repo, {});
  return service;
}

// examples/models: iris_logreg (a classifier with labels), iris_mlp, iris_forest.
tiffin::server::Service* GetRepositoryService() {
  static tiffin::server::Repository* repo = [] {
    tiffin::server::RepositoryOptions o;
    o.path = std::string(TIFFIN_SOURCE_DIR) + "/examples/models";
    auto* r = new tiffin::server::Repository(o);
    if (!r->Init().ok()) std::abort();
    return r;
  }();
  static tiffin::server::Service* service = new tiffin::server::Service(repo, {});
  return service;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  tiffin::server::HttpRequest req;
  req.method = "POST";
  req.received = req.started = std::chrono::steady_clock::now();
  req.body.assign(reinterpret_cast<const char*>(data) + 2, size - 2);
  tiffin::server::Service* service = GetService();
  switch (data[0] % 9) {
    case 0:
      req.target = "/v2/models/m/infer";
      break;
    case 1:
      req.target = "/v2/models/m/infer";
      req.headers.emplace_back("Inference-Header-Content-Length",
                               std::to_string(data[1] % (req.body.size() + 1)));
      break;
    case 2:
      req.target = "/v1/models/m:predict";
      break;
    case 3:
      req.target = "/invocations";
      req.headers.emplace_back("Content-Type", "application/json");
      break;
    case 4:
      req.target = "/invocations";
      req.headers.emplace_back("Content-Type", "text/csv");
      break;
    case 5:
      req.target = "/v1/models/iris_logreg:classify";
      service = GetRepositoryService();
      break;
    case 6:
      req.target = "/v1/models/iris_mlp:regress";
      service = GetRepositoryService();
      break;
    case 7:
      req.target = data[1] % 2 ? "/v1/models/iris_logreg:predict" : "/v1/models/iris_mlp:predict";
      service = GetRepositoryService();
      break;
    default:
      req.target = "/v2/repository/index";
      break;
  }
  auto res = service->Handle(req);
  if (res.status >= 500) std::abort();
  return 0;
}
