#include "daemon/upstream/http_client.h"

// <utility> before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it.
#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "daemon/model/duration.h"
#include "daemon/model/str_cat.h"
#include "daemon/upstream/errors.h"
#include "daemon/upstream/prom_json.h"

#ifndef PROMFEED_VERSION
#define PROMFEED_VERSION "dev"
#endif

namespace promfeed::upstream {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kUserAgent = "promfeed/" PROMFEED_VERSION;

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

void AppendFormEncoded(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (IsUnreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (s[i] == '%' && i + 2 < s.size() + 0 && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out.push_back(kAlphabet[(v >> k) & 63]);
  }
  if (i < in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) v |= uint8_t(in[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

struct ParsedUrl {
  bool https = false;
  std::string host;  // Without brackets for IPv6.
  std::string port;
  std::string host_header;  // host[:port] as sent in Host.
  std::string path_prefix;  // "" or "/prefix" (no trailing slash).
  std::string userinfo;     // Percent-decoded "user:pass", or "".
};

absl::StatusOr<ParsedUrl> ParseUrl(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        Cat("upstream.url: ", why, "; write it as http://host:port or https://host:port/prefix"));
  };
  ParsedUrl out;
  std::string_view rest = url;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    out.https = true;
    rest.remove_prefix(8);
  } else {
    return bad("scheme must be http or https");
  }
  const size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (!path.empty() && path[0] != '/') return bad("query strings and fragments are not allowed");
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    out.userinfo = PercentDecode(authority.substr(0, at));
    authority.remove_prefix(at + 1);
  }
  std::string_view host = authority, port;
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed '[' in IPv6 host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("expected ':' after ']'");
      port = after.substr(1);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return bad("missing host");
  if (!port.empty()) {
    for (char c : port) {
      if (c < '0' || c > '9') return bad(Cat("bad port \"", port, "\""));
    }
    if (port.size() > 5 || std::stoi(std::string(port)) > 65535 ||
        std::stoi(std::string(port)) == 0)
      return bad(Cat("bad port \"", port, "\""));
  }
  out.host = std::string(host);
  out.port = port.empty() ? (out.https ? "443" : "80") : std::string(port);
  const bool v6 = host.find(':') != std::string_view::npos;
  out.host_header = v6 ? Cat("[", host, "]") : std::string(host);
  if (!port.empty()) Append(&out.host_header, ":", port);
  while (path.ends_with("/")) path.remove_suffix(1);
  out.path_prefix = std::string(path);
  return out;
}

absl::Status Fail(absl::StatusCode code, FailureReason reason, std::string message) {
  return WithReason(absl::Status(code, message), reason);
}

}  // namespace

std::string FormUrlEncode(const FormParams& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out.push_back('&');
    AppendFormEncoded(out, name);
    out.push_back('=');
    AppendFormEncoded(out, value);
  }
  return out;
}

class HttpClient::Impl {
 public:
  Impl(const config::UpstreamConfig& config, HttpClientOptions options, ParsedUrl url)
      : config_(config), options_(options), url_(std::move(url)), resolver_(ioc_) {
    base_url_ = Cat(url_.https ? "https://" : "http://", url_.host_header, url_.path_prefix);
    if (!config_.bearer_token.empty()) {
      authorization_ = Cat("Bearer ", config_.bearer_token);
    } else if (config_.basic_auth) {
      authorization_ = Cat(
          "Basic ", Base64(Cat(config_.basic_auth->username, ":", config_.basic_auth->password)));
    } else if (!url_.userinfo.empty()) {
      authorization_ = Cat("Basic ", Base64(url_.userinfo));
    }
  }

  absl::Status InitTls() {
    if (!url_.https) return absl::OkStatus();
    const config::TlsConfig& tls = config_.tls_config;
    ssl_ctx_.emplace(ssl::context::tls_client);
    beast::error_code ec;
    ssl_ctx_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                              ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                              ssl::context::no_tlsv1_1,
                          ec);
    if (!tls.ca_file.empty()) {
      ssl_ctx_->load_verify_file(tls.ca_file, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            Cat("upstream.tls_config.ca_file ", tls.ca_file, ": ", ec.message()));
      }
    } else {
      ssl_ctx_->set_default_verify_paths(ec);
    }
    if (!tls.cert_file.empty() || !tls.key_file.empty()) {
      if (tls.cert_file.empty() || tls.key_file.empty()) {
        return absl::InvalidArgumentError(
            "upstream.tls_config: cert_file and key_file must be given together");
      }
      ssl_ctx_->use_certificate_chain_file(tls.cert_file, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            Cat("upstream.tls_config.cert_file ", tls.cert_file, ": ", ec.message()));
      }
      ssl_ctx_->use_private_key_file(tls.key_file, ssl::context::pem, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            Cat("upstream.tls_config.key_file ", tls.key_file, ": ", ec.message()));
      }
    }
    ssl_ctx_->set_verify_mode(tls.insecure_skip_verify ? ssl::verify_none : ssl::verify_peer);
    return absl::OkStatus();
  }

  absl::StatusOr<HttpResponse> Send(http::request<http::string_body> req,
                                    const BodyPieceFn* on_body = nullptr) {
    if (cancelled_.load()) return Cancelled(std::string(req.target()));
    std::optional<absl::StatusOr<HttpResponse>> result;
    asio::co_spawn(ioc_, Run(std::move(req), on_body),
                   [&result](std::exception_ptr e, absl::StatusOr<HttpResponse> r) {
                     if (e) {
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                         r = absl::InternalError(Cat("http client: ", ex.what()));
                       }
                     }
                     result = std::move(r);
                   });
    ioc_.restart();
    ioc_.run();
    if (!result) return absl::InternalError("http client: request did not complete");
    return *std::move(result);
  }

  http::request<http::string_body> NewRequest(http::verb verb, std::string_view target) {
    http::request<http::string_body> req;
    req.method(verb);
    req.version(11);
    req.target(Cat(url_.path_prefix, target.starts_with("/") ? "" : "/", target));
    req.set(http::field::host, url_.host_header);
    req.set(http::field::user_agent, std::string(kUserAgent));
    req.set(http::field::accept, "application/json");
    req.set(http::field::accept_encoding, "identity");
    if (!authorization_.empty()) req.set(http::field::authorization, authorization_);
    for (const auto& [name, value] : config_.headers) req.set(name, value);
    req.keep_alive(true);
    return req;
  }

  http::request<http::string_body> NewFormPost(std::string_view path, const FormParams& params) {
    http::request<http::string_body> req = NewRequest(http::verb::post, path);
    req.set(http::field::content_type, "application/x-www-form-urlencoded");
    req.body() = FormUrlEncode(params);
    req.prepare_payload();
    return req;
  }

  void Cancel() {
    cancelled_.store(true);
    asio::post(ioc_, [this] {
      // Close sockets, never destroy streams here: the request coroutine still holds them
      // and sees operation_aborted.
      resolver_.cancel();
      beast::error_code ec;
      if (connecting_ != nullptr) connecting_->socket().close(ec);
      if (tcp_) tcp_->socket().close(ec);
      if (tls_) beast::get_lowest_layer(*tls_).socket().close(ec);
    });
  }

  const std::string& base_url() const { return base_url_; }
  int64_t connections_opened() const { return connections_opened_.load(); }

 private:
  // The URL of `target` for messages: base URL plus path, without the query string.
  std::string UrlFor(std::string_view target) const {
    std::string_view path = target.substr(0, target.find('?'));
    return Cat(url_.https ? "https://" : "http://", url_.host_header, path);
  }

  absl::Status Cancelled(std::string_view target) const {
    return absl::CancelledError(Cat("request to ", UrlFor(target), " cancelled: shutting down"));
  }

  beast::tcp_stream& LowestLayer() { return tls_ ? beast::get_lowest_layer(*tls_) : *tcp_; }
  bool Connected() const { return tcp_ != nullptr || tls_ != nullptr; }

  void CloseConnection() {
    beast::error_code ec;
    if (tls_) beast::get_lowest_layer(*tls_).socket().close(ec);
    if (tcp_) tcp_->socket().close(ec);
    tls_.reset();
    tcp_.reset();
    buffer_.clear();
  }

  absl::Status IoError(std::string_view what, const beast::error_code& ec, std::string_view target,
                       FailureReason reason) {
    if (cancelled_.load()) return Cancelled(target);
    if (ec == beast::error::timeout || ec == asio::error::timed_out) {
      return Fail(absl::StatusCode::kUnavailable, FailureReason::kTimeout,
                  Cat("upstream ", UrlFor(target), " timed out after ",
                      FormatDurationMs(config_.timeout_ms), " (", what, ")"));
    }
    return Fail(absl::StatusCode::kUnavailable, reason,
                Cat("upstream ", UrlFor(target), ": ", what, ": ", ec.message()));
  }

  asio::awaitable<absl::Status> Connect(Clock::time_point deadline, std::string_view target) {
    Clock::time_point connect_deadline = deadline;
    if (options_.connect_timeout_ms > 0) {
      connect_deadline =
          std::min(deadline, Clock::now() + std::chrono::milliseconds(options_.connect_timeout_ms));
    }
    beast::error_code ec;
    // The resolver has no timeout of its own: a timer cancels it.
    asio::steady_timer timer(ioc_);
    timer.expires_at(connect_deadline);
    bool resolve_timed_out = false;
    timer.async_wait([this, &resolve_timed_out](beast::error_code wait_ec) {
      if (wait_ec) return;  // Cancelled: the resolve finished first.
      resolve_timed_out = true;
      resolver_.cancel();
    });
    tcp::resolver::results_type endpoints = co_await resolver_.async_resolve(
        url_.host, url_.port, asio::redirect_error(asio::use_awaitable, ec));
    timer.cancel();
    if (resolve_timed_out) ec = beast::error::timeout;
    if (ec) co_return IoError(Cat("resolving ", url_.host), ec, target, FailureReason::kConnect);

    auto stream = std::make_unique<beast::tcp_stream>(ioc_);
    stream->expires_at(connect_deadline);
    connecting_ = stream.get();
    co_await stream->async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
    connecting_ = nullptr;
    if (!ec && cancelled_.load()) ec = asio::error::operation_aborted;
    if (ec) co_return IoError("connect", ec, target, FailureReason::kConnect);
    ++connections_opened_;
    stream->socket().set_option(tcp::no_delay(true), ec);
    if (!url_.https) {
      tcp_ = std::move(stream);
      co_return absl::OkStatus();
    }
    auto tls =
        std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(*stream), *ssl_ctx_);
    const config::TlsConfig& cfg = config_.tls_config;
    const std::string& sni = cfg.server_name.empty() ? url_.host : cfg.server_name;
    beast::error_code addr_ec;
    asio::ip::make_address(sni, addr_ec);
    // SNI carries host names only, never IP literals (RFC 6066).
    if (addr_ec && !SSL_set_tlsext_host_name(tls->native_handle(), sni.c_str())) {
      co_return Fail(absl::StatusCode::kUnavailable, FailureReason::kConnect,
                     Cat("upstream ", UrlFor(target), ": cannot set TLS server name ", sni));
    }
    if (!cfg.insecure_skip_verify) tls->set_verify_callback(ssl::host_name_verification(sni));
    beast::get_lowest_layer(*tls).expires_at(connect_deadline);
    connecting_ = &beast::get_lowest_layer(*tls);
    co_await tls->async_handshake(ssl::stream_base::client,
                                  asio::redirect_error(asio::use_awaitable, ec));
    connecting_ = nullptr;
    if (!ec && cancelled_.load()) ec = asio::error::operation_aborted;
    if (ec) co_return IoError("TLS handshake", ec, target, FailureReason::kConnect);
    tls_ = std::move(tls);
    co_return absl::OkStatus();
  }

  template <typename Stream>
  asio::awaitable<beast::error_code> Write(Stream& stream, http::request<http::string_body>& req,
                                           Clock::time_point deadline) {
    beast::error_code ec;
    LowestLayer().expires_at(deadline);
    co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
    co_return ec;
  }

  // Reads the response into `out`; with `on_body`, a 2xx body goes there in pieces instead.
  // `got_some`: some of the response arrived (a stale connection yields nothing);
  // `keep_alive`: the connection may be reused.
  template <typename Stream>
  asio::awaitable<beast::error_code> Read(Stream& stream, Clock::time_point deadline,
                                          const BodyPieceFn* on_body, HttpResponse& out,
                                          bool& got_some, bool& keep_alive) {
    const uint64_t limit = static_cast<uint64_t>(config_.max_response_bytes);
    beast::error_code ec;
    // The header alone first, so that the body type can follow the status. Beast 1.74's eager
    // parse (what async_read does) would also drop the body_limit error when the body arrives
    // in the same read as the header.
    http::response_parser<http::empty_body> header;
    header.body_limit(limit);  // Else Beast's default (8 MB) fails a larger Content-Length.
    LowestLayer().expires_at(deadline);
    co_await http::async_read_header(stream, buffer_, header,
                                     asio::redirect_error(asio::use_awaitable, ec));
    got_some = header.got_some();
    if (ec) co_return ec;
    if (header.content_length() && *header.content_length() > limit) {
      co_return beast::error_code(http::error::body_limit);
    }
    out.status = static_cast<int>(header.get().result_int());
    out.content_type = std::string(header.get()[http::field::content_type]);
    if (on_body != nullptr && out.status / 100 == 2) {
      co_return co_await ReadPieces(stream, deadline, header, *on_body, keep_alive);
    }
    co_return co_await ReadWhole(stream, deadline, header, out, keep_alive);
  }

  // The body after `header` into out.body.
  template <typename Stream>
  asio::awaitable<beast::error_code> ReadWhole(Stream& stream, Clock::time_point deadline,
                                               http::response_parser<http::empty_body>& header,
                                               HttpResponse& out, bool& keep_alive) {
    http::response_parser<http::string_body> parser(std::move(header));
    parser.body_limit(static_cast<uint64_t>(config_.max_response_bytes));
    // The body's final size plus the decoder's padding up front: the body is neither regrown
    // while read nor copied afterwards to add the padding (a copy of a large body would
    // double the memory it takes).
    if (parser.content_length()) {
      parser.get().body().reserve(static_cast<size_t>(*parser.content_length()) + kJsonPadding);
    }
    beast::error_code ec;
    LowestLayer().expires_at(deadline);
    co_await http::async_read(stream, buffer_, parser,
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return ec;
    keep_alive = parser.get().keep_alive();
    out.body = std::move(parser.get().body());
    if (out.body.capacity() - out.body.size() < kJsonPadding) {
      out.body.reserve(out.body.size() + kJsonPadding);
    }
    co_return ec;
  }

  // The body after `header`, through piece_ to `on_body`.
  template <typename Stream>
  asio::awaitable<beast::error_code> ReadPieces(Stream& stream, Clock::time_point deadline,
                                                http::response_parser<http::empty_body>& header,
                                                const BodyPieceFn& on_body, bool& keep_alive) {
    http::response_parser<http::buffer_body> parser(std::move(header));
    parser.body_limit(static_cast<uint64_t>(config_.max_response_bytes));
    if (piece_ == nullptr) piece_ = std::make_unique<char[]>(kPieceSize);
    beast::error_code ec;
    while (!parser.is_done()) {
      parser.get().body().data = piece_.get();
      parser.get().body().size = kPieceSize;
      LowestLayer().expires_at(deadline);
      co_await http::async_read(stream, buffer_, parser,
                                asio::redirect_error(asio::use_awaitable, ec));
      if (ec == http::error::need_buffer) ec = {};  // piece_ is full.
      if (ec) co_return ec;
      const size_t n = kPieceSize - parser.get().body().size;
      try {
        on_body(std::string_view(piece_.get(), n));
      } catch (...) {
        CloseConnection();  // The rest of the body is still unread.
        throw;
      }
    }
    keep_alive = parser.get().keep_alive();
    co_return ec;
  }

  // True when `ec` on a reused connection means the server had closed it while idle.
  static bool IsStaleConnection(const beast::error_code& ec) {
    return ec == http::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == asio::error::connection_aborted || ec == ssl::error::stream_truncated;
  }

  // `on_body`: see PostFormStreaming; null for a whole body.
  asio::awaitable<absl::StatusOr<HttpResponse>> Run(http::request<http::string_body> req,
                                                    const BodyPieceFn* on_body) {
    const std::string target(req.target());
    const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(config_.timeout_ms);
    for (int attempt = 0;; ++attempt) {
      const bool reused = Connected();
      if (!reused) {
        absl::Status st = co_await Connect(deadline, target);
        if (!st.ok()) {
          CloseConnection();
          co_return st;
        }
      }
      // No co_await inside ?: (GCC 12 miscompiles it).
      beast::error_code ec;
      if (tls_) {
        ec = co_await Write(*tls_, req, deadline);
      } else {
        ec = co_await Write(*tcp_, req, deadline);
      }
      if (ec) {
        CloseConnection();
        if (reused && attempt == 0 && IsStaleConnection(ec) && !cancelled_.load()) continue;
        co_return IoError("sending request", ec, target, FailureReason::kConnect);
      }
      HttpResponse out;
      bool got_some = false, keep_alive = false;
      if (tls_) {
        ec = co_await Read(*tls_, deadline, on_body, out, got_some, keep_alive);
      } else {
        ec = co_await Read(*tcp_, deadline, on_body, out, got_some, keep_alive);
      }
      if (ec) {
        const bool got_nothing = !got_some;
        CloseConnection();
        if (reused && attempt == 0 && got_nothing && IsStaleConnection(ec) && !cancelled_.load()) {
          continue;
        }
        if (ec == http::error::body_limit) {
          co_return Fail(absl::StatusCode::kResourceExhausted, FailureReason::kLimit,
                         Cat("upstream ", UrlFor(target), ": response body exceeds ",
                             config_.max_response_bytes,
                             " bytes (upstream.max_response_bytes); query less data or raise "
                             "the limit"));
        }
        if (ec.category() == http::make_error_code(http::error::bad_version).category() &&
            ec != http::error::end_of_stream && ec != http::error::partial_message) {
          co_return Fail(
              absl::StatusCode::kDataLoss, FailureReason::kDecode,
              Cat("upstream ", UrlFor(target), ": malformed HTTP response: ", ec.message()));
        }
        co_return IoError("reading response", ec, target, FailureReason::kConnect);
      }
      if (!keep_alive) CloseConnection();
      co_return out;
    }
  }

  const config::UpstreamConfig config_;
  const HttpClientOptions options_;
  const ParsedUrl url_;
  std::string base_url_;
  std::string authorization_;
  asio::io_context ioc_{1};
  std::optional<ssl::context> ssl_ctx_;
  tcp::resolver resolver_;
  std::unique_ptr<beast::tcp_stream> tcp_;
  beast::tcp_stream* connecting_ = nullptr;  // The stream being connected, for Cancel().
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
  static constexpr size_t kPieceSize = 64 * 1024;
  std::unique_ptr<char[]> piece_;  // Where streamed bodies are read to; made on first use.
  std::atomic<bool> cancelled_{false};
  std::atomic<int64_t> connections_opened_{0};
};

absl::StatusOr<std::unique_ptr<HttpClient>> HttpClient::Create(const config::UpstreamConfig& config,
                                                               HttpClientOptions options) {
  absl::StatusOr<ParsedUrl> url = ParseUrl(config.url);
  if (!url.ok()) return url.status();
  if (config.timeout_ms <= 0) {
    return absl::InvalidArgumentError("upstream.timeout must be positive, e.g. 10s");
  }
  if (config.max_response_bytes <= 0) {
    return absl::InvalidArgumentError("upstream.max_response_bytes must be positive");
  }
  auto impl = std::make_unique<Impl>(config, options, *std::move(url));
  if (absl::Status st = impl->InitTls(); !st.ok()) return st;
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

absl::StatusOr<HttpResponse> HttpClient::Get(std::string_view target) {
  return impl_->Send(impl_->NewRequest(http::verb::get, target));
}

absl::StatusOr<HttpResponse> HttpClient::PostForm(std::string_view path, const FormParams& params) {
  return impl_->Send(impl_->NewFormPost(path, params));
}

absl::StatusOr<HttpResponse> HttpClient::PostFormStreaming(std::string_view path,
                                                           const FormParams& params,
                                                           BodyPieceFn on_body) {
  return impl_->Send(impl_->NewFormPost(path, params), &on_body);
}

void HttpClient::Cancel() { impl_->Cancel(); }
const std::string& HttpClient::base_url() const { return impl_->base_url(); }
int64_t HttpClient::connections_opened() const { return impl_->connections_opened(); }

}  // namespace promfeed::upstream
