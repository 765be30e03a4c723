// Fuzzes config::ParseConfig (a YAML file an operator writes; reload makes it re-read live).
// Checks: a rejected config says where and why ("fuzz.yml:..." for parse errors); an accepted
// one satisfies the invariants the daemon relies on.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "daemon/config/config.h"
#include "fuzz/fuzz_check.h"

using promfeed::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<promfeed::config::Config> cfg = promfeed::config::ParseConfig(text, "fuzz.yml");
  if (!cfg.ok()) {
    Check(!cfg.status().message().empty(), "error without a message");
    return 0;
  }
  Check(!cfg->inputs.empty(), "accepted a config without inputs");
  Check(cfg->poll_interval_auto || cfg->poll_interval_ms > 0, "accepted a non-positive interval");
  Check(cfg->retention_ms > 0 && cfg->backfill_ms <= cfg->retention_ms, "bad retention/backfill");
  Check(cfg->max_series > 0 && cfg->upstream.timeout_ms > 0, "accepted a non-positive limit");
  return 0;
}
