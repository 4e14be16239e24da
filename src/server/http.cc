#include "server/http.h"

#include "core/json.h"

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

namespace tiffin::server {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < k.size() && same; ++i)
      same = std::tolower(static_cast<unsigned char>(k[i])) ==
             std::tolower(static_cast<unsigned char>(name[i]));
    if (same) return v;
  }
  return "";
}

namespace {

class Session;

}  // namespace

class HttpServer::Impl {
 public:
  Impl(HttpOptions options, HttpHandler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        acceptor_(ioc_),
        pool_(static_cast<size_t>(options_.worker_threads)),
        guard_(net::make_work_guard(ioc_)),
        drain_timer_(ioc_) {
    if (options_.inline_handlers) {
      for (int i = 0; i < options_.io_threads; ++i) {
        session_iocs_.push_back(std::make_unique<net::io_context>(1));
        session_guards_.push_back(net::make_work_guard(*session_iocs_.back()));
      }
    }
  }

  Status Bind() {
    boost::system::error_code ec;
    auto address = net::ip::make_address(options_.host, ec);
    if (ec) {
      return InvalidArgument("--host '" + options_.host +
                             "' is not an IP address (use 127.0.0.1 or 0.0.0.0)");
    }
    tcp::endpoint ep(address, static_cast<unsigned short>(options_.port));
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return InvalidArgument("cannot listen on " + options_.host + ":" +
                             std::to_string(options_.port) + ": " + ec.message() +
                             " (is another server on that port? pick one with --http-port)");
    }
    port_ = acceptor_.local_endpoint().port();
    return Status::Ok();
  }

  void Run(bool handle_signals) {
    std::optional<net::signal_set> signals;
    if (handle_signals) {
      signals.emplace(ioc_, SIGINT, SIGTERM);
      signals->async_wait([this](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        Event("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        BeginStop();
      });
    }
    signals_ = signals ? &*signals : nullptr;
    Accept();
    Event("listening", options_.host + ":" + std::to_string(port_));
    std::vector<std::thread> io;
    if (options_.inline_handlers) {
      // One context per thread, each with its own connections: a request is
      // read, run and answered on one thread with no hand-off (nginx's
      // worker model). ioc_ keeps the acceptor, signals and drain timer.
      for (auto& c : session_iocs_) io.emplace_back([c = c.get()] { c->run(); });
    } else {
      for (int i = 1; i < options_.io_threads; ++i) io.emplace_back([this] { ioc_.run(); });
    }
    ioc_.run();
    session_guards_.clear();  // drained (or timed out): let the session threads end
    for (auto& c : session_iocs_) {
      if (stopping_ && drain_timed_out_) c->stop();
    }
    for (auto& t : io) t.join();
    pool_.join();
    signals_ = nullptr;
    Event("stopped", "");
  }

  void Stop() {
    net::post(ioc_, [this] { BeginStop(); });
  }

  // Called on the I/O context.
  void BeginStop() {
    if (stopping_.exchange(true)) return;
    Event("draining", std::to_string(in_flight_.load()) + " requests in flight");
    boost::system::error_code ec;
    acceptor_.close(ec);
    if (signals_) signals_->cancel(ec);
    drain_deadline_ =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.drain_timeout_ms);
    ShutdownSessions();
    CheckDrained();
  }

  void CheckDrained();
  void ShutdownSessions();
  void Accept();

  void Event(const std::string& event, const std::string& detail) {
    if (options_.on_event) options_.on_event(event, detail);
  }

  void Register(Session* s, std::weak_ptr<Session> w) {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    sessions_[s] = std::move(w);
  }
  void Unregister(Session* s) {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    sessions_.erase(s);
  }
  size_t SessionCount() {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    return sessions_.size();
  }

  HttpOptions options_;
  HttpHandler handler_;
  net::io_context ioc_;
  // --inline: one I/O context per thread for the connections (see Run).
  std::vector<std::unique_ptr<net::io_context>> session_iocs_;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> session_guards_;
  size_t next_session_ioc_ = 0;
  bool drain_timed_out_ = false;
  tcp::acceptor acceptor_;
  net::thread_pool pool_;
  net::executor_work_guard<net::io_context::executor_type> guard_;
  net::steady_timer drain_timer_;
  net::signal_set* signals_ = nullptr;
  std::chrono::steady_clock::time_point drain_deadline_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> in_flight_{0};
  // Moving average of the handler's time; starts high so that nothing runs on
  // an I/O thread before requests are known to be cheap.
  std::atomic<int64_t> handler_ns_{1000000};
  int port_ = 0;
  std::mutex sessions_mu_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl* server)
      : stream_(std::move(socket)), server_(server) {}
  ~Session() { server_->Unregister(this); }

  void Start() {
    server_->Register(this, weak_from_this());
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

  // On shutdown: close now when idle, after the current response otherwise.
  void Shutdown() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      self->closing_ = true;
      if (!self->busy_) {
        boost::system::error_code ec;
        self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
        self->stream_.socket().close(ec);
      }
    });
  }

 private:
  const HttpOptions& options() const { return server_->options_; }

  void Read() {
    if (closing_) return Close();
    parser_.emplace();
    parser_->body_limit(options().max_body_bytes);
    parser_->header_limit(64 * 1024);
    stream_.expires_after(std::chrono::milliseconds(options().request_timeout_ms));
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  // Answers "Expect: 100-continue" (curl sends it for bodies over 1 KiB and
  // otherwise waits a second), then reads the body.
  void OnHeader(beast::error_code ec) {
    if (ec || parser_->is_done()) return OnRead(ec);
    const auto& h = parser_->get();
    if (beast::iequals(h[bhttp::field::expect], "100-continue")) {
      continue_ = std::make_unique<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_,
                                                                       h.version());
      bhttp::async_write(stream_, *continue_,
                         [self = shared_from_this()](beast::error_code e, size_t) {
                           if (e) return self->Close();
                           self->ReadBody();
                         });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == net::error::operation_aborted ||
        ec == beast::error::timeout || ec == net::error::connection_reset ||
        ec == net::error::eof) {
      return Close();
    }
    if (ec == bhttp::error::body_limit) {
      return WriteError(413, "request body over the limit of " +
                                 std::to_string(options().max_body_bytes) +
                                 " bytes (raise it with --max-body-bytes)");
    }
    if (ec == bhttp::error::header_limit) {
      return WriteError(431, "request headers over 64 KiB");
    }
    if (ec) {
      return WriteError(400, "malformed HTTP request: " + ec.message());
    }
    auto msg = parser_->release();
    auto req = std::make_shared<HttpRequest>();
    req->received = std::chrono::steady_clock::now();
    req->method = std::string(msg.method_string());
    req->target = std::string(msg.target());
    for (const auto& f : msg) req->headers.emplace_back(f.name_string(), f.value());
    req->body = std::move(msg.body());
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();
    const int before = server_->in_flight_.fetch_add(1);
    if (before >= options().max_in_flight) {
      server_->in_flight_.fetch_sub(1);
      HttpResponse r;
      r.status = 503;
      r.body = "{\"error\":\"server busy: " + std::to_string(options().max_in_flight) +
               " requests in flight (--max-in-flight); retry\"}";
      r.headers.emplace_back("Retry-After", "1");
      return Write(std::move(r), req, /*counted=*/false);
    }
    busy_ = true;
    // The only request, and requests have been cheap: answer it on this
    // thread, since handing it to a worker and back costs two thread wake-ups
    // (about as much as a small model's whole run).
    const bool alone_and_cheap =
        before == 0 && server_->handler_ns_.load(std::memory_order_relaxed) < kInlineBelowNs;
    if (options().inline_handlers || alone_and_cheap) {
      HttpResponse r = Call(*req);
      return Write(std::move(r), req, true);
    }
    net::post(server_->pool_, [self = shared_from_this(), req] {
      HttpResponse r = self->Call(*req);
      net::post(self->stream_.get_executor(),
                [self, req, r = std::move(r)]() mutable { self->Write(std::move(r), req, true); });
    });
  }

  static constexpr int64_t kInlineBelowNs = 50000;

  // Runs the handler; keeps a moving average of its time.
  HttpResponse Call(HttpRequest& req) {
    req.started = std::chrono::steady_clock::now();
    HttpResponse r;
    try {
      r = server_->handler_(req);
    } catch (const std::exception& e) {
      r.status = 500;
      r.body = "{\"error\":\"internal error\"}";
    }
    const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::steady_clock::now() - req.started)
                           .count();
    const int64_t avg = server_->handler_ns_.load(std::memory_order_relaxed);
    server_->handler_ns_.store(avg + (ns - avg) / 8, std::memory_order_relaxed);
    return r;
  }

  void WriteError(int status, const std::string& message) {
    HttpResponse r;
    r.status = status;
    r.body = "{\"error\":" + JsonQuote(message) + "}";
    keep_alive_ = false;
    version_ = 11;
    auto req = std::make_shared<HttpRequest>();
    req->received = req->started = std::chrono::steady_clock::now();
    Write(std::move(r), req, false);
  }

  // Writes the response as one status line and header block plus the body,
  // with one gathered write (Beast's serializer allocated a node per header
  // field and walked a buffer sequence per field on every response).
  void Write(HttpResponse r, std::shared_ptr<HttpRequest> req, bool counted) {
    busy_ = true;
    const bool keep = keep_alive_ && !closing_ && r.status != 413 && !server_->stopping_;
    const bool head = req->method == "HEAD";  // the GET answer's headers, no body
    std::string& h = head_;
    h.clear();
    h += version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    h += std::to_string(r.status);
    h += ' ';
    const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(r.status));
    h.append(reason.data(), reason.size());
    h += "\r\nServer: tiffin\r\nContent-Type: ";
    h += r.content_type;
    h += "\r\nContent-Length: ";
    h += std::to_string(r.body.size());
    h += "\r\n";
    for (const auto& [k, v] : r.headers) {
      h += k;
      h += ": ";
      h += v;
      h += "\r\n";
    }
    if (version_ == 10 && keep) h += "Connection: keep-alive\r\n";
    if (version_ != 10 && !keep) h += "Connection: close\r\n";
    h += "\r\n";
    body_ = std::move(r.body);
    if (head) body_.clear();
    if (server_->options_.on_response && !req->method.empty()) {
      double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() -
                                                            req->received)
                      .count();
      server_->options_.on_response(*req, r, us);
    }
    stream_.expires_after(std::chrono::milliseconds(options().request_timeout_ms));
    const std::array<net::const_buffer, 2> bufs{net::buffer(head_), net::buffer(body_)};
    net::async_write(stream_, bufs,
                     [self = shared_from_this(), keep, counted](beast::error_code ec, size_t) {
                       if (counted) self->server_->in_flight_.fetch_sub(1);
                       self->busy_ = false;
                       if (ec) return self->Close();
                       if (!keep) return self->Linger();
                       self->Read();
                     });
  }

  // After an error response on a connection whose request was not read to
  // its end: stop sending, read and drop what the client still sends (so its
  // kernel does not reset the connection before it reads the response).
  void Linger() {
    boost::system::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Close();
    stream_.expires_after(std::chrono::seconds(2));
    Discard();
  }
  void Discard() {
    buffer_.consume(buffer_.size());
    stream_.async_read_some(buffer_.prepare(64 * 1024),
                            [self = shared_from_this()](beast::error_code e, size_t n) {
                              if (e) return self->Close();
                              self->linger_bytes_ += n;
                              if (self->linger_bytes_ > (size_t{256} << 20)) return self->Close();
                              self->Discard();
                            });
  }

  void Close() {
    boost::system::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string head_;  // the response being written: status line and headers
  std::string body_;
  std::unique_ptr<bhttp::response<bhttp::empty_body>> continue_;
  HttpServer::Impl* server_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
  bool busy_ = false;
  bool closing_ = false;
  size_t linger_bytes_ = 0;
};

}  // namespace

void HttpServer::Impl::Accept() {
  // Each connection lives on one executor: a strand of the shared context,
  // or (--inline) the next per-thread context in turn.
  auto executor =
      session_iocs_.empty()
          ? net::any_io_executor(net::make_strand(ioc_))
          : net::any_io_executor(
                session_iocs_[next_session_ioc_++ % session_iocs_.size()]->get_executor());
  acceptor_.async_accept(executor, [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (stopping_) return;
      return Accept();
    }
    if (stopping_) return;
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::make_shared<Session>(std::move(socket), this)->Start();
    Accept();
  });
}

void HttpServer::Impl::ShutdownSessions() {
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    for (auto& [p, w] : sessions_)
      if (auto s = w.lock()) live.push_back(std::move(s));
  }
  for (auto& s : live) s->Shutdown();
}

void HttpServer::Impl::CheckDrained() {
  if ((SessionCount() == 0 && in_flight_ == 0) ||
      std::chrono::steady_clock::now() > drain_deadline_) {
    guard_.reset();
    if (SessionCount() != 0 || in_flight_ != 0) {
      Event("drain_timeout", std::to_string(in_flight_.load()) + " requests still in flight");
      drain_timed_out_ = true;
      ioc_.stop();
    }
    return;
  }
  // Sessions that became idle since the last pass (their response written).
  ShutdownSessions();
  drain_timer_.expires_after(std::chrono::milliseconds(10));
  drain_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) CheckDrained();
  });
}

Result<std::unique_ptr<HttpServer>> HttpServer::Listen(HttpOptions options, HttpHandler handler) {
  if (options.worker_threads <= 0) {
    options.worker_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  if (options.io_threads <= 0) options.io_threads = 1;
  if (options.inline_handlers) options.io_threads = options.worker_threads;
  auto impl = std::make_unique<Impl>(std::move(options), std::move(handler));
  TIFFIN_RETURN_IF_ERROR(impl->Bind());
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() = default;
int HttpServer::port() const { return impl_->port_; }
void HttpServer::Run(bool handle_signals) { impl_->Run(handle_signals); }
void HttpServer::Stop() { impl_->Stop(); }
int HttpServer::in_flight() const { return impl_->in_flight_.load(); }

}  // namespace tiffin::server
