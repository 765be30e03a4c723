#include "tests/unit/upstream/fake_http_server.h"

#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
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
