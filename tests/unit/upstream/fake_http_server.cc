#include "tests/unit/upstream/fake_http_server.h"

#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <thread>
#include <utility>

namespace promfeed::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

}  // namespace

struct FakeHttpServer::State {
  Handler handler;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::thread accept_thread;

  mutable std::mutex mu;
  mutable std::condition_variable cv;
  bool stopping = false;
  int connections = 0;
  std::vector<FakeRequest> requests;
  std::vector<std::shared_ptr<tcp::socket>> sockets;
  std::vector<std::thread> threads;

  void AcceptLoop() {
    for (;;) {
      auto socket = std::make_shared<tcp::socket>(ioc);
      beast::error_code ec;
      acceptor.accept(*socket, ec);
      std::lock_guard<std::mutex> lock(mu);
      if (ec || stopping) return;
      const int id = ++connections;
      sockets.push_back(socket);
      threads.emplace_back([this, socket, id] { Serve(*socket, id); });
    }
  }

  void Serve(tcp::socket& socket, int id) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      beast::error_code ec;
      http::read(socket, buffer, req, ec);
      if (ec) return;
      FakeRequest r;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      r.body = req.body();
      r.connection = id;
      for (const auto& field : req) {
        std::string name(field.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        r.headers[name] = std::string(field.value());
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        if (stopping) return;
        requests.push_back(r);
      }
      cv.notify_all();
      FakeResponse out = handler(r);
      if (out.hang) {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return stopping; });
        return;
      }
      if (out.chunked || out.piece_bytes > 0 || out.drop_after_body_bytes != std::string::npos) {
        if (!WriteByHand(socket, out, req.keep_alive())) return;
        continue;
      }
      http::response<http::string_body> res{static_cast<http::status>(out.status), 11};
      res.set(http::field::content_type, out.content_type);
      res.body() = std::move(out.body);
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      http::write(socket, res, ec);
      if (ec || !req.keep_alive()) return;
      if (out.drop_connection_after) {
        // shutdown only: the socket object stays valid for Stop(), which may touch it.
        ::shutdown(socket.native_handle(), SHUT_RDWR);
        return;
      }
    }
  }

  // Writes `out` as its chunked/piece_bytes/drop_after_body_bytes ask; false when the
  // connection is to be closed.
  bool WriteByHand(tcp::socket& socket, const FakeResponse& out, bool keep_alive) {
    std::string wire = "HTTP/1.1 " + std::to_string(out.status) +
                       " X\r\nContent-Type: " + out.content_type + "\r\n";
    if (out.chunked) {
      wire += "Transfer-Encoding: chunked\r\n";
    } else {
      wire += "Content-Length: " + std::to_string(out.body.size()) + "\r\n";
    }
    if (!keep_alive) wire += "Connection: close\r\n";
    wire += "\r\n";
    const size_t drop_at = std::min(out.drop_after_body_bytes, out.body.size());
    size_t wire_drop = std::string::npos;  // Where the wire is cut, if it is.
    if (out.chunked) {
      const size_t chunk = out.piece_bytes > 0 ? out.piece_bytes : out.body.size();
      for (size_t at = 0; at < out.body.size(); at += chunk) {
        const size_t n = std::min(chunk, out.body.size() - at);
        char size_hex[32];
        std::snprintf(size_hex, sizeof(size_hex), "%zx\r\n", n);
        wire += size_hex;
        if (drop_at >= at && drop_at < at + n) wire_drop = wire.size() + (drop_at - at);
        wire.append(out.body, at, n);
        wire += "\r\n";
      }
      wire += "0\r\n\r\n";
    } else {
      if (drop_at < out.body.size()) wire_drop = wire.size() + drop_at;
      wire += out.body;
    }
    if (out.drop_after_body_bytes == std::string::npos) wire_drop = std::string::npos;
    if (wire_drop != std::string::npos) wire.resize(wire_drop);
    beast::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    const size_t piece = out.piece_bytes > 0 ? out.piece_bytes : wire.size();
    for (size_t at = 0; at < wire.size(); at += piece) {
      if (at > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      asio::write(socket, asio::buffer(wire.data() + at, std::min(piece, wire.size() - at)), ec);
      if (ec) return false;
    }
    if (wire_drop != std::string::npos) {
      if (out.hang_instead_of_drop) {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return stopping; });
        return false;
      }
      ::shutdown(socket.native_handle(), SHUT_RDWR);
      return false;
    }
    return keep_alive;
  }
};

FakeHttpServer::FakeHttpServer(Handler handler) : state_(std::make_shared<State>()) {
  state_->handler = std::move(handler);
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  state_->acceptor.open(endpoint.protocol());
  state_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  state_->acceptor.bind(endpoint);
  state_->acceptor.listen();
  port_ = state_->acceptor.local_endpoint().port();
  state_->accept_thread = std::thread([s = state_.get()] { s->AcceptLoop(); });
}

FakeHttpServer::~FakeHttpServer() { Stop(); }

void FakeHttpServer::Stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->stopping) return;
    state_->stopping = true;
    // shutdown(2) wakes threads blocked in accept/read on these sockets.
    ::shutdown(state_->acceptor.native_handle(), SHUT_RDWR);
    for (auto& socket : state_->sockets) {
      ::shutdown(socket->native_handle(), SHUT_RDWR);
    }
  }
  state_->cv.notify_all();
  state_->accept_thread.join();
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    threads.swap(state_->threads);
  }
  for (std::thread& t : threads) t.join();
}

std::vector<FakeRequest> FakeHttpServer::requests() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->requests;
}

int FakeHttpServer::connections_accepted() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->connections;
}

bool FakeHttpServer::WaitForRequests(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(state_->mu);
  return state_->cv.wait_for(lock, timeout, [&] { return state_->requests.size() >= n; });
}

}  // namespace promfeed::testing
