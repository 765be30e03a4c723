#include "promfeed/client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/cpp/src/window_assembler.h"
#include "promfeed/v1/metric_feed.grpc.pb.h"

namespace promfeed::client {
namespace {

namespace pb = ::promfeed::v1;

constexpr int kMaxMessage = 256 * 1024 * 1024;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The one place a grpc::Status becomes an absl::Status: same code, the daemon's message,
// prefixed with what was called where. Connection failures say the daemon is unreachable.
absl::Status FromGrpc(const grpc::Status& s, absl::string_view method, const std::string& target,
                      std::chrono::milliseconds timeout) {
  if (s.ok()) return absl::OkStatus();
  const auto code = static_cast<absl::StatusCode>(s.error_code());
  const std::string& m = s.error_message();
  std::string msg;
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE &&
      (absl::StrContains(m, "failed to connect") || absl::StrContains(m, "onnection refused") ||
       absl::StrContains(m, "DNS resolution failed") ||
       absl::StrContains(m, "connections to all backends failing"))) {
    msg = absl::StrCat("cannot reach promfeed at ", target,
                       " (is the daemon running and --target right?): ", m);
  } else if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    msg = absl::StrCat(method, " on ", target, ": no answer within ", timeout.count(),
                       " ms (daemon unreachable or busy): ", m);
  } else {
    msg = absl::StrCat(method, " on ", target, ": ", m);
  }
  return absl::Status(code, msg);
}

std::string NormalizeTarget(std::string t) {
  for (absl::string_view scheme : {"grpc://", "http://"}) {
    if (absl::StartsWith(t, scheme)) t = t.substr(scheme.size());
  }
  while (!t.empty() && t.back() == '/') t.pop_back();
  return t;
}

pb::Fill FillToProto(Fill f) {
  switch (f) {
    case Fill::kPrevious:
      return pb::PREVIOUS;
    case Fill::kZero:
      return pb::ZERO;
    case Fill::kDrop:
      return pb::DROP;
    case Fill::kNanMask:
      break;
  }
  return pb::NAN_MASK;
}

}  // namespace

// ---- Series, Fill, header -----------------------------------------------------------------
std::string Series::Get(std::string_view name) const {
  for (const auto& l : labels) {
    if (l.name == name) return l.value;
  }
  return "";
}

std::string Series::ToString() const {
  std::string out = Get("__name__");
  std::string inner;
  for (const auto& l : labels) {
    if (l.name == "__name__") continue;
    std::string v;
    for (char c : l.value) {
      if (c == '"' || c == '\\') v.push_back('\\');
      if (c == '\n') {
        v += "\\n";
        continue;
      }
      v.push_back(c);
    }
    absl::StrAppend(&inner, inner.empty() ? "" : ", ", l.name, "=\"", v, "\"");
  }
  if (!inner.empty() || out.empty()) absl::StrAppend(&out, "{", inner, "}");
  return out;
}

absl::StatusOr<Fill> ParseFill(std::string_view s) {
  if (s == "nan" || s == "nan_mask") return Fill::kNanMask;
  if (s == "previous") return Fill::kPrevious;
  if (s == "zero") return Fill::kZero;
  if (s == "drop") return Fill::kDrop;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown fill \"", std::string(s), "\": use nan, previous, zero or drop"));
}

int64_t StreamHeader::expected_rows() const {
  if (end_time_ms == 0 || step_ms <= 0 || end_time_ms < start_time_ms) return 0;
  return (end_time_ms - start_time_ms) / step_ms + 1;
}

// ---- WindowBatch ----------------------------------------------------------------------------
std::span<const int64_t> WindowBatch::time_ms(size_t i) const {
  return {times_base_ + starts_[i], static_cast<size_t>(window_)};
}

double WindowBatch::value(size_t i, size_t row, size_t feature) const {
  const size_t at = (starts_[i] + row) * features_ + feature;
  if (dtype_ == DType::kFloat64) return reinterpret_cast<const double*>(values_base_)[at];
  return reinterpret_cast<const float*>(values_base_)[at];
}

std::span<const uint8_t> WindowBatch::mask(size_t i) const {
  if (mask_base_ == nullptr) return {};
  return {mask_base_ + starts_[i] * features_, static_cast<size_t>(window_) * features_};
}

// ---- WindowStream ---------------------------------------------------------------------------
struct WindowStream::Call {
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReader<pb::StreamWindowsResponse>> reader;
  pb::StreamWindowsResponse msg;
  int64_t last_first_row = 0, last_row_count = 0;
  std::chrono::milliseconds timeout{0};
  std::atomic<bool> cancelled{false};
};

WindowStream::WindowStream(std::unique_ptr<Call> call, StreamHeader header, std::string target)
    : call_(std::move(call)),
      header_(std::move(header)),
      asm_(std::make_unique<WindowAssembler>(header_)),
      target_(std::move(target)) {}

WindowStream::~WindowStream() {
  if (!done_) {
    call_->ctx.TryCancel();
    call_->reader->Finish();  // reaps the cancelled call
  }
}

void WindowStream::Cancel() {
  call_->cancelled = true;
  call_->ctx.TryCancel();
}

absl::StatusOr<const WindowBatch*> WindowStream::Next() {
  if (done_) return nullptr;
  if (!call_->reader->Read(&call_->msg)) {
    done_ = true;
    grpc::Status s = call_->reader->Finish();
    if (s.error_code() == grpc::StatusCode::CANCELLED && call_->cancelled) return nullptr;
    if (!s.ok()) return FromGrpc(s, "StreamWindows", target_, call_->timeout);
    return nullptr;
  }
  if (!call_->msg.has_rows()) {
    return absl::InternalError(
        absl::StrCat("protocol error: StreamWindows on ", target_, ": a second header arrived"));
  }
  const pb::RowBlock& rows = call_->msg.rows();
  call_->last_first_row = rows.first_row_index();
  call_->last_row_count = rows.row_count();
  auto batch = asm_->Feed(rows);
  if (!batch.ok()) {
    return absl::Status(batch.status().code(),
                        absl::StrCat("StreamWindows on ", target_, ": ", batch.status().message()));
  }
  return batch;
}

int64_t WindowStream::last_first_row() const { return call_->last_first_row; }
int64_t WindowStream::last_row_count() const { return call_->last_row_count; }
int64_t WindowStream::rows_received() const { return asm_->rows_received(); }
int64_t WindowStream::windows_emitted() const { return asm_->windows_emitted(); }
int64_t WindowStream::dropped_windows_total() const { return asm_->dropped_windows_total(); }
int64_t WindowStream::lost_windows_total() const { return asm_->lost_windows_total(); }

// ---- Client ---------------------------------------------------------------------------------
struct Client::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::MetricFeed::Stub> stub;
  absl::Status init;  // A credential file that could not be read fails every call.
};

namespace {
absl::StatusOr<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", what, " ", path, ": ", std::strerror(errno)));
  }
  return text.str();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(ClientOptions* o) {
  if (!o->token.empty() && !o->token_file.empty()) {
    return absl::InvalidArgumentError("set either token or token_file, not both");
  }
  if (!o->token_file.empty()) {
    absl::StatusOr<std::string> text = ReadFile(o->token_file, "token_file");
    if (!text.ok()) return text.status();
    std::istringstream lines(*text);
    for (std::string line; o->token.empty() && std::getline(lines, line);) {
      const size_t b = line.find_first_not_of(" \t\r");
      if (b == std::string::npos || line[b] == '#') continue;
      o->token = line.substr(b, line.find_last_not_of(" \t\r") + 1 - b);
    }
    if (o->token.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("token_file ", o->token_file, " holds no token"));
    }
  }
  if (o->cert_file.empty() != o->key_file.empty()) {
    return absl::InvalidArgumentError("cert_file and key_file go together; set both or neither");
  }
  if (!o->tls && o->ca_file.empty() && o->cert_file.empty()) {
    return grpc::InsecureChannelCredentials();
  }
  grpc::SslCredentialsOptions ssl;
  for (auto [path, out, what] : {std::tuple{&o->ca_file, &ssl.pem_root_certs, "ca_file"},
                                 std::tuple{&o->cert_file, &ssl.pem_cert_chain, "cert_file"},
                                 std::tuple{&o->key_file, &ssl.pem_private_key, "key_file"}}) {
    if (path->empty()) continue;
    absl::StatusOr<std::string> text = ReadFile(*path, what);
    if (!text.ok()) return text.status();
    *out = *std::move(text);
  }
  return grpc::SslCredentials(ssl);
}
}  // namespace

Client::Client(ClientOptions options) : options_(std::move(options)), impl_(new Impl) {
  options_.target = NormalizeTarget(options_.target);
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessage);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds = Credentials(&options_);
  if (!creds.ok()) {
    impl_->init = creds.status();
    creds = grpc::InsecureChannelCredentials();  // Unused: every call returns impl_->init.
  }
  impl_->channel = grpc::CreateCustomChannel(options_.target, *creds, args);
  impl_->stub = pb::MetricFeed::NewStub(impl_->channel);
}

Client::~Client() = default;

namespace {
void SetAuth(grpc::ClientContext* ctx, const ClientOptions& o) {
  if (!o.token.empty()) ctx->AddMetadata("authorization", "Bearer " + o.token);
}

void SetUnary(grpc::ClientContext* ctx, const ClientOptions& o) {
  ctx->set_deadline(std::chrono::system_clock::now() + o.timeout);
  ctx->set_wait_for_ready(o.wait_for_ready);
  SetAuth(ctx, o);
}
}  // namespace

absl::StatusOr<DaemonStatus> Client::GetStatus() {
  if (!impl_->init.ok()) return impl_->init;
  grpc::ClientContext ctx;
  SetUnary(&ctx, options_);
  pb::GetStatusResponse r;
  grpc::Status s = impl_->stub->GetStatus(&ctx, pb::GetStatusRequest(), &r);
  if (!s.ok()) return FromGrpc(s, "GetStatus", options_.target, options_.timeout);
  DaemonStatus out;
  out.version = r.version();
  out.upstream_url = r.upstream_url();
  out.upstream_up = r.upstream_state() == pb::UP;
  out.last_error = r.last_error();
  out.last_poll_time_ms = r.last_poll_time_ms();
  out.last_poll_duration_ms = r.last_poll_duration_ms();
  out.poll_interval_ms = r.poll_interval_ms();
  out.series_count = r.series_count();
  out.max_series = r.max_series();
  out.series_rejected_total = r.series_rejected_total();
  out.samples_held = r.samples_held();
  out.ring_bytes = r.ring_bytes();
  out.polls_total = r.polls_total();
  out.poll_failures_total = r.poll_failures_total();
  out.active_streams = r.active_streams();
  out.ready = r.ready();
  out.complete_through_ms = r.complete_through_ms();
  out.retention_ms = r.retention_ms();
  return out;
}

absl::StatusOr<std::vector<Series>> Client::ListSeries(const std::vector<std::string>& selectors,
                                                       int32_t limit) {
  if (!impl_->init.ok()) return impl_->init;
  grpc::ClientContext ctx;
  SetUnary(&ctx, options_);
  pb::ListSeriesRequest req;
  for (const auto& s : selectors) req.add_selectors(s);
  req.set_limit(limit);
  pb::ListSeriesResponse r;
  grpc::Status s = impl_->stub->ListSeries(&ctx, req, &r);
  if (!s.ok()) return FromGrpc(s, "ListSeries", options_.target, options_.timeout);
  std::vector<Series> out;
  out.reserve(r.series_size());
  for (const auto& x : r.series()) out.push_back(SeriesFromProto(x));
  return out;
}

absl::StatusOr<RangeResult> Client::ReadRange(
    const ReadRangeRequest& request, const std::function<void(int64_t, int64_t)>& progress) {
  if (!impl_->init.ok()) return impl_->init;
  if (request.start_ms <= 0) {
    return absl::InvalidArgumentError("ReadRange: start_ms is required (epoch ms > 0)");
  }
  pb::ReadRangeRequest req;
  for (const auto& s : request.selectors) req.add_selectors(s);
  req.set_start_ms(request.start_ms);
  req.set_end_ms(request.end_ms);
  req.set_step_ms(request.step_ms);
  req.set_lookback_ms(request.lookback_ms);
  req.set_max_rows_per_message(request.max_rows_per_message);
  grpc::ClientContext ctx;
  SetUnary(&ctx, options_);
  auto reader = impl_->stub->ReadRange(&ctx, req);
  RangeResult out;
  pb::ReadRangeResponse msg;
  const int64_t end = request.end_ms > 0 ? request.end_ms : NowMs();
  int64_t total = -1;
  for (int i = 0; reader->Read(&msg); ++i) {
    if (i == 0) {
      for (const auto& s : msg.series()) out.series.push_back(SeriesFromProto(s));
    } else if (msg.series_size() > 0) {
      ctx.TryCancel();
      reader->Finish();
      return absl::InternalError("protocol error: ReadRange sent series after the first message");
    }
    const size_t rows = msg.row_count(), cols = out.series.size();
    if (msg.time_ms().size() != rows * 8 || msg.values().size() != rows * cols * 8 ||
        (!msg.mask().empty() && msg.mask().size() != rows * cols)) {
      ctx.TryCancel();
      reader->Finish();
      return absl::InternalError(absl::StrCat("protocol error: ReadRange message ", i,
                                              ": field sizes do not match ", rows, " rows x ", cols,
                                              " series"));
    }
    const size_t r0 = out.time_ms.size();
    out.time_ms.resize(r0 + rows);
    std::memcpy(out.time_ms.data() + r0, msg.time_ms().data(), rows * 8);
    out.values.resize((r0 + rows) * cols);
    std::memcpy(out.values.data() + r0 * cols, msg.values().data(), rows * cols * 8);
    if (msg.mask().empty()) {
      for (size_t k = r0 * cols; k < out.values.size(); ++k) {
        out.mask.push_back(std::isnan(out.values[k]) ? 0 : 1);
      }
    } else {
      out.mask.insert(out.mask.end(), msg.mask().begin(), msg.mask().end());
    }
    if (total < 0 && out.time_ms.size() >= 2) {
      const int64_t step = out.time_ms[1] - out.time_ms[0];
      if (step > 0) total = (end - out.time_ms[0]) / step + 1;
    }
    if (progress) progress(out.time_ms.size(), total);
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return FromGrpc(s, "ReadRange", options_.target, options_.timeout);
  return out;
}

absl::StatusOr<std::unique_ptr<WindowStream>> Client::StreamWindows(const WindowsRequest& r) {
  if (!impl_->init.ok()) return impl_->init;
  if (r.window < 1) {
    return absl::InvalidArgumentError(absl::StrCat("window must be >= 1, got ", r.window));
  }
  if (r.shift < 1) {
    return absl::InvalidArgumentError(absl::StrCat("shift must be >= 1, got ", r.shift));
  }
  pb::StreamWindowsRequest req;
  for (const auto& f : r.features) req.add_features(f);
  req.set_step_ms(r.step_ms);
  req.set_window(r.window);
  req.set_shift(r.shift);
  req.set_fill(FillToProto(r.fill));
  req.set_start_ms(r.start_ms);
  req.set_end_ms(r.follow ? 0 : r.end_ms);
  req.set_follow(r.follow);
  req.set_dtype(r.dtype == DType::kFloat64 ? pb::FLOAT64 : pb::FLOAT32);
  req.set_lookback_ms(r.lookback_ms);
  req.set_max_rows_per_message(r.max_rows_per_message);

  if (options_.wait_for_ready &&
      !impl_->channel->WaitForConnected(std::chrono::system_clock::now() + options_.timeout)) {
    return absl::UnavailableError(absl::StrCat("cannot reach promfeed at ", options_.target,
                                               " within ", options_.timeout.count(),
                                               " ms (is the daemon running and --target right?)"));
  }
  auto call = std::make_unique<WindowStream::Call>();
  call->timeout = options_.timeout;
  call->ctx.set_wait_for_ready(options_.wait_for_ready);
  SetAuth(&call->ctx, options_);
  call->reader = impl_->stub->StreamWindows(&call->ctx, req);
  if (!call->reader->Read(&call->msg)) {
    grpc::Status s = call->reader->Finish();
    if (s.ok()) {
      return absl::InternalError(absl::StrCat("protocol error: StreamWindows on ", options_.target,
                                              " ended without a header"));
    }
    return FromGrpc(s, "StreamWindows", options_.target, options_.timeout);
  }
  auto header = call->msg.has_header()
                    ? HeaderFromProto(call->msg.header())
                    : absl::StatusOr<StreamHeader>(absl::InternalError(
                          "protocol error: the first StreamWindows message is not a header"));
  if (!header.ok()) {
    call->ctx.TryCancel();
    call->reader->Finish();
    return header.status();
  }
  return std::unique_ptr<WindowStream>(
      new WindowStream(std::move(call), *std::move(header), options_.target));
}

}  // namespace promfeed::client
