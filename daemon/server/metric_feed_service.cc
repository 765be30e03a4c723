#include "daemon/server/metric_feed_service.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "daemon/model/selector.h"
#include "daemon/server/status_map.h"
#include "daemon/window/plan.h"
#include "daemon/window/window_cursor.h"

namespace promfeed::server {

static_assert(std::endian::native == std::endian::little,
              "the wire format is little-endian; add byte swapping for this platform");

namespace {

constexpr int64_t kHardMessageBytes = 3 << 20;  // Under gRPC's 4 MiB default receive limit.
constexpr int32_t kDefaultListLimit = 10'000;
constexpr int32_t kMaxListLimit = 1'000'000;

void FillSeries(const store::Series& s, v1::Series* out) {
  for (const Label& l : s.labels().items()) {
    v1::Label* label = out->add_labels();
    label->set_name(l.name);
    label->set_value(l.value);
  }
  const store::RingBuffer& ring = s.ring();
  out->set_samples_held(static_cast<int64_t>(ring.size()));
  if (ring.size() > 0) {
    out->set_oldest_time_ms(ring.oldest_time_ms());
    out->set_newest_time_ms(ring.newest_time_ms());
  }
}

// Rows per message: the client's wish if given, else about `target` bytes; never more than
// fits kHardMessageBytes.
int RowsPerMessage(int32_t requested, size_t features, size_t elem_bytes, int64_t target) {
  const int64_t row_bytes = static_cast<int64_t>(features * (elem_bytes + 1) + sizeof(int64_t));
  const int64_t hard = std::max<int64_t>(1, kHardMessageBytes / row_bytes);
  const int64_t wanted = requested > 0 ? requested : std::max<int64_t>(1, target / row_bytes);
  return static_cast<int>(std::min(wanted, hard));
}

void PutTimes(const window::RowBlock& b, std::string* out) {
  out->resize(b.time_ms.size() * sizeof(int64_t));
  if (!out->empty()) std::memcpy(out->data(), b.time_ms.data(), out->size());
}

void PutMask(const window::RowBlock& b, std::string* out) {
  out->assign(reinterpret_cast<const char*>(b.mask.data()), b.mask.size());
}

absl::StatusOr<window::Fill> ToFill(v1::Fill fill) {
  switch (fill) {
    case v1::FILL_UNSPECIFIED:
    case v1::NAN_MASK:
      return window::Fill::kNanMask;
    case v1::PREVIOUS:
      return window::Fill::kPrevious;
    case v1::ZERO:
      return window::Fill::kZero;
    case v1::DROP:
      return window::Fill::kDrop;
    default:
      return absl::InvalidArgumentError("fill " + std::to_string(static_cast<int>(fill)) +
                                        " is unknown; use NAN_MASK, PREVIOUS, ZERO or DROP");
  }
}

v1::Fill FromFill(window::Fill fill) {
  switch (fill) {
    case window::Fill::kPrevious:
      return v1::PREVIOUS;
    case window::Fill::kZero:
      return v1::ZERO;
    case window::Fill::kDrop:
      return v1::DROP;
    case window::Fill::kNanMask:
      break;
  }
  return v1::NAN_MASK;
}

// The stream cache's key: everything a stream's row messages depend on besides the samples
// (the series by identity; StreamCache checks that they are still the same).
std::string StreamKey(const window::WindowPlan& plan, v1::DType dtype, int rows_per_message) {
  const window::WindowSpec& s = plan.spec;
  const int64_t fields[] = {
      s.step_ms,  s.lookback_ms, s.window, s.shift,         static_cast<int64_t>(s.fill),
      s.start_ms, s.end_ms,      dtype,    rows_per_message};
  std::string key(reinterpret_cast<const char*>(fields), sizeof(fields));
  for (const store::SeriesPtr& f : plan.series) {
    const uintptr_t id = reinterpret_cast<uintptr_t>(f.get());
    key.append(reinterpret_cast<const char*>(&id), sizeof(id));
  }
  return key;
}

// A stream refused before it started.
template <typename Response>
class FailedStream : public grpc::ServerWriteReactor<Response> {
 public:
  explicit FailedStream(const absl::Status& status) { this->Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

// One server stream driven by a window cursor, with two messages that alternate: while one
// is being written, the next is produced on the work queue, so sampling overlaps the
// transport. At most one write is in flight and at most one produced message waits for it;
// a slow reader therefore costs two messages and a cursor, never a queue. Production runs
// outside mu_ (so gRPC's OnWriteDone never waits for it) and only one Pump produces at a
// time. Owns itself (self_) from Start until OnDone; queued work holds extra references.
template <typename Response>
class MetricFeedService::CursorStream
    : public grpc::ServerWriteReactor<Response>,
      public std::enable_shared_from_this<CursorStream<Response>> {
 public:
  CursorStream(MetricFeedService* service, window::WindowPlan plan, int rows_per_message)
      : service_(service),
        id_(service->next_stream_id_.fetch_add(1)),
        cursor_(std::move(plan.series), plan.spec, &service->spare_threads_),
        selector_index_(std::move(plan.selector_index)),
        rows_per_message_(rows_per_message) {}

  void Start() {
    self_ = this->shared_from_this();
    std::weak_ptr<CursorStream> weak = self_;
    service_->Register(id_, [weak] {
      if (auto s = weak.lock()) s->Wake();
    });
    Schedule();
  }

 protected:
  enum class Step { kWrite, kWait, kEnd };
  // Fills `out` with the next message, or says why there is none. `out` holds the message
  // produced two steps before (already written): reuse its buffers. Called by one Pump at a
  // time, without mu_ held.
  virtual absl::StatusOr<Step> Produce(Response* out) = 0;

  MetricFeedService* const service_;
  const uint64_t id_;
  window::WindowCursor cursor_;
  const std::vector<int32_t> selector_index_;
  const int rows_per_message_;
  window::RowBlock block_;

 private:
  static constexpr int kNone = -1;

  void Schedule() {
    service_->queue_.Post([s = this->shared_from_this()] { s->Pump(); });
  }

  void Wake() {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    if (waiting_) {
      waiting_ = false;
      Schedule();
    } else {
      woken_ = true;  // A Produce running now may have missed the new data.
    }
  }

  // Produces the next message into the slot not being written, then writes it at once if no
  // write is in flight (and produces the one after), or leaves it for OnWriteDone.
  void Pump() {
    int slot;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_ || producing_ || pending_ != kNone || finish_after_write_) return;
      slot = writing_ == kNone ? next_slot_ : 1 - writing_;
      if (starting_[slot]) {  // Its write completed before StartWrite returned (rare).
        pump_when_started_ = true;
        return;
      }
      producing_ = true;
      woken_ = false;
    }
    std::optional<grpc::Status> end;
    if (service_->shutting_down_.load()) {
      end = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                         "promfeed is shutting down; reconnect to another instance or "
                         "retry after it restarts");
    }
    absl::StatusOr<Step> step = Step::kEnd;
    if (!end) {
      step = Produce(&messages_[slot]);
      if (!step.ok()) {
        end = ToGrpcStatus(step.status());
      } else if (*step == Step::kEnd) {
        end = grpc::Status::OK;
      }
    }
    bool write = false;
    bool finish = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      producing_ = false;
      if (finished_) return;  // Cancelled meanwhile; Finish was called.
      if (end) {
        if (writing_ == kNone) {
          finished_ = finish = true;
        } else {
          finish_after_write_ = std::move(end);  // OnWriteDone finishes.
          end.reset();
        }
      } else if (*step == Step::kWait) {
        if (woken_) {
          Schedule();  // New data came while producing: look again.
        } else {
          waiting_ = true;
        }
      } else if (writing_ == kNone) {
        writing_ = slot;
        starting_[slot] = true;
        next_slot_ = 1 - slot;
        write = true;
        Schedule();  // Produce the next message while this one is written.
      } else {
        pending_ = slot;
      }
    }
    // Outside the lock: gRPC may run reactions inline.
    if (write) Write(slot);
    if (finish) this->Finish(*end);
  }

  // Starts writing messages_[slot]. gRPC serializes the message inside StartWrite, on this
  // thread; the write can complete (OnWriteDone, on another thread) before StartWrite returns.
  // The slot is produced into again only once StartWrite has returned and said so under mu_,
  // so no Produce overwrites bytes still being serialized, and the hand-over of the slot's
  // buffers is ordered by mu_, where TSan can see it (gRPC's own ordering it cannot).
  void Write(int slot) {
    this->StartWrite(&messages_[slot]);
    std::lock_guard<std::mutex> lock(mu_);
    starting_[slot] = false;
    if (pump_when_started_) {
      pump_when_started_ = false;
      if (!finished_) Schedule();
    }
  }

  void OnWriteDone(bool ok) override {
    int write = kNone;
    std::optional<grpc::Status> finish;
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = kNone;
      if (finished_) return;
      if (!ok || cancelled_) {
        finish = grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled by the client");
      } else if (pending_ != kNone) {
        write = writing_ = pending_;
        starting_[write] = true;
        next_slot_ = 1 - pending_;
        pending_ = kNone;
        if (!waiting_) Schedule();  // Produce the one after.
      } else if (finish_after_write_) {
        finish = std::move(finish_after_write_);
      } else if (!producing_ && !waiting_) {
        Schedule();
      }
      if (finish) finished_ = true;
    }
    if (write != kNone) Write(write);  // Within this reaction: OnDone cannot run meanwhile.
    if (finish) this->Finish(*finish);
  }

  void OnCancel() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
      // With a write in flight, OnWriteDone(false) finishes instead.
      if (writing_ != kNone || finished_) return;
      finished_ = true;
    }
    this->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled by the client"));
  }

  void OnDone() override {
    service_->Unregister(id_);
    service_->active_streams_.fetch_sub(1);
    self_.reset();  // May delete this once queued work lets go.
  }

  std::mutex mu_;
  int writing_ = kNone;                // Slot of the message being written (until OnWriteDone).
  int pending_ = kNone;                // Slot of a produced message waiting for that write.
  int next_slot_ = 0;                  // Slot to produce into when nothing is being written.
  bool producing_ = false;             // A Pump is in Produce (outside mu_).
  bool waiting_ = false;               // Blocked on new data; Wake resumes.
  bool woken_ = false;                 // Wake came while not waiting (e.g. during Produce).
  bool starting_[2] = {false, false};  // The slot's StartWrite has not returned yet.
  bool pump_when_started_ = false;     // A Pump found its slot starting: Write reschedules.
  bool cancelled_ = false;
  bool finished_ = false;  // Finish called or about to be.
  // End of stream (or error) reached while a write was in flight: sent by OnWriteDone.
  std::optional<grpc::Status> finish_after_write_;
  Response messages_[2];  // Alternate: one being written, the next being produced.
  std::shared_ptr<CursorStream> self_;
};

class MetricFeedService::RangeStream final : public CursorStream<v1::ReadRangeResponse> {
 public:
  using CursorStream::CursorStream;

 private:
  absl::StatusOr<Step> Produce(v1::ReadRangeResponse* out) override {
    // As in WindowStream::Produce: sample into this slot's old, full-size values buffer.
    block_.values.swap(*out->mutable_values());
    const int64_t horizon = window::CompleteThrough(*service_->store_, cursor_.features());
    switch (cursor_.Next(horizon, rows_per_message_, &block_)) {
      case window::WindowCursor::Result::kWait:
        return Step::kWait;
      case window::WindowCursor::Result::kEnd:
        return Step::kEnd;
      case window::WindowCursor::Result::kBlock:
        break;
    }
    out->Clear();  // Keeps the strings' capacity.
    if (first_) {
      for (const store::SeriesPtr& s : cursor_.features()) FillSeries(*s, out->add_series());
      first_ = false;
    }
    out->set_row_count(block_.rows);
    PutTimes(block_, out->mutable_time_ms());
    // The block's bytes become the message's; the block takes the message's old buffer.
    out->mutable_values()->swap(block_.values);
    PutMask(block_, out->mutable_mask());
    return Step::kWrite;
  }

  bool first_ = true;
};

class MetricFeedService::WindowStream final : public CursorStream<grpc::ByteBuffer> {
 public:
  // Writes `cached`'s messages if given; else samples the rings, and with a non-empty
  // `record_key` (granted by StreamCache::BeginRecording) keeps what it wrote under that key
  // once the stream has ended whole.
  WindowStream(MetricFeedService* service, window::WindowPlan plan, int rows_per_message,
               v1::DType dtype, std::shared_ptr<const CachedStream> cached, std::string record_key)
      : CursorStream(service, std::move(plan), rows_per_message),
        dtype_(dtype),
        cached_(std::move(cached)),
        record_key_(std::move(record_key)) {
    block_.value_type =
        dtype == v1::FLOAT64 ? window::ValueType::kFloat64 : window::ValueType::kFloat32;
    if (!record_key_.empty()) record_ = std::make_shared<CachedStream>();
  }

  ~WindowStream() override {
    if (!record_key_.empty()) {
      service_->stream_cache_.EndRecording(record_key_, cursor_.features(), nullptr);
    }
  }

 private:
  absl::StatusOr<Step> Produce(grpc::ByteBuffer* out) override {
    if (!header_sent_) {
      header_sent_ = true;
      msg_.Clear();
      FillHeader(msg_.mutable_header());
      return Encode(out);
    }
    if (cached_ != nullptr) return Replay(out);
    // Sample into the values buffer of the message before (already encoded): most blocks
    // are full, so it has the size this one needs and is overwritten without zero-filling.
    if (msg_.has_rows()) block_.values.swap(*msg_.mutable_rows()->mutable_values());
    const int64_t horizon = window::CompleteThrough(*service_->store_, cursor_.features());
    switch (cursor_.Next(horizon, rows_per_message_, &block_)) {
      case window::WindowCursor::Result::kWait:
        return Step::kWait;
      case window::WindowCursor::Result::kEnd:
        FinishRecording();
        return Step::kEnd;
      case window::WindowCursor::Result::kBlock:
        break;
    }
    // Reuse the previous rows message: Clear keeps its strings' capacity, whereas clearing
    // the oneof would free them.
    if (!msg_.has_rows()) msg_.Clear();
    v1::RowBlock* rows = msg_.mutable_rows();
    rows->Clear();
    rows->set_first_row_index(block_.first_row);
    rows->set_row_count(block_.rows);
    PutTimes(block_, rows->mutable_time_ms());
    // The block's bytes become the message's; the block takes the message's old buffer.
    rows->mutable_values()->swap(block_.values);
    if (!block_.all_present) PutMask(block_, rows->mutable_mask());
    rows->set_first_window_index(block_.first_window);
    rows->set_window_count(block_.window_count);
    for (int64_t k : block_.dropped_windows) rows->add_dropped_window_indices(k);
    rows->set_lost_windows(block_.lost_windows);
    rows->set_dropped_windows_total(cursor_.dropped_total());
    rows->set_lost_windows_total(cursor_.lost_total());
    const int64_t dropped = static_cast<int64_t>(block_.dropped_windows.size());
    CountWindows(block_.window_count - dropped, dropped, block_.lost_windows);
    absl::StatusOr<Step> step = Encode(out);
    if (record_ != nullptr && step.ok()) {
      if (block_.lost_windows > 0) {
        record_.reset();  // What a later stream gets would differ: keep nothing.
      } else {
        record_->messages.push_back(*out);  // Shares the encoded bytes.
        record_->bytes += out->Length();
        record_->windows_sent += block_.window_count - dropped;
        record_->windows_dropped += dropped;
        if (record_->bytes > service_->stream_cache_.max_bytes()) record_.reset();
      }
    }
    return step;
  }

  // The next message of a kept stream.
  Step Replay(grpc::ByteBuffer* out) {
    if (replayed_ == cached_->messages.size()) {
      CountWindows(cached_->windows_sent, cached_->windows_dropped, 0);
      return Step::kEnd;
    }
    *out = cached_->messages[replayed_++];  // Shares the kept bytes.
    return Step::kWrite;
  }

  // Encodes msg_ into `out`, as gRPC does for a typed method.
  absl::StatusOr<Step> Encode(grpc::ByteBuffer* out) {
    bool own_buffer = false;
    out->Clear();  // (Serialize wants an empty buffer.)
    grpc::Status s =
        grpc::SerializationTraits<v1::StreamWindowsResponse>::Serialize(msg_, out, &own_buffer);
    if (!s.ok()) return absl::InternalError("encoding a message: " + s.error_message());
    return Step::kWrite;
  }

  void CountWindows(int64_t sent, int64_t dropped, int64_t lost) {
    service_->windows_sent_.fetch_add(sent);
    service_->windows_dropped_.fetch_add(dropped);
    service_->windows_lost_.fetch_add(lost);
  }

  // The stream has ended whole: keep what it wrote (if still recording).
  void FinishRecording() {
    if (record_key_.empty()) return;
    service_->stream_cache_.EndRecording(record_key_, cursor_.features(), std::move(record_));
    record_key_.clear();
  }

  void FillHeader(v1::WindowHeader* h) const {
    for (const store::SeriesPtr& s : cursor_.features()) FillSeries(*s, h->add_features());
    for (int32_t i : selector_index_) h->add_feature_selector_index(i);
    const window::WindowSpec& spec = cursor_.spec();
    h->set_step_ms(spec.step_ms);
    h->set_lookback_ms(spec.lookback_ms);
    h->set_window(spec.window);
    h->set_shift(spec.shift);
    h->set_fill(FromFill(spec.fill));
    h->set_dtype(dtype_);
    h->set_start_time_ms(spec.start_ms);
    h->set_end_time_ms(spec.end_ms == window::kFollowEnd ? 0 : spec.end_ms);
  }

  const v1::DType dtype_;
  bool header_sent_ = false;
  v1::StreamWindowsResponse msg_;  // The message being produced, before encoding.
  const std::shared_ptr<const CachedStream> cached_;
  size_t replayed_ = 0;                   // Messages of cached_ written.
  std::string record_key_;                // Recording under this key until FinishRecording.
  std::shared_ptr<CachedStream> record_;  // What was written; null once not keepable.
};

MetricFeedService::MetricFeedService(store::SeriesStore* store, ServiceOptions options)
    : store_(store),
      options_(std::move(options)),
      spare_threads_(options_.spare_threads),
      stream_cache_(static_cast<size_t>(std::max<int64_t>(0, options_.stream_cache_bytes))),
      queue_(options_.stream_threads) {
  // (queue_ is declared last but initialised from options_, which is declared earlier.)
  // New data wakes every waiting stream; the wake only posts work (cheap for ingestion).
  store_listener_ = store_->AddListener([this] {
    std::lock_guard<std::mutex> lock(streams_mu_);
    for (const auto& [id, wake] : streams_) wake();
  });
}

MetricFeedService::~MetricFeedService() { store_->RemoveListener(store_listener_); }

void MetricFeedService::BeginShutdown() {
  shutting_down_.store(true);
  std::lock_guard<std::mutex> lock(streams_mu_);
  for (const auto& [id, wake] : streams_) wake();
}

void MetricFeedService::Register(uint64_t id, std::function<void()> wake) {
  std::lock_guard<std::mutex> lock(streams_mu_);
  streams_.emplace(id, std::move(wake));
}

void MetricFeedService::Unregister(uint64_t id) {
  std::lock_guard<std::mutex> lock(streams_mu_);
  streams_.erase(id);
}

absl::Status MetricFeedService::CheckServing() const {
  if (shutting_down_.load()) {
    return absl::UnavailableError("promfeed is shutting down; retry against another instance");
  }
  const UpstreamStatus up = options_.upstream_status();
  if (!up.ready) {
    std::string msg = "promfeed is not ready: waiting for the first successful poll of " + up.url +
                      "; retry shortly";
    if (!up.last_error.empty()) msg += " (last error: " + up.last_error + ")";
    return absl::UnavailableError(msg);
  }
  return absl::OkStatus();
}

absl::Status MetricFeedService::AdmitStream() {
  if (active_streams_.fetch_add(1) >= options_.max_streams) {
    active_streams_.fetch_sub(1);
    return absl::ResourceExhaustedError(
        "too many open streams (server.max_streams = " + std::to_string(options_.max_streams) +
        "); close idle streams or raise server.max_streams");
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* MetricFeedService::ListSeries(grpc::CallbackServerContext* context,
                                                        const v1::ListSeriesRequest* request,
                                                        v1::ListSeriesResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto run = [&]() -> absl::Status {
    if (absl::Status s = CheckServing(); !s.ok()) return s;
    if (request->limit() < 0 || request->limit() > kMaxListLimit) {
      return absl::InvalidArgumentError("limit must be between 0 (default " +
                                        std::to_string(kDefaultListLimit) + ") and " +
                                        std::to_string(kMaxListLimit));
    }
    const size_t limit = request->limit() > 0 ? request->limit() : kDefaultListLimit;
    std::vector<store::SeriesPtr> matched;
    if (request->selectors().empty()) {
      matched = store_->All();
    } else {
      for (int i = 0; i < request->selectors_size(); ++i) {
        absl::StatusOr<Selector> sel = Selector::Parse(request->selectors(i));
        if (!sel.ok()) {
          return absl::InvalidArgumentError("selectors[" + std::to_string(i) + "] '" +
                                            request->selectors(i) +
                                            "': " + std::string(sel.status().message()));
        }
        for (store::SeriesPtr& s : store_->Select(*sel)) matched.push_back(std::move(s));
      }
      std::sort(matched.begin(), matched.end(),
                [](const store::SeriesPtr& a, const store::SeriesPtr& b) {
                  return a->labels() < b->labels();
                });
      matched.erase(std::unique(matched.begin(), matched.end()), matched.end());
    }
    if (matched.size() > limit) {
      return absl::ResourceExhaustedError(
          std::to_string(matched.size()) + " series match, more than the limit of " +
          std::to_string(limit) + "; narrow the selectors or raise limit");
    }
    for (const store::SeriesPtr& s : matched) FillSeries(*s, response->add_series());
    return absl::OkStatus();
  };
  reactor->Finish(ToGrpcStatus(run()));
  return reactor;
}

grpc::ServerWriteReactor<v1::ReadRangeResponse>* MetricFeedService::ReadRange(
    grpc::CallbackServerContext* context, const v1::ReadRangeRequest* request) {
  using Failed = FailedStream<v1::ReadRangeResponse>;
  if (absl::Status s = CheckServing(); !s.ok()) return new Failed(s);
  if (request->start_ms() <= 0) {
    return new Failed(absl::InvalidArgumentError(
        "start_ms is required: the first grid time wanted, in Unix epoch milliseconds"));
  }
  window::WindowRequest req{.features = {request->selectors().begin(), request->selectors().end()},
                            .step_ms = request->step_ms(),
                            .window = 1,
                            .shift = 1,
                            .fill = window::Fill::kNanMask,
                            .start_ms = request->start_ms(),
                            .end_ms = request->end_ms(),
                            .follow = false,
                            .lookback_ms = request->lookback_ms()};
  absl::StatusOr<window::WindowPlan> plan =
      window::PlanWindows(*store_, req, Limits(), options_.now_ms());
  if (!plan.ok()) return new Failed(plan.status());
  if (absl::Status s = AdmitStream(); !s.ok()) return new Failed(s);
  const int rows = RowsPerMessage(request->max_rows_per_message(), plan->series.size(),
                                  sizeof(double), options_.target_message_bytes);
  auto stream = std::make_shared<RangeStream>(this, *std::move(plan), rows);
  stream->Start();
  return stream.get();
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* MetricFeedService::StreamWindows(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw_request) {
  using Failed = FailedStream<grpc::ByteBuffer>;
  if (absl::Status s = CheckServing(); !s.ok()) return new Failed(s);
  v1::StreamWindowsRequest parsed;
  grpc::ByteBuffer raw_copy(*raw_request);  // (Deserialize consumes its buffer.)
  if (!grpc::SerializationTraits<v1::StreamWindowsRequest>::Deserialize(&raw_copy, &parsed).ok()) {
    return new Failed(absl::InvalidArgumentError(
        "the request is not a promfeed.v1.StreamWindowsRequest; check the client's proto"));
  }
  const v1::StreamWindowsRequest* request = &parsed;
  absl::StatusOr<window::Fill> fill = ToFill(request->fill());
  if (!fill.ok()) return new Failed(fill.status());
  v1::DType dtype = request->dtype();
  if (dtype == v1::DTYPE_UNSPECIFIED) dtype = v1::FLOAT32;
  if (dtype != v1::FLOAT32 && dtype != v1::FLOAT64) {
    return new Failed(
        absl::InvalidArgumentError("dtype " + std::to_string(static_cast<int>(request->dtype())) +
                                   " is unknown; use FLOAT32 or FLOAT64"));
  }
  window::WindowRequest req{.features = {request->features().begin(), request->features().end()},
                            .step_ms = request->step_ms(),
                            .window = request->window(),
                            .shift = request->shift(),
                            .fill = *fill,
                            .start_ms = request->start_ms(),
                            .end_ms = request->end_ms(),
                            .follow = request->follow(),
                            .lookback_ms = request->lookback_ms()};
  // Read before planning: a range final by then is final for the whole stream.
  const int64_t final_through_ms = store_->complete_through_ms();
  absl::StatusOr<window::WindowPlan> plan =
      window::PlanWindows(*store_, req, Limits(), options_.now_ms());
  if (!plan.ok()) return new Failed(plan.status());
  if (absl::Status s = AdmitStream(); !s.ok()) return new Failed(s);
  const size_t elem = dtype == v1::FLOAT64 ? sizeof(double) : sizeof(float);
  const int rows = RowsPerMessage(request->max_rows_per_message(), plan->series.size(), elem,
                                  options_.target_message_bytes);
  // History (the whole range final, nothing to follow) can be kept and written again.
  std::shared_ptr<const CachedStream> cached;
  std::string record_key;
  if (!req.follow && plan->spec.end_ms <= final_through_ms && stream_cache_.max_bytes() > 0) {
    std::string key = StreamKey(*plan, dtype, rows);
    cached =
        stream_cache_.Find(key, plan->series, plan->spec.start_ms - plan->spec.lookback_ms + 1);
    if (cached == nullptr && stream_cache_.BeginRecording(key)) record_key = std::move(key);
  }
  auto stream = std::make_shared<WindowStream>(this, *std::move(plan), rows, dtype,
                                               std::move(cached), std::move(record_key));
  stream->Start();
  return stream.get();
}

grpc::ServerUnaryReactor* MetricFeedService::GetStatus(grpc::CallbackServerContext* context,
                                                       const v1::GetStatusRequest* request,
                                                       v1::GetStatusResponse* response) {
  const UpstreamStatus up = options_.upstream_status();
  const store::StoreStats stats = store_->Stats();
  response->set_version(options_.version);
  response->set_upstream_url(up.url);
  response->set_upstream_state(up.state);
  response->set_last_error(up.last_error);
  response->set_last_poll_time_ms(up.last_poll_time_ms);
  response->set_last_poll_duration_ms(up.last_poll_duration_ms);
  response->set_poll_interval_ms(up.poll_interval_ms);
  response->set_series_count(stats.series);
  response->set_max_series(options_.max_series);
  response->set_series_rejected_total(stats.series_rejected_total);
  response->set_samples_held(stats.samples_held);
  response->set_ring_bytes(stats.ring_bytes);
  response->set_polls_total(up.polls_total);
  response->set_poll_failures_total(up.poll_failures_total);
  response->set_active_streams(active_streams_.load());
  response->set_ready(up.ready && !shutting_down_.load());
  const int64_t complete = store_->complete_through_ms();
  response->set_complete_through_ms(complete == INT64_MIN ? 0 : complete);
  response->set_retention_ms(options_.retention_ms);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

window::PlanLimits MetricFeedService::Limits() const {
  const UpstreamStatus up = options_.upstream_status();
  return {.default_step_ms = up.poll_interval_ms > 0 ? up.poll_interval_ms : 15'000,
          .retention_ms = options_.retention_ms};
}

}  // namespace promfeed::server
