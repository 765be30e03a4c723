// promfeed: polls Prometheus, keeps ring buffers per series and serves time-aligned sliding
// windows over gRPC. Usage: promfeed --help.
#include <grpcpp/create_channel.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/logging/logging.h"
#include "daemon/metrics/self_metrics.h"
#include "daemon/model/duration.h"
#include "daemon/server/grpc_server.h"
#include "daemon/server/metric_feed_service.h"
#include "daemon/server/status_map.h"
#include "daemon/store/series_store.h"
#include "daemon/upstream/errors.h"
#include "daemon/upstream/poller.h"
#include "daemon/web/web_server.h"

namespace promfeed {
namespace {

constexpr char kUsage[] = R"(usage: promfeed [flags]
       promfeed check config FILE

Polls a Prometheus-compatible server and serves sliding windows of its series over gRPC.

Flags:
  --config.file=FILE            configuration file (default promfeed.yml)
  --grpc.listen-address=ADDR    gRPC address, overrides server.grpc_listen_address
  --web.listen-address=ADDR     HTTP address, overrides server.web_listen_address
  --log.level=LEVEL             debug, info, warn or error (overrides log.level)
  --log.format=FORMAT           logfmt or json (overrides log.format)
  --version                     print the version and exit
  --help                        print this help and exit

HTTP (--web.listen-address): /metrics, /-/healthy, /-/ready, POST /-/reload.
Signals: SIGHUP reloads the config file (a bad file is rejected and the running config
stays); SIGTERM/SIGINT shut down cleanly within server.shutdown_timeout.
Under systemd (Type=notify) it reports READY/RELOADING/STOPPING/STATUS and, when
WatchdogSec is set, WATCHDOG=1.
)";

struct Flags {
  std::string config_file = "promfeed.yml";
  std::optional<std::string> grpc_address, web_address, log_level, log_format;
};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Parses --name=value and --name value. Returns false (after printing why) on bad input.
bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view name = arg, value;
    bool has_value = false;
    if (size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    auto take = [&](std::optional<std::string>* out) {
      if (!has_value) {
        if (i + 1 >= argc) return false;
        value = argv[++i];
      }
      *out = std::string(value);
      return true;
    };
    std::optional<std::string> config;
    bool ok = true;
    if (name == "--config.file") {
      ok = take(&config);
      if (ok) flags->config_file = *config;
    } else if (name == "--grpc.listen-address") {
      ok = take(&flags->grpc_address);
    } else if (name == "--web.listen-address") {
      ok = take(&flags->web_address);
    } else if (name == "--log.level") {
      ok = take(&flags->log_level);
    } else if (name == "--log.format") {
      ok = take(&flags->log_format);
    } else {
      std::fprintf(stderr, "promfeed: unknown flag '%s'\n\n%s", argv[i], kUsage);
      return false;
    }
    if (!ok) {
      std::fprintf(stderr, "promfeed: flag %s needs a value\n", std::string(name).c_str());
      return false;
    }
  }
  return true;
}

int CheckConfig(const std::string& path) {
  absl::StatusOr<config::Config> cfg = config::LoadConfigFile(path);
  if (!cfg.ok()) {
    std::fprintf(stderr, "FAILED: %s\n", std::string(cfg.status().message()).c_str());
    return 1;
  }
  std::printf("SUCCESS: %s is valid promfeed config: %zu inputs, poll interval %s\n", path.c_str(),
              cfg->inputs.size(),
              cfg->poll_interval_auto ? "auto" : FormatDurationMs(cfg->poll_interval_ms).c_str());
  return 0;
}

// Waits up to `ms` for SIGTERM/SIGINT/SIGHUP (blocked in every thread); 0 on timeout.
int WaitSignal(const sigset_t& set, int64_t ms) {
  timespec ts{.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1'000'000};
  const int sig = sigtimedwait(&set, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

bool IsStop(int sig) { return sig == SIGTERM || sig == SIGINT; }

// SIGUSR1 only wakes the main loop (a POST /-/reload is waiting); it is blocked like the rest.
constexpr int kWakeSignal = SIGUSR1;

double UnixSeconds() { return static_cast<double>(NowMs()) / 1000.0; }

// sd_notify(3) with the given newline-separated assignments; a no-op without NOTIFY_SOCKET.
void Notify(const std::string& state) {
  if (int r = sd_notify(0, state.c_str()); r < 0) {
    spdlog::debug("sd_notify failed error={}", logging::Quote(std::strerror(-r)));
  }
}

// RELOADING=1 wants the monotonic time with it (systemd's notify-reload protocol).
std::string ReloadingMessage() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return "RELOADING=1\nSTATUS=reloading configuration\nMONOTONIC_USEC=" +
         std::to_string(static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000);
}

void ApplyFlags(const Flags& flags, config::Config* cfg) {
  if (flags.grpc_address) cfg->grpc_listen_address = *flags.grpc_address;
  if (flags.web_address) cfg->web_listen_address = *flags.web_address;
  if (flags.log_level) cfg->log_level = *flags.log_level;
  if (flags.log_format) cfg->log_format = *flags.log_format;
}

bool SameUpstream(const config::UpstreamConfig& a, const config::UpstreamConfig& b) {
  const auto auth = [](const std::optional<config::BasicAuth>& x) {
    return x ? std::vector<std::string>{x->username, x->password} : std::vector<std::string>{};
  };
  const auto tls = [](const config::TlsConfig& t) {
    return std::vector<std::string>{t.ca_file, t.cert_file, t.key_file, t.server_name,
                                    t.insecure_skip_verify ? "1" : "0"};
  };
  return a.url == b.url && a.timeout_ms == b.timeout_ms && a.bearer_token == b.bearer_token &&
         auth(a.basic_auth) == auth(b.basic_auth) && a.headers == b.headers &&
         tls(a.tls_config) == tls(b.tls_config) && a.max_response_bytes == b.max_response_bytes;
}

std::vector<std::string> InputKeys(const config::Config& cfg) {
  std::vector<std::string> keys;
  for (const config::Input& in : cfg.inputs) keys.push_back(upstream::Poller::InputKey(in));
  return keys;
}

// Settings fixed for the process's life (they size the store, bind listeners or configure
// the gRPC service). A reload that changes one logs "needs restart" and keeps the old value.
void KeepRestartOnlySettings(const config::Config& cur, config::Config* next) {
  const auto keep = [](std::string_view key, auto& next_value, const auto& cur_value,
                       const std::string& old_text, const std::string& new_text) {
    if (next_value == cur_value) return;
    spdlog::warn("reload setting needs restart setting={} running={} configured={}", key,
                 logging::Quote(old_text), logging::Quote(new_text));
    next_value = cur_value;
  };
  const auto dur = [](int64_t ms) { return FormatDurationMs(ms); };
  if (next->poll_interval_auto && cur.poll_interval_auto) {
    next->poll_interval_ms = cur.poll_interval_ms;  // Resolved at start.
  } else if (next->poll_interval_auto != cur.poll_interval_auto ||
             next->poll_interval_ms != cur.poll_interval_ms) {
    spdlog::warn("reload setting needs restart setting=global.poll_interval running={}",
                 dur(cur.poll_interval_ms));
    next->poll_interval_auto = cur.poll_interval_auto;
    next->poll_interval_ms = cur.poll_interval_ms;
  }
  keep("storage.retention", next->retention_ms, cur.retention_ms, dur(cur.retention_ms),
       dur(next->retention_ms));
  keep("storage.max_series", next->max_series, cur.max_series, std::to_string(cur.max_series),
       std::to_string(next->max_series));
  keep("server.grpc_listen_address", next->grpc_listen_address, cur.grpc_listen_address,
       cur.grpc_listen_address, next->grpc_listen_address);
  keep("server.web_listen_address", next->web_listen_address, cur.web_listen_address,
       cur.web_listen_address, next->web_listen_address);
  keep("server.tls_config", next->server_tls.cert_file, cur.server_tls.cert_file,
       cur.server_tls.cert_file, next->server_tls.cert_file);
  next->server_tls = cur.server_tls;
  keep("server.auth.bearer_tokens_file", next->server_auth.bearer_tokens,
       cur.server_auth.bearer_tokens, cur.server_auth.bearer_tokens_file,
       next->server_auth.bearer_tokens_file);
  keep("server.max_streams", next->max_streams, cur.max_streams, std::to_string(cur.max_streams),
       std::to_string(next->max_streams));
  keep("server.stream_cache_bytes", next->stream_cache_bytes, cur.stream_cache_bytes,
       std::to_string(cur.stream_cache_bytes), std::to_string(next->stream_cache_bytes));
}

// The current poller, swapped on reload while gRPC, web and metrics threads read it.
// Stats() adds up the counters of the pollers it replaced and latches readiness.
class PollerSlot {
 public:
  std::shared_ptr<upstream::Poller> Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return poller_;
  }
  void Set(std::shared_ptr<upstream::Poller> poller) {
    std::lock_guard<std::mutex> lock(mu_);
    if (poller_) {
      const upstream::PollerStats old = poller_->Stats();
      retired_.polls_total += old.polls_total;
      retired_.poll_failures_total += old.poll_failures_total;
      retired_.samples_ingested_total += old.samples_ingested_total;
      retired_.ready = retired_.ready || old.ready;
    }
    poller_ = std::move(poller);
  }
  upstream::PollerStats Stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    upstream::PollerStats s = poller_->Stats();
    s.polls_total += retired_.polls_total;
    s.poll_failures_total += retired_.poll_failures_total;
    s.samples_ingested_total += retired_.samples_ingested_total;
    s.ready = s.ready || retired_.ready;
    return s;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<upstream::Poller> poller_;
  upstream::PollerStats retired_;
};

// POST /-/reload requests waiting for the main thread, which runs every reload.
class ReloadQueue {
 public:
  explicit ReloadQueue(pthread_t main_thread) : main_thread_(main_thread) {}
  void Push(web::Respond respond) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      waiting_.push_back(std::move(respond));
    }
    pthread_kill(main_thread_, kWakeSignal);
  }
  std::vector<web::Respond> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(waiting_, {});
  }

 private:
  const pthread_t main_thread_;
  std::mutex mu_;
  std::vector<web::Respond> waiting_;
};

int Run(const Flags& flags) {
  absl::StatusOr<config::Config> loaded = config::LoadConfigFile(flags.config_file);
  if (!loaded.ok()) {
    std::fprintf(stderr, "promfeed: invalid configuration: %s\n",
                 std::string(loaded.status().message()).c_str());
    return 1;
  }
  config::Config cfg = *std::move(loaded);
  ApplyFlags(flags, &cfg);
  if (absl::Status s = logging::Configure(cfg.log_level, cfg.log_format); !s.ok()) {
    std::fprintf(stderr, "promfeed: %s\n", std::string(s.message()).c_str());
    return 1;
  }

  // Signals are taken synchronously by this thread; every thread started later inherits
  // the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, kWakeSignal);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  spdlog::info("starting promfeed version={} config={} upstream={} inputs={}", PROMFEED_VERSION,
               logging::Quote(flags.config_file),
               cfg.upstream.url,  // The config rejects credentials in URLs.
               cfg.inputs.size());

  // `poll_interval: auto` asks Prometheus; keep asking until it answers or we are stopped.
  if (cfg.poll_interval_auto) {
    Notify("STATUS=reading scrape_interval from " + cfg.upstream.url);
    for (int64_t backoff = 500;; backoff = std::min<int64_t>(backoff * 2, 10'000)) {
      absl::StatusOr<int64_t> interval = upstream::Poller::ResolvePollIntervalMs(cfg);
      if (interval.ok()) {
        cfg.poll_interval_ms = *interval;
        spdlog::info("poll interval resolved source=prometheus interval={}",
                     FormatDurationMs(*interval));
        break;
      }
      spdlog::warn("poll interval lookup failed retry_in={} error={}", FormatDurationMs(backoff),
                   logging::Quote(std::string(interval.status().message())));
      if (IsStop(WaitSignal(signals, backoff))) return 0;
    }
  }

  store::SeriesStore store({.retention_ms = cfg.retention_ms,
                            .interval_ms = cfg.poll_interval_ms,
                            .max_series = cfg.max_series});
  PollerSlot pollers;

  server::ServiceOptions opts;
  opts.version = PROMFEED_VERSION;
  opts.max_streams = cfg.max_streams;
  opts.stream_cache_bytes = cfg.stream_cache_bytes;
  opts.retention_ms = cfg.retention_ms;
  opts.max_series = cfg.max_series;
  opts.now_ms = NowMs;
  opts.upstream_status = [&pollers] {
    const upstream::PollerStats s = pollers.Stats();
    server::UpstreamStatus u;
    u.url = s.upstream_url;
    u.state = s.state == upstream::UpstreamState::kUp     ? v1::UP
              : s.state == upstream::UpstreamState::kDown ? v1::DOWN
                                                          : v1::UPSTREAM_STATE_UNSPECIFIED;
    u.last_error = s.last_error;
    u.last_poll_time_ms = s.last_poll_time_ms;
    u.last_poll_duration_ms = s.last_poll_duration_ms;
    u.poll_interval_ms = s.poll_interval_ms;
    u.polls_total = s.polls_total;
    u.poll_failures_total = s.poll_failures_total;
    u.ready = s.ready;
    return u;
  };
  server::MetricFeedService service(&store, opts);

  metrics::SelfMetrics self_metrics(PROMFEED_VERSION, [&] {
    const store::StoreStats st = store.Stats();
    const upstream::PollerStats ps = pollers.Stats();
    const server::StreamCacheStats cs = service.stream_cache_stats();
    return metrics::Snapshot{.series = st.series,
                             .series_rejected_total = st.series_rejected_total,
                             .samples_held = st.samples_held,
                             .duplicates_dropped_total = st.duplicates_dropped_total,
                             .ring_bytes = st.ring_bytes,
                             .active_streams = service.active_streams(),
                             .windows_sent_total = service.windows_sent_total(),
                             .windows_lost_total = service.windows_lost_total(),
                             .windows_dropped_total = service.windows_dropped_total(),
                             .stream_cache_bytes = cs.bytes,
                             .stream_cache_entries = cs.entries,
                             .stream_cache_hits_total = cs.hits_total,
                             .stream_cache_misses_total = cs.misses_total,
                             .upstream_up = ps.state == upstream::UpstreamState::kUp,
                             .ready = ps.ready,
                             .poll_interval_ms = ps.poll_interval_ms};
  });
  upstream::PollerOptions poller_options;
  poller_options.on_round = [&self_metrics](const upstream::RoundReport& r) {
    metrics::RoundReport m{.duration_seconds = r.duration_seconds,
                           .ok = r.ok,
                           .samples_ingested = r.samples_ingested,
                           .failure_reasons = {}};
    for (upstream::FailureReason f : r.failures) {
      m.failure_reasons.push_back(upstream::FailureReasonName(f));
    }
    self_metrics.ObserveRound(m);
  };
  pollers.Set(std::make_shared<upstream::Poller>(cfg, &store, poller_options));

  absl::StatusOr<std::unique_ptr<server::GrpcServer>> grpc_server =
      server::GrpcServer::Start(cfg.grpc_listen_address, &service,
                                {.cert_file = cfg.server_tls.cert_file,
                                 .key_file = cfg.server_tls.key_file,
                                 .client_ca_file = cfg.server_tls.client_ca_file,
                                 .require_client_cert = cfg.server_tls.require_client_cert,
                                 .bearer_tokens = cfg.server_auth.bearer_tokens});
  if (!grpc_server.ok()) {
    spdlog::error("startup failed error={}",
                  logging::Quote(std::string(grpc_server.status().message())));
    return 1;
  }
  spdlog::info("grpc listening address={} port={} tls={} client_auth={} bearer_auth={}",
               cfg.grpc_listen_address, (*grpc_server)->port(), cfg.server_tls.enabled(),
               cfg.server_tls.require_client_cert ? "require" : "none",
               !cfg.server_auth.bearer_tokens.empty());

  ReloadQueue reload_queue(pthread_self());
  std::vector<web::Route> routes;
  routes.push_back({"/metrics", {"GET", "HEAD"}, web::Sync([&](const web::Request&) {
                      return web::Response{
                          .content_type = std::string(metrics::SelfMetrics::kContentType),
                          .body = self_metrics.Render()};
                    })});
  routes.push_back({"/-/healthy", {"GET", "HEAD"}, web::Sync([&](const web::Request&) {
                      if (!pollers.Get()->Running()) {
                        return web::Response{.status = 503, .body = "poller is not running\n"};
                      }
                      return web::Response{.body = "promfeed is Healthy.\n"};
                    })});
  routes.push_back({"/-/ready", {"GET", "HEAD"}, web::Sync([&](const web::Request&) {
                      const upstream::PollerStats s = pollers.Stats();
                      if (s.ready) return web::Response{.body = "promfeed is Ready.\n"};
                      const absl::Status why = absl::UnavailableError(
                          "not ready: waiting for the first successful poll of " + s.upstream_url +
                          (s.last_error.empty() ? "" : " (last error: " + s.last_error + ")"));
                      return web::Response{.status = server::ToHttpStatus(why),
                                           .body = std::string(why.message()) + "\n"};
                    })});
  routes.push_back({"/-/reload", {"POST"}, [&](const web::Request&, web::Respond respond) {
                      reload_queue.Push(std::move(respond));
                    }});
  absl::StatusOr<std::unique_ptr<web::WebServer>> web_server =
      web::WebServer::Start(cfg.web_listen_address, std::move(routes));
  if (!web_server.ok()) {
    spdlog::error("startup failed error={}",
                  logging::Quote(std::string(web_server.status().message())));
    (*grpc_server)->Shutdown(0);
    return 1;
  }
  spdlog::info("web listening address={} port={}", cfg.web_listen_address, (*web_server)->port());

  if (absl::Status s = pollers.Get()->Start(); !s.ok()) {
    spdlog::error("startup failed error={}", logging::Quote(std::string(s.message())));
    (*web_server)->Stop();
    (*grpc_server)->Shutdown(0);
    return 1;
  }
  Notify("READY=1\nSTATUS=started; waiting for the first poll of " + cfg.upstream.url);

  // Reloads run here, on the main thread: SIGHUP and POST /-/reload alike.
  const auto reload = [&](std::string_view source) -> absl::Status {
    Notify(ReloadingMessage());
    spdlog::info("reload requested source={} config={}", source, logging::Quote(flags.config_file));
    absl::StatusOr<config::Config> next = config::LoadConfigFile(flags.config_file);
    if (!next.ok()) {
      const std::string error(next.status().message());
      spdlog::error("reload failed config={} error={}", logging::Quote(flags.config_file),
                    logging::Quote(error));
      self_metrics.ObserveReload(false, UnixSeconds());
      Notify("READY=1\nSTATUS=reload failed, previous configuration kept: " + error);
      return absl::InternalError("reload failed, previous configuration kept: " + error);
    }
    ApplyFlags(flags, &*next);
    KeepRestartOnlySettings(cfg, &*next);
    if (next->log_level != cfg.log_level || next->log_format != cfg.log_format) {
      if (absl::Status s = logging::Configure(next->log_level, next->log_format); !s.ok()) {
        spdlog::warn("reload log settings not applied error={}",
                     logging::Quote(std::string(s.message())));
      }
    }
    const std::vector<std::string> old_keys = InputKeys(cfg), new_keys = InputKeys(*next);
    int added = 0, kept = 0;
    for (const std::string& k : new_keys) {
      (std::find(old_keys.begin(), old_keys.end(), k) != old_keys.end() ? kept : added)++;
    }
    const int removed = static_cast<int>(old_keys.size()) - kept;
    absl::Status result;
    if (old_keys != new_keys || !SameUpstream(cfg.upstream, next->upstream) ||
        next->backfill_ms != cfg.backfill_ms) {
      // Same store, new poller: unchanged inputs continue where the old poller stopped.
      std::shared_ptr<upstream::Poller> old = pollers.Get();
      old->Stop();
      upstream::Poller::Progress progress = old->TakeProgress();
      if (next->upstream.url != cfg.upstream.url) progress.clear();  // Another source.
      auto fresh = std::make_shared<upstream::Poller>(*next, &store, poller_options);
      fresh->SeedProgress(progress);
      if (absl::Status s = fresh->Start(); !s.ok()) {
        // Cannot happen for a config that loaded; keep polling with the old settings.
        fresh = std::make_shared<upstream::Poller>(cfg, &store, poller_options);
        fresh->SeedProgress(old->TakeProgress());
        (void)fresh->Start();
        *next = cfg;
        result = absl::InternalError("reload failed, previous configuration kept: " +
                                     std::string(s.message()));
      }
      pollers.Set(std::move(fresh));
    }
    if (!result.ok()) {
      spdlog::error("reload failed error={}", logging::Quote(std::string(result.message())));
      self_metrics.ObserveReload(false, UnixSeconds());
      Notify("READY=1\nSTATUS=" + std::string(result.message()));
      return result;
    }
    cfg = *std::move(next);
    spdlog::info("reload done inputs={} added={} removed={} kept={}", cfg.inputs.size(), added,
                 removed, kept);
    self_metrics.ObserveReload(true, UnixSeconds());
    Notify("READY=1\nSTATUS=configuration reloaded: " + std::to_string(cfg.inputs.size()) +
           " inputs");
    return absl::OkStatus();
  };

  // Watchdog: WATCHDOG=1 at half of WatchdogSec, only while the poller thread runs and the
  // gRPC server answers a GetStatus from this process.
  uint64_t watchdog_usec = 0;
  const bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0;
  const auto watchdog_every = std::chrono::microseconds(watchdog_usec / 2);
  auto next_watchdog = std::chrono::steady_clock::now();
  std::unique_ptr<v1::MetricFeed::Stub> self_probe;
  if (watchdog) {
    // In process: no TLS client certificate needed.
    self_probe = v1::MetricFeed::NewStub((*grpc_server)->InProcessChannel());
    spdlog::info("systemd watchdog enabled interval={}",
                 FormatDurationMs(static_cast<int64_t>(watchdog_usec / 1000)));
  }
  const auto alive = [&]() -> absl::Status {
    if (!pollers.Get()->Running()) return absl::InternalError("poller thread not running");
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    if (!cfg.server_auth.bearer_tokens.empty()) {
      ctx.AddMetadata("authorization", "Bearer " + cfg.server_auth.bearer_tokens.front());
    }
    v1::GetStatusRequest req;
    v1::GetStatusResponse resp;
    if (grpc::Status s = self_probe->GetStatus(&ctx, req, &resp); !s.ok()) {
      return absl::UnavailableError("gRPC self-check failed: " + s.error_message());
    }
    return absl::OkStatus();
  };

  bool ready = false;
  upstream::UpstreamState upstream_state = upstream::UpstreamState::kUnknown;
  for (;;) {
    int64_t wait_ms = 200;
    if (watchdog) {
      wait_ms = std::clamp<int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        next_watchdog - std::chrono::steady_clock::now())
                                        .count(),
                                    0, wait_ms);
    }
    const int sig = WaitSignal(signals, wait_ms);
    if (IsStop(sig)) {
      spdlog::info("shutting down signal={} deadline={}", strsignal(sig),
                   FormatDurationMs(cfg.shutdown_timeout_ms));
      break;
    }
    // One reload answers every request waiting now (they would all read the same file).
    std::vector<web::Respond> waiting = reload_queue.Take();
    if (sig == SIGHUP || !waiting.empty()) {
      const absl::Status s = reload(sig == SIGHUP ? "SIGHUP" : "http");
      for (web::Respond& respond : waiting) {
        respond(s.ok() ? web::Response{.body = "configuration reloaded\n"}
                       : web::Response{.status = server::ToHttpStatus(s),
                                       .body = std::string(s.message()) + "\n"});
      }
    }
    const upstream::PollerStats stats = pollers.Stats();
    if (stats.ready != ready || stats.state != upstream_state) {
      if (stats.ready != ready) {
        ready = stats.ready;
        (*grpc_server)->SetReady(ready);
        if (ready) {
          const store::StoreStats st = store.Stats();
          spdlog::info("ready series={} samples={}", st.series, st.samples_held);
        }
      }
      upstream_state = stats.state;
      const store::StoreStats st = store.Stats();
      Notify("STATUS=" + std::string(ready ? "ready" : "not ready") + "; upstream " +
             std::string(upstream::UpstreamStateName(upstream_state)) + "; " +
             std::to_string(st.series) + " series");
    }
    if (watchdog && std::chrono::steady_clock::now() >= next_watchdog) {
      next_watchdog = std::chrono::steady_clock::now() + watchdog_every;
      if (absl::Status s = alive(); s.ok()) {
        Notify("WATCHDOG=1");
      } else {
        spdlog::error("watchdog withheld error={}", logging::Quote(std::string(s.message())));
      }
    }
  }

  // Reload requests still waiting are refused; then streams learn of the shutdown
  // (UNAVAILABLE), the gRPC server stops, cancelling whatever is still open at the deadline,
  // and polling stops.
  Notify("STOPPING=1\nSTATUS=shutting down");
  const auto started = std::chrono::steady_clock::now();
  for (web::Respond& respond : reload_queue.Take()) {
    respond({.status = 503, .body = "shutting down\n"});
  }
  (*web_server)->Stop();
  service.BeginShutdown();
  (*grpc_server)->Shutdown(cfg.shutdown_timeout_ms);
  pollers.Get()->Stop();
  spdlog::info("stopped took_ms={}", std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - started)
                                         .count());
  return 0;
}

}  // namespace
}  // namespace promfeed

int main(int argc, char** argv) {
  if (argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::fputs(promfeed::kUsage, stdout);
    return 0;
  }
  if (argc >= 2 && std::strcmp(argv[1], "--version") == 0) {
    std::printf("promfeed, version %s\n", PROMFEED_VERSION);
    return 0;
  }
  if (argc >= 2 && std::strcmp(argv[1], "check") == 0) {
    if (argc != 4 || std::strcmp(argv[2], "config") != 0) {
      std::fprintf(stderr, "usage: promfeed check config FILE\n");
      return 2;
    }
    return promfeed::CheckConfig(argv[3]);
  }
  promfeed::Flags flags;
  if (!promfeed::ParseFlags(argc, argv, &flags)) return 2;
  return promfeed::Run(flags);
}
