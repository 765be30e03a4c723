// promfeed: polls Prometheus, keeps ring buffers per series and serves time-aligned sliding
// windows over gRPC. Usage: promfeed --help.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/logging/logging.h"
#include "daemon/model/duration.h"
#include "daemon/server/grpc_server.h"
#include "daemon/server/metric_feed_service.h"
#include "daemon/store/series_store.h"
#include "daemon/upstream/poller.h"

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

Signals: SIGTERM/SIGINT shut down cleanly within server.shutdown_timeout.
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

int Run(const Flags& flags) {
  absl::StatusOr<config::Config> loaded = config::LoadConfigFile(flags.config_file);
  if (!loaded.ok()) {
    std::fprintf(stderr, "promfeed: invalid configuration: %s\n",
                 std::string(loaded.status().message()).c_str());
    return 1;
  }
  config::Config cfg = *std::move(loaded);
  if (flags.grpc_address) cfg.grpc_listen_address = *flags.grpc_address;
  if (flags.web_address) cfg.web_listen_address = *flags.web_address;
  if (flags.log_level) cfg.log_level = *flags.log_level;
  if (flags.log_format) cfg.log_format = *flags.log_format;
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
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  spdlog::info("starting promfeed version={} config={} upstream={} inputs={}", PROMFEED_VERSION,
               logging::Quote(flags.config_file),
               cfg.upstream.url,  // The config rejects credentials in URLs.
               cfg.inputs.size());

  // `poll_interval: auto` asks Prometheus; keep asking until it answers or we are stopped.
  if (cfg.poll_interval_auto) {
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
  upstream::Poller poller(cfg, &store);

  server::ServiceOptions opts;
  opts.version = PROMFEED_VERSION;
  opts.max_streams = cfg.max_streams;
  opts.retention_ms = cfg.retention_ms;
  opts.max_series = cfg.max_series;
  opts.now_ms = NowMs;
  opts.upstream_status = [&poller] {
    const upstream::PollerStats s = poller.Stats();
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
  absl::StatusOr<std::unique_ptr<server::GrpcServer>> grpc_server =
      server::GrpcServer::Start(cfg.grpc_listen_address, &service);
  if (!grpc_server.ok()) {
    spdlog::error("startup failed error={}",
                  logging::Quote(std::string(grpc_server.status().message())));
    return 1;
  }
  spdlog::info("grpc listening address={} port={}", cfg.grpc_listen_address,
               (*grpc_server)->port());
  if (absl::Status s = poller.Start(); !s.ok()) {
    spdlog::error("startup failed error={}", logging::Quote(std::string(s.message())));
    return 1;
  }

  bool ready = false;
  for (;;) {
    const int sig = WaitSignal(signals, 200);
    if (IsStop(sig)) {
      spdlog::info("shutting down signal={} deadline={}", strsignal(sig),
                   FormatDurationMs(cfg.shutdown_timeout_ms));
      break;
    }
    if (sig == SIGHUP) {
      spdlog::warn("reload requested but not supported by this build; restart to apply config");
    }
    if (const bool now_ready = poller.Stats().ready; now_ready != ready) {
      ready = now_ready;
      (*grpc_server)->SetReady(ready);
      if (ready) {
        const store::StoreStats stats = store.Stats();
        spdlog::info("ready series={} samples={}", stats.series, stats.samples_held);
      }
    }
  }

  // Streams learn of the shutdown first (UNAVAILABLE), then the server stops, cancelling
  // whatever is still open at the deadline, then polling stops.
  const auto started = std::chrono::steady_clock::now();
  service.BeginShutdown();
  (*grpc_server)->Shutdown(cfg.shutdown_timeout_ms);
  poller.Stop();
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
