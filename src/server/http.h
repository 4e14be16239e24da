// A small HTTP/1.1 server on Boost.Beast/Asio: keep-alive connections read by
// a few I/O threads, requests handled on a fixed pool of worker threads (no
// thread per request or per connection).
//
// Limits: a request body over `max_body_bytes` is answered 413; a request that
// is not complete within `request_timeout_ms` of its first byte (or an idle
// keep-alive connection past it) is closed, which ends slow partial requests
// (slowloris); more than `max_in_flight` requests queued or running are
// answered 503 with Retry-After.
//
// Shutdown: Stop() (or SIGTERM/SIGINT when Run installs the handler) closes
// the listening socket, lets every request already read finish and get its
// response, closes idle connections, then Run returns.
//
// Thread safety: the handler is called from several worker threads at once.
#ifndef TIFFIN_SERVER_HTTP_H_
#define TIFFIN_SERVER_HTTP_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tiffin/status.h"

namespace tiffin::server {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // "/v2/models/m/infer?x=1"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // When the request was fully read, and when a worker picked it up.
  std::chrono::steady_clock::time_point received;
  std::chrono::steady_clock::time_point started;

  // The first header named `name` (case-insensitive), or "".
  std::string Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;         // 0: any free port (see HttpServer::port())
  int worker_threads = 0;  // 0: the number of CPUs
  int io_threads = 1;
  // Run the handler on the I/O thread that read the request (io_threads =
  // worker_threads) instead of handing it to the worker pool: one thread hop
  // less per request; requests beyond the threads wait in socket buffers
  // (so max_in_flight can only refuse when it is below worker_threads).
  bool inline_handlers = false;
  size_t max_body_bytes = size_t{64} << 20;
  int request_timeout_ms = 30000;
  int max_in_flight = 1024;
  int drain_timeout_ms = 30000;  // longest wait for requests at shutdown
  // Called once per request after the response is queued (for logs).
  std::function<void(const HttpRequest&, const HttpResponse&, double total_us)> on_response;
  // Called with a line of text for server events (listening, draining).
  std::function<void(const std::string& event, const std::string& detail)> on_event;
};

class HttpServer {
 public:
  // Binds and listens; errors name the address.
  static Result<std::unique_ptr<HttpServer>> Listen(HttpOptions options, HttpHandler handler);
  ~HttpServer();

  int port() const;  // the bound port

  // Serves until Stop() or, with `handle_signals`, SIGTERM/SIGINT; then drains.
  void Run(bool handle_signals);
  // Asks Run to stop accepting and drain. Safe from any thread.
  void Stop();

  // Requests read and not yet answered.
  int in_flight() const;

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tiffin::server

#endif  // TIFFIN_SERVER_HTTP_H_
