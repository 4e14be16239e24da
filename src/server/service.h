// The HTTP endpoints of `tiffin serve`: the Open Inference Protocol (KServe
// V2) REST API with Triton's binary-tensor, repository and statistics
// extensions, TF Serving's REST API, MLflow's scoring API and Prometheus
// metrics with Triton's names. docs/serving.md is the reference.
//
// Errors: 400 {"error": "...", "details": [{"input", "problem", "expected",
// "got"}]} for a request that does not fit the model, 404 for an unknown
// model, version or route; never 500 for a bad request.
//
// Thread safety: Handle may be called from any number of threads at once.
#ifndef TIFFIN_SERVER_SERVICE_H_
#define TIFFIN_SERVER_SERVICE_H_

#include <memory>
#include <string>

#include "server/http.h"
#include "server/repository.h"

namespace tiffin::server {

struct ServiceOptions {
  // Leave input values out of error messages (names, dtypes and shapes stay).
  bool redact_errors = false;
  // Dynamic batching is per model version: RepositoryOptions::batching (the
  // flags) or the model's config.pbtxt.
};

class Batcher;

class Service {
 public:
  Service(Repository* repo, ServiceOptions options);
  ~Service();

  HttpResponse Handle(const HttpRequest& req);

  // Prometheus text exposition of every model version's counters and the
  // process's CPU time and memory.
  std::string Metrics() const;

 private:
  Repository* repo_;
  ServiceOptions options_;
  std::unique_ptr<Batcher> batcher_;
};

}  // namespace tiffin::server

#endif  // TIFFIN_SERVER_SERVICE_H_
