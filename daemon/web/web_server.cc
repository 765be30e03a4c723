#include "daemon/web/web_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>
#include <thread>
#include <unordered_set>
#include <utility>

#include "absl/status/status.h"

namespace promfeed::web {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto kIdleTimeout = std::chrono::seconds(30);  // Per read and per write.
constexpr size_t kMaxRequestBody = 64 * 1024;  // Our endpoints take no body worth the name.

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// "host:port" or "[v6]:port" -> endpoint; an empty host means every interface.
absl::StatusOr<tcp::endpoint> ParseAddress(const std::string& address) {
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError("web listen address '" + address + "': " + std::string(why) +
                                      "; write host:port, e.g. 127.0.0.1:9400 or [::]:9400");
  };
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return bad("missing :port");
  std::string host = address.substr(0, colon);
  const std::string port_text = address.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(),
                   [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoi(port_text) > 65535) {
    return bad("port must be a number from 0 to 65535");
  }
  const auto port = static_cast<unsigned short>(std::stoi(port_text));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) return tcp::endpoint(tcp::v4(), port);
  boost::system::error_code ec;
  asio::ip::address ip = asio::ip::make_address(host, ec);
  if (!ec) return tcp::endpoint(ip, port);
  // A host name: take its first address.
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(host, port_text, ec);
  if (ec || results.empty()) return bad("cannot resolve host '" + host + "': " + ec.message());
  return results.begin()->endpoint();
}

}  // namespace

class Session;

struct WebServer::Impl : std::enable_shared_from_this<WebServer::Impl> {
  // Declared before ioc: destroying ioc destroys queued handlers, whose sessions unregister.
  std::unordered_set<Session*> sessions;  // Server thread only.
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::vector<Route> routes;
  std::thread thread;
  std::atomic<bool> stopped{false};
  int port = 0;

  void Accept();
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, WebServer::Impl* server, std::weak_ptr<WebServer::Impl> owner)
      : stream_(std::move(socket)), server_(server), owner_(std::move(owner)) {}
  ~Session() { server_->sessions.erase(this); }

  void Begin() {
    server_->sessions.insert(this);
    Read();
  }
  void Close() {
    self_hold_.reset();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(kMaxRequestBody);
    stream_.expires_after(kIdleTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream) {
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      return;
    }
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      Write({.status = 413, .body = "request body over 64 KiB\n"});
      return;
    }
    if (ec) return;  // Timeout, reset or a malformed request: drop the connection.
    http::request<http::string_body> req = parser_->release();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    Request request;
    request.method = std::string(req.method_string());
    const std::string_view target(req.target().data(), req.target().size());
    request.path = std::string(target.substr(0, target.find('?')));
    request.body = std::move(req.body());
    head_ = request.method == "HEAD";
    spdlog::debug("web request method={} path={}", request.method, request.path);

    const Route* route = nullptr;
    for (const Route& r : server_->routes) {
      if (r.path == request.path) route = &r;
    }
    if (route == nullptr) {
      Write({.status = 404, .body = "not found: " + request.path + "\n"});
      return;
    }
    if (std::find(route->methods.begin(), route->methods.end(), request.method) ==
        route->methods.end()) {
      allow_ = Join(route->methods);
      Write({.status = 405,
             .body =
                 request.method + " is not allowed on " + request.path + "; use " + allow_ + "\n"});
      return;
    }
    // The responder may run on any thread: it hops back onto the server thread. Until it
    // does, the session keeps itself alive (broken by the write or by Stop).
    self_hold_ = shared_from_this();
    route->handler(request, [weak_self = weak_from_this(), weak = owner_](Response res) {
      // Holding the Impl keeps its io_context alive while posting.
      const std::shared_ptr<WebServer::Impl> owner = weak.lock();
      if (owner == nullptr || owner->stopped.load()) return;
      asio::post(owner->ioc, [weak_self, res = std::move(res)]() mutable {
        if (std::shared_ptr<Session> self = weak_self.lock()) self->Write(std::move(res));
      });
    });
  }

  void Write(Response response) {
    std::shared_ptr<Session> hold = std::move(self_hold_);
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), version_);
    res->set(http::field::server, "promfeed");
    res->set(http::field::content_type, response.content_type);
    if (!allow_.empty()) res->set(http::field::allow, allow_);
    allow_.clear();
    res->keep_alive(keep_alive_);
    const size_t size = response.body.size();
    if (!head_) res->body() = std::move(response.body);
    res->content_length(size);
    stream_.expires_after(kIdleTimeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec) return;
                        if (!self->keep_alive_) {
                          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
                          return;
                        }
                        self->Read();
                      });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  WebServer::Impl* const server_;
  // Weak: queued handlers own sessions and the Impl owns the queue.
  const std::weak_ptr<WebServer::Impl> owner_;
  bool keep_alive_ = false;
  bool head_ = false;
  unsigned version_ = 11;
  std::string allow_;
  std::shared_ptr<Session> self_hold_;  // Set while a handler has not answered yet.
};

void WebServer::Impl::Accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec != asio::error::operation_aborted) {
        spdlog::warn("web accept failed error={}", ec.message());
        Accept();
      }
      return;
    }
    std::make_shared<Session>(std::move(socket), this, weak_from_this())->Begin();
    Accept();
  });
}

std::function<void(const Request&, Respond)> Sync(std::function<Response(const Request&)> fn) {
  return [fn = std::move(fn)](const Request& req, Respond respond) { respond(fn(req)); };
}

absl::StatusOr<std::unique_ptr<WebServer>> WebServer::Start(const std::string& address,
                                                            std::vector<Route> routes) {
  absl::StatusOr<tcp::endpoint> endpoint = ParseAddress(address);
  if (!endpoint.ok()) return endpoint.status();
  auto impl = std::make_shared<Impl>();
  impl->routes = std::move(routes);
  beast::error_code ec;
  impl->acceptor.open(endpoint->protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(*endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError("web listener: cannot listen on " + address + ": " +
                                  ec.message() +
                                  " (set server.web_listen_address or --web.listen-address)");
  }
  impl->port = impl->acceptor.local_endpoint().port();
  impl->Accept();
  impl->thread = std::thread([ioc = &impl->ioc] { ioc->run(); });
  return std::unique_ptr<WebServer>(new WebServer(std::move(impl)));
}

WebServer::WebServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

WebServer::~WebServer() { Stop(); }

int WebServer::port() const { return impl_->port; }

void WebServer::Stop() {
  if (impl_->stopped.exchange(true)) return;
  asio::post(impl_->ioc, [impl = impl_.get()] {
    beast::error_code ec;
    impl->acceptor.close(ec);
    std::vector<std::shared_ptr<Session>> open;
    for (Session* s : impl->sessions) {
      if (std::shared_ptr<Session> held = s->weak_from_this().lock()) open.push_back(held);
    }
    for (const std::shared_ptr<Session>& s : open) s->Close();
    impl->ioc.stop();
  });
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace promfeed::web
