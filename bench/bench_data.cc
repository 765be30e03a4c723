#include "bench/bench_data.h"

#include <cstdio>
#include <vector>

namespace promfeed::bench {
namespace {
constexpr const char* kModes[] = {"idle",    "iowait", "irq",    "nice",
                                  "softirq", "steal",  "system", "user"};
constexpr const char* kNames[] = {"node_cpu_seconds_total",
                                  "node_network_receive_bytes_total",
                                  "node_disk_read_bytes_total",
                                  "coredns_dns_requests_total",
                                  "process_cpu_seconds_total",
                                  "go_memstats_alloc_bytes",
                                  "node_memory_MemFree_bytes",
                                  "http_requests_total",
                                  "node_load1",
                                  "up"};

struct Parts {
  std::string name, cpu, instance, mode;
};

Parts PartsOf(size_t i) {
  Parts p;
  p.name = kNames[i % 10];
  p.mode = kModes[(i / 10) % 8];
  p.cpu = std::to_string((i / 80) % 64);
  p.instance =
      "10.0." + std::to_string((i / 5120) % 256) + "." + std::to_string(i / 5120 / 256) + ":9100";
  return p;
}
}  // namespace

Labels SeriesLabels(size_t i) {
  Parts p = PartsOf(i);
  return Labels(std::vector<Label>{{"__name__", p.name},
                                   {"cpu", p.cpu},
                                   {"instance", p.instance},
                                   {"job", "node"},
                                   {"mode", p.mode}});
}

std::string MatrixResponse(size_t series, size_t points, int64_t start_ms, int64_t step_ms,
                           size_t* samples) {
  std::string out = R"({"status":"success","data":{"resultType":"matrix","result":[)";
  char buf[96];
  for (size_t i = 0; i < series; ++i) {
    Parts p = PartsOf(i);
    if (i > 0) out += ',';
    out += R"({"metric":{"__name__":")" + p.name + R"(","cpu":")" + p.cpu + R"(","instance":")" +
           p.instance + R"(","job":"node","mode":")" + p.mode + R"("},"values":[)";
    for (size_t k = 0; k < points; ++k) {
      const int64_t t = start_ms + static_cast<int64_t>(k) * step_ms;
      // Prometheus writes seconds with up to 3 decimals, values with Go's 'f'/-1 format.
      const double v = 1000.0 + static_cast<double>(i) * 3.25 + static_cast<double>(k) * 0.37;
      int n;
      if (t % 1000 == 0) {
        n = std::snprintf(buf, sizeof buf, "%s[%lld,\"%.2f\"]", k ? "," : "",
                          static_cast<long long>(t / 1000), v);
      } else {
        n = std::snprintf(buf, sizeof buf, "%s[%lld.%03lld,\"%.2f\"]", k ? "," : "",
                          static_cast<long long>(t / 1000), static_cast<long long>(t % 1000), v);
      }
      out.append(buf, n);
    }
    out += "]}";
  }
  out += "]}}";
  *samples = series * points;
  return out;
}

}  // namespace promfeed::bench
