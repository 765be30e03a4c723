// promfeed::native: the Python reader's StreamWindows transport in C++ (no Python here; the
// bindings are in native.cc, the module _promfeed_native).
//
// With grpcio, every message of a stream passes through Python twice (grpcio's receive, then
// the reader's queue), and each step needs the GIL that the reader's decoding and tf.data's
// threads also want. Here a C++ thread receives the stream's messages as raw bytes with the
// GIL released, into a small bounded queue (flow control still reaches the daemon); Python
// takes one message at a time as a zero-copy buffer (Message) and decodes it as before.
//
// Tested in C++ against the daemon's gRPC service: tests/unit/client/native_stream_test.cc.
#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace promfeed::native {

// One received message as one contiguous slice (refcounted; no copy when gRPC received it
// into a single slice).
class Message {
 public:
  explicit Message(grpc::Slice s) : slice_(std::move(s)) {}
  const uint8_t* data() const { return slice_.begin(); }
  size_t size() const { return slice_.size(); }

 private:
  grpc::Slice slice_;
};

class Channel {
 public:
  Channel(const std::string& target, const std::string& root_pem, const std::string& cert_pem,
          const std::string& key_pem, bool tls, int max_receive_bytes) {
    std::shared_ptr<grpc::ChannelCredentials> creds;
    if (tls) {
      grpc::SslCredentialsOptions o;
      o.pem_root_certs = root_pem;
      o.pem_cert_chain = cert_pem;
      o.pem_private_key = key_pem;
      creds = grpc::SslCredentials(o);
    } else {
      creds = grpc::InsecureChannelCredentials();
    }
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(max_receive_bytes);
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
    channel_ = grpc::CreateCustomChannel(target, creds, args);
  }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  std::shared_ptr<grpc::Channel> channel_;
};

// A server-streaming call read by its own thread into a queue of at most `capacity` messages.
class Stream {
 public:
  Stream(std::shared_ptr<grpc::Channel> channel, std::string method, std::string request,
         const std::vector<std::pair<std::string, std::string>>& metadata, bool wait_for_ready,
         size_t capacity)
      : capacity_(capacity < 1 ? 1 : capacity) {
    for (const auto& [k, v] : metadata) ctx_.AddMetadata(k, v);
    ctx_.set_wait_for_ready(wait_for_ready);
    grpc::Slice req(request.data(), request.size());
    thread_ = std::thread([this, ch = std::move(channel), m = std::move(method),
                           b = grpc::ByteBuffer(&req, 1)]() mutable { Run(ch, m, b); });
  }

  ~Stream() {
    Cancel();
    thread_.join();
  }

  // The next message; nullopt when none arrives within timeout_s (< 0: wait for ever) or
  // when the call ended with nothing left queued.
  std::unique_ptr<Message> Next(double timeout_s) {
    std::unique_lock lock(mu_);
    auto ready = [this] { return !queue_.empty() || ended_; };
    if (timeout_s < 0) {
      cv_.wait(lock, ready);
    } else if (!cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), ready)) {
      return nullptr;
    }
    if (queue_.empty()) return nullptr;
    auto m = std::move(queue_.front());
    queue_.pop_front();
    cv_.notify_all();  // room for the receiver
    return m;
  }

  bool Waiting() {
    std::lock_guard lock(mu_);
    return !queue_.empty();
  }
  bool Ended() {
    std::lock_guard lock(mu_);
    return ended_ && queue_.empty();
  }
  std::pair<int, std::string> Status() {
    std::lock_guard lock(mu_);
    return {static_cast<int>(status_.error_code()), status_.error_message()};
  }
  void Cancel() {
    {
      std::lock_guard lock(mu_);
      cancelled_ = true;
    }
    cv_.notify_all();
    ctx_.TryCancel();
  }
  // Receives the rest of the stream, dropping each message: (messages, bytes).
  std::pair<int64_t, int64_t> Drain() {
    int64_t n = 0, bytes = 0;
    while (auto m = Next(-1)) {
      ++n;
      bytes += static_cast<int64_t>(m->size());
    }
    return {n, bytes};
  }

 private:
  void Run(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
           grpc::ByteBuffer& request) {
    grpc::GenericStub stub(channel);
    grpc::CompletionQueue cq;
    auto await = [&cq] {
      void* tag;
      bool ok = false;
      return cq.Next(&tag, &ok) && ok;
    };
    auto call = stub.PrepareCall(&ctx_, method, &cq);
    call->StartCall(nullptr);
    if (await()) {
      call->WriteLast(request, grpc::WriteOptions(), nullptr);
      if (await()) {
        for (;;) {
          grpc::ByteBuffer bb;
          call->Read(&bb, nullptr);
          if (!await()) break;
          grpc::Slice s;
          if (!bb.DumpToSingleSlice(&s).ok()) break;
          if (!Push(std::make_unique<Message>(std::move(s)))) break;
        }
      }
    }
    grpc::Status st;
    call->Finish(&st, nullptr);
    await();
    cq.Shutdown();
    void* tag;
    bool ok;
    while (cq.Next(&tag, &ok)) {
    }
    {
      std::lock_guard lock(mu_);
      status_ = std::move(st);
      ended_ = true;
    }
    cv_.notify_all();
  }

  // Queues m, waiting while the queue is full; false once cancelled.
  bool Push(std::unique_ptr<Message> m) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return queue_.size() < capacity_ || cancelled_; });
    if (cancelled_) return false;
    queue_.push_back(std::move(m));
    cv_.notify_all();
    return true;
  }

  const size_t capacity_;
  grpc::ClientContext ctx_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Message>> queue_;
  bool ended_ = false, cancelled_ = false;
  grpc::Status status_;
  std::thread thread_;  // last: starts after every other member exists
};

}  // namespace promfeed::native
