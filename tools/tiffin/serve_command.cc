// tiffin serve: the inference server's command line. The server itself is
// src/server/ (http, repository, service, batcher).
#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/json.h"
#include "server/http.h"
#include "server/repository.h"
#include "server/service.h"
#include "tools/tiffin/commands.h"

namespace tiffin::cli {

namespace {

std::mutex g_log_mu;

// One JSON object per line on stderr: {"ts","level","event",...}.
void LogLine(const std::string& level, const std::string& event, const std::string& fields) {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long>(tv.tv_usec / 1000));
  std::string line = "{\"ts\":\"" + std::string(ts) + "\",\"level\":" + JsonQuote(level) +
                     ",\"event\":" + JsonQuote(event) + (fields.empty() ? "" : "," + fields) +
                     "}\n";
  std::lock_guard<std::mutex> lock(g_log_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

// SIGTERM and SIGINT: a handler installed before anything else happens and
// never removed, which writes the signal's number into a pipe that a thread
// reads to stop the server. Asio's signal_set (HttpServer::Run(true)) is armed
// only once the server runs, after the "ready" log line, and restores the
// default action when Run returns: a SIGTERM sent as soon as a client saw
// "ready" (35-45% of tries) or a second one during the exit killed the process
// (status 143) instead of draining it.
int g_signal_pipe[2] = {-1, -1};

extern "C" void OnStopSignal(int sig) {
  const int saved = errno;
  const char c = static_cast<char>(sig);
  ssize_t n = write(g_signal_pipe[1], &c, 1);  // async-signal-safe
  (void)n;
  errno = saved;
}

bool InstallStopSignals() {
  if (pipe2(g_signal_pipe, O_CLOEXEC) != 0) return false;
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  return sigaction(SIGTERM, &sa, nullptr) == 0 && sigaction(SIGINT, &sa, nullptr) == 0;
}

const char kUsage[] =
    "usage: tiffin serve PATH [options]\n"
    "  PATH: a model file (any format tiffin reads), or a repository directory laid\n"
    "        out PATH/<model>/<version>/<file> or PATH/<model>/<file>\n"
    "  --http-port N          port to listen on (default 8080; 0 picks a free one)\n"
    "  --host ADDR            address to bind (default 127.0.0.1; 0.0.0.0 for all)\n"
    "  --threads N            worker threads running requests (default: CPUs)\n"
    "  --io-threads N         threads reading and writing sockets (default 1)\n"
    "  --model-name NAME      name of a model given as a file (default: its stem)\n"
    "  --version-policy P     latest (default), latest:N, all, specific:1,3\n"
    "  --label M:L=V          TF Serving label L of model M is version V (M '*': all)\n"
    "  --poll-seconds S       re-read the repository every S seconds (default 0: off)\n"
    "  --steps A,B            compose objects of multi-object pickles, e.g. scaler,model\n"
    "  --no-verify            .tiffin bundles: skip replaying the reference cases\n"
    "  --max-body-bytes N     larger requests get 413 (default 67108864)\n"
    "  --request-timeout-ms N a request not read within N ms is dropped (default 30000)\n"
    "  --max-in-flight N      more requests get 503 + Retry-After (default 1024)\n"
    "  --max-batch-size N     dynamic batching up to N rows (default 0: off)\n"
    "  --max-queue-delay-us N longest wait to fill a batch (default 100)\n"
    "  (a model's config.pbtxt may set its own version policy, batching and\n"
    "   labels, in Triton's format; see docs/serving.md)\n"
    "  --drain-timeout-ms N   longest wait for requests on SIGTERM (default 30000)\n"
    "  --inline               run each request on the thread that read it (one event\n"
    "                         loop per thread, no worker pool): faster for small\n"
    "                         models; keep the default for slow models and batching\n"
    "  --redact-errors        leave input values out of error messages\n"
    "  --log-requests         one JSON log line per request\n"
    "  KServe's flags work too: --model_name, --model_dir (for PATH), --http_port\n"
    "  endpoints: /v2/... (Open Inference Protocol), /v1/models/... (TF Serving),\n"
    "  /invocations /ping (MLflow), /metrics (Prometheus); see docs/serving.md\n";

bool ParseCount(const std::string& flag, const std::string& v, long long lo, long long hi,
                long long* out) {
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < lo || n > hi) {
    std::fprintf(stderr, "tiffin serve: %s needs an integer in [%lld, %lld], got '%s'\n",
                 flag.c_str(), lo, hi, v.c_str());
    return false;
  }
  *out = n;
  return true;
}

}  // namespace

int Serve(const std::vector<std::string>& argv) {
  const auto t_start = std::chrono::steady_clock::now();
  if (!InstallStopSignals()) {
    std::fprintf(stderr, "tiffin serve: cannot install the SIGTERM handler: %s\n",
                 std::strerror(errno));
    return 1;
  }
  std::map<std::string, std::string> values;
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::string> positional;
  bool log_requests = false, redact = false, no_verify = false;
  const std::vector<std::string> with_value = {"--http-port",
                                               "--http_port",
                                               "--port",
                                               "--host",
                                               "--threads",
                                               "--io-threads",
                                               "--model-name",
                                               "--model_name",
                                               "--model-dir",
                                               "--model_dir",
                                               "--version-policy",
                                               "--label",
                                               "--poll-seconds",
                                               "--steps",
                                               "--max-body-bytes",
                                               "--request-timeout-ms",
                                               "--max-in-flight",
                                               "--max-batch-size",
                                               "--max-queue-delay-us",
                                               "--drain-timeout-ms",
                                               "--grpc_port",
                                               "--grpc-port"};
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stderr);
      return 0;
    }
    if (a == "--log-requests") {
      log_requests = true;
      continue;
    }
    if (a == "--redact-errors") {
      redact = true;
      continue;
    }
    if (a == "--inline") {
      values["--inline"] = "1";
      continue;
    }
    if (a == "--no-verify") {
      no_verify = true;
      continue;
    }
    if (a.rfind("--", 0) == 0) {
      std::string key = a, value;
      size_t eq = a.find('=');
      bool has_value = eq != std::string::npos;
      if (has_value) {
        key = a.substr(0, eq);
        value = a.substr(eq + 1);
      }
      if (std::find(with_value.begin(), with_value.end(), key) == with_value.end()) {
        std::fprintf(stderr, "tiffin serve: unknown option '%s'\n\n%s", key.c_str(), kUsage);
        return 2;
      }
      if (!has_value) {
        if (i + 1 >= argv.size()) {
          std::fprintf(stderr, "tiffin serve: %s needs a value\n", key.c_str());
          return 2;
        }
        value = argv[++i];
      }
      for (char& c : key) c = c == '_' ? '-' : c;
      if (key == "--label") {
        labels.emplace_back(key, value);
      } else {
        values[key] = value;
      }
      continue;
    }
    positional.push_back(a);
  }
  std::string path = positional.empty() ? values["--model-dir"] : positional[0];
  if (path.empty() || positional.size() > 1) {
    std::fputs(kUsage, stderr);
    return 2;
  }

  server::HttpOptions http;
  server::RepositoryOptions repo_options;
  server::ServiceOptions service_options;
  long long n = 0;
  auto count = [&](const char* flag, long long lo, long long hi, auto setter) {
    auto it = values.find(flag);
    if (it == values.end()) return true;
    if (!ParseCount(flag, it->second, lo, hi, &n)) return false;
    setter(n);
    return true;
  };
  int poll_seconds = 0;
  if (!count("--http-port", 0, 65535, [&](long long v) { http.port = static_cast<int>(v); }) ||
      !count("--port", 0, 65535, [&](long long v) { http.port = static_cast<int>(v); }) ||
      !count("--threads", 1, 1024,
             [&](long long v) { http.worker_threads = static_cast<int>(v); }) ||
      !count("--io-threads", 1, 64, [&](long long v) { http.io_threads = static_cast<int>(v); }) ||
      !count("--max-body-bytes", 1024, 1LL << 40,
             [&](long long v) { http.max_body_bytes = static_cast<size_t>(v); }) ||
      !count("--request-timeout-ms", 1, 86400000,
             [&](long long v) { http.request_timeout_ms = static_cast<int>(v); }) ||
      !count("--max-in-flight", 1, 1 << 20,
             [&](long long v) { http.max_in_flight = static_cast<int>(v); }) ||
      !count("--drain-timeout-ms", 0, 86400000,
             [&](long long v) { http.drain_timeout_ms = static_cast<int>(v); }) ||
      !count("--poll-seconds", 0, 86400,
             [&](long long v) { poll_seconds = static_cast<int>(v); }) ||
      !count("--max-batch-size", 0, 1 << 20,
             [&](long long v) { repo_options.batching.max_batch_size = static_cast<int>(v); }) ||
      !count("--max-queue-delay-us", 0, 10000000, [&](long long v) {
        repo_options.batching.max_queue_delay_us = static_cast<int>(v);
      })) {
    return 2;
  }
  if (values.count("--host")) http.host = values["--host"];
  http.inline_handlers = values.count("--inline") > 0;
  repo_options.path = path;
  repo_options.model_name = values["--model-name"];
  repo_options.load.steps = SplitSteps(values["--steps"]);
  repo_options.load.verify = !no_verify;
  repo_options.log = LogLine;
  if (values.count("--version-policy")) {
    auto p = server::ParseVersionPolicy(values["--version-policy"]);
    if (!p.ok()) {
      std::fprintf(stderr, "tiffin serve: %s\n", p.status().message().c_str());
      return 2;
    }
    repo_options.policy = *p;
  }
  for (const auto& [flag, v] : labels) {
    size_t colon = v.find(':'), eq = v.find('=');
    long long ver = 0;
    if (colon == std::string::npos || eq == std::string::npos || eq < colon ||
        !ParseCount("--label", v.substr(eq + 1), 0, 1LL << 62, &ver)) {
      std::fprintf(stderr, "tiffin serve: --label '%s' must be MODEL:LABEL=VERSION\n", v.c_str());
      return 2;
    }
    repo_options.labels[v.substr(0, colon)][v.substr(colon + 1, eq - colon - 1)] = ver;
  }
  service_options.redact_errors = redact;

  server::Repository repo(repo_options);
  Status init = repo.Init();
  if (!init.ok()) {
    LogLine("error", "startup_failed", "\"error\":" + JsonQuote(init.ToString()));
    std::fprintf(stderr, "tiffin serve: %s\n", init.ToString().c_str());
    return 1;
  }
  server::Service service(&repo, service_options);
  http.on_event = [](const std::string& event, const std::string& detail) {
    LogLine("info", event, detail.empty() ? "" : "\"detail\":" + JsonQuote(detail));
  };
  if (log_requests) {
    http.on_response = [](const server::HttpRequest& req, const server::HttpResponse& res,
                          double us) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1f", us);
      LogLine(res.status >= 500   ? "error"
              : res.status >= 400 ? "warning"
                                  : "info",
              "request",
              "\"method\":" + JsonQuote(req.method) + ",\"path\":" + JsonQuote(req.target) +
                  ",\"status\":" + std::to_string(res.status) +
                  ",\"bytes_in\":" + std::to_string(req.body.size()) + ",\"us\":" + buf);
    };
  }
  auto listening = server::HttpServer::Listen(
      http, [&service](const server::HttpRequest& r) { return service.Handle(r); });
  if (!listening.ok()) {
    LogLine("error", "startup_failed", "\"error\":" + JsonQuote(listening.status().ToString()));
    return 1;
  }
  auto& srv = *listening;
  std::string models;
  for (const auto& m : repo.Models()) {
    for (const auto& [v, sv] : m->versions) {
      if (!models.empty()) models += ',';
      models += JsonQuote(m->name + "/" + std::to_string(v));
    }
  }
  char ms[32];
  std::snprintf(
      ms, sizeof ms, "%.1f",
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_start)
          .count());
  LogLine("info", "ready",
          "\"host\":" + JsonQuote(http.host) + ",\"port\":" + std::to_string(srv->port()) +
              ",\"models\":[" + models + "],\"startup_ms\":" + ms);

  std::mutex poll_mu;
  std::condition_variable poll_cv;
  bool stop_poll = false;
  std::thread poller;
  if (poll_seconds > 0) {
    poller = std::thread([&] {
      std::unique_lock<std::mutex> lock(poll_mu);
      while (
          !poll_cv.wait_for(lock, std::chrono::seconds(poll_seconds), [&] { return stop_poll; })) {
        lock.unlock();
        repo.Poll();
        lock.lock();
      }
    });
  }
  // Signals that arrived while the models loaded are in the pipe already: the
  // server then drains as soon as it runs.
  std::thread stopper([&srv] {
    bool stopping = false;
    for (;;) {
      char c = 0;
      const ssize_t got = read(g_signal_pipe[0], &c, 1);
      if (got < 0 && errno == EINTR) continue;
      if (got != 1 || c == 0) return;  // c == 0: the server has stopped
      if (stopping) continue;
      stopping = true;
      LogLine("info", "signal",
              std::string("\"detail\":") + (c == SIGINT ? "\"SIGINT\"" : "\"SIGTERM\""));
      srv->Stop();
    }
  });
  srv->Run(/*handle_signals=*/false);
  const char done = 0;
  ssize_t wrote = write(g_signal_pipe[1], &done, 1);
  (void)wrote;
  stopper.join();
  {
    std::lock_guard<std::mutex> lock(poll_mu);
    stop_poll = true;
  }
  poll_cv.notify_all();
  if (poller.joinable()) poller.join();
  LogLine("info", "exit", "\"code\":0");
  return 0;
}

}  // namespace tiffin::cli
