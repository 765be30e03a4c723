// promfeedctl: a command-line client of the promfeed daemon, built on promfeed::client.
// Usage: promfeedctl --help.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/cpp/tools/format.h"
#include "promfeed/client.h"

namespace promfeed::ctl {
namespace {

using client::Client;
using client::ClientOptions;

constexpr char kUsage[] =
    R"(usage: promfeedctl [--target=HOST:PORT] [--timeout=DURATION] [--wait] [--tls ...] COMMAND ...

Commands:
  series [SELECTOR...]     series the daemon holds (all when no selector), with samples held
  tail SELECTOR...         follow: print each new grid row as it becomes final
        [--step=DURATION] [--count=N] (stop after N rows)
  windows --window=N SELECTOR...
        [--shift=N] [--step=DURATION] [--start=TIME] [--end=TIME] [--fill=nan|previous|zero|drop]
        [--csv]            sliding windows: one line per window row (table or CSV)
  status                   the daemon's upstream, polling, memory and streams

Flags:
  --target=HOST:PORT       daemon gRPC address (default 127.0.0.1:9401; env PROMFEED_TARGET)
  --timeout=DURATION       deadline of calls (default 30s)
  --wait                   wait up to --timeout for the daemon instead of failing fast
  --tls                    connect with TLS, verifying the daemon with the system CAs
  --ca-file=PEM            CA bundle that verifies the daemon (implies --tls)
  --cert-file=PEM --key-file=PEM
                           client certificate and key for mutual TLS (implies --tls)
  --token-file=PATH        bearer token file (first non-comment line), sent on every call
TIME is now, -DURATION (e.g. -5m) or epoch milliseconds; DURATION is e.g. 500ms, 15s, 5m, 1h30m.
Exit status: 0 ok, 1 the daemon returned an error, 2 bad usage.
)";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int Usage(absl::string_view why) {
  std::fprintf(stderr, "promfeedctl: %s\n(run promfeedctl --help for usage)\n",
               std::string(why).c_str());
  return 2;
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "promfeedctl: %s: %s\n", absl::StatusCodeToString(s.code()).c_str(),
               std::string(s.message()).c_str());
  return 1;
}

// --name=value flags and positional arguments of one command.
struct Args {
  std::map<std::string, std::string> flags;
  std::vector<std::string> positional;

  std::optional<std::string> Get(const std::string& name) const {
    auto it = flags.find(name);
    if (it == flags.end()) return std::nullopt;
    return it->second;
  }
};

// Splits argv into flags (--a=b, --a b for flags that take values, --bool) and positionals.
// Returns an error naming an unknown flag.
absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& argv,
                               const std::vector<std::string>& value_flags,
                               const std::vector<std::string>& bool_flags) {
  Args a;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& s = argv[i];
    if (s == "--") {
      a.positional.insert(a.positional.end(), argv.begin() + i + 1, argv.end());
      break;
    }
    if (!absl::StartsWith(s, "--")) {
      a.positional.push_back(s);
      continue;
    }
    std::string name = s.substr(2), value;
    const size_t eq = name.find('=');
    bool has_value = eq != std::string::npos;
    if (has_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const bool takes = std::find(value_flags.begin(), value_flags.end(), name) != value_flags.end();
    const bool is_bool = std::find(bool_flags.begin(), bool_flags.end(), name) != bool_flags.end();
    if (!takes && !is_bool) {
      return absl::InvalidArgumentError(absl::StrCat("bad flag --", name, " for this command"));
    }
    if (takes && !has_value) {
      if (i + 1 >= argv.size()) {
        return absl::InvalidArgumentError(absl::StrCat("bad flag --", name, ": needs a value"));
      }
      value = argv[++i];
    }
    if (is_bool && has_value && value != "true" && value != "false") {
      return absl::InvalidArgumentError(absl::StrCat("bad flag --", name, "=", value, ": write --",
                                                     name, " or --", name, "=false"));
    }
    a.flags[name] = is_bool && !has_value ? "true" : value;
  }
  return a;
}

absl::StatusOr<int> ParseInt(const Args& a, const std::string& name, int def, int min) {
  auto v = a.Get(name);
  if (!v) return def;
  char* end = nullptr;
  long n = std::strtol(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || n < min || n > 1'000'000'000) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad --", name, "=", *v, ": want an integer >= ", min));
  }
  return static_cast<int>(n);
}

// Short column names for features: __name__ plus the labels that tell the features apart.
std::vector<std::string> ShortNames(const std::vector<client::Series>& fs) {
  std::map<std::string, std::map<std::string, int>> values;  // label -> value -> count
  for (const auto& f : fs) {
    for (const auto& l : f.labels) values[l.name][l.value]++;
  }
  std::vector<std::string> out;
  for (const auto& f : fs) {
    std::string inner;
    for (const auto& l : f.labels) {
      if (l.name == "__name__" || values[l.name].size() <= 1) continue;
      absl::StrAppend(&inner, inner.empty() ? "" : ",", l.name, "=", l.value);
    }
    std::string name = f.Get("__name__");
    out.push_back(inner.empty() ? name : absl::StrCat(name, "{", inner, "}"));
  }
  return out;
}

// A progress line on stderr for long reads: only when stderr is a terminal, only after the
// read has taken a second, at most ten updates a second; erased when done.
class Progress {
 public:
  Progress() : tty_(isatty(STDERR_FILENO) == 1), start_(std::chrono::steady_clock::now()) {}
  ~Progress() { Done(); }
  void Update(int64_t rows, int64_t total, int64_t windows) {
    if (!tty_) return;
    auto now = std::chrono::steady_clock::now();
    if (now - start_ < std::chrono::seconds(1) || now - last_ < std::chrono::milliseconds(100)) {
      return;
    }
    last_ = now;
    std::string line = total > 0 ? absl::StrFormat("rows %s/%s (%d%%)", Grouped(rows),
                                                   Grouped(total), rows * 100 / total)
                                 : absl::StrCat("rows ", Grouped(rows));
    absl::StrAppend(&line, "  windows ", Grouped(windows));
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    shown_ = true;
  }
  void Done() {
    if (shown_) std::fprintf(stderr, "\r\033[K");
    shown_ = false;
  }

 private:
  bool tty_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

int CmdSeries(Client& c, const std::vector<std::string>& argv) {
  auto a = ParseArgs(argv, {"limit"}, {});
  if (!a.ok()) return Usage(a.status().message());
  auto limit = ParseInt(*a, "limit", 0, 0);
  if (!limit.ok()) return Usage(limit.status().message());
  auto series = c.ListSeries(a->positional, *limit);
  if (!series.ok()) return Fail(series.status());
  const int64_t now = NowMs();
  Table t({"SERIES", "SAMPLES", "OLDEST", "NEWEST"}, {false, true, true, true});
  for (const auto& s : *series) {
    t.Add({s.ToString(), Grouped(s.samples_held), Ago(s.oldest_time_ms, now),
           Ago(s.newest_time_ms, now)});
  }
  std::fputs(t.Render().c_str(), stdout);
  std::fprintf(stderr, "%zu series\n", series->size());
  return 0;
}

int CmdStatus(Client& c, const std::vector<std::string>& argv) {
  if (!argv.empty()) return Usage("status takes no arguments");
  auto s = c.GetStatus();
  if (!s.ok()) return Fail(s.status());
  const int64_t now = NowMs();
  Table t({"", ""});
  auto row = [&](std::string k, std::string v) { t.Add({std::move(k), std::move(v)}); };
  row("version", s->version);
  row("ready", s->ready ? "yes" : "no (warming up)");
  row("upstream", absl::StrCat(s->upstream_url, " ", s->upstream_up ? "up" : "DOWN"));
  if (!s->last_error.empty()) row("last error", s->last_error);
  row("last poll", absl::StrCat(Ago(s->last_poll_time_ms, now), " (took ",
                                HumanDuration(s->last_poll_duration_ms), ")"));
  row("poll interval", HumanDuration(s->poll_interval_ms));
  row("polls",
      absl::StrCat(Grouped(s->polls_total), " (", Grouped(s->poll_failures_total), " failed)"));
  row("series", absl::StrCat(Grouped(s->series_count), " of ", Grouped(s->max_series), " max (",
                             Grouped(s->series_rejected_total), " rejected)"));
  row("samples held", Grouped(s->samples_held));
  row("ring memory", HumanBytes(static_cast<double>(s->ring_bytes)));
  row("retention", HumanDuration(s->retention_ms));
  row("complete through", s->complete_through_ms > 0
                              ? absl::StrCat(LocalTime(s->complete_through_ms), " (",
                                             Ago(s->complete_through_ms, now), ")")
                              : "-");
  row("active streams", absl::StrCat(s->active_streams));
  std::string out = t.Render();
  std::fputs(out.substr(out.find('\n') + 1).c_str(), stdout);  // no header line
  return 0;
}

// Prints rows as they arrive: one line per grid row (tail) or per window row (windows).
int CmdStream(Client& c, const std::vector<std::string>& argv, bool tail) {
  auto a = tail ? ParseArgs(argv, {"step", "count", "start", "lookback"}, {"csv"})
                : ParseArgs(argv,
                            {"window", "shift", "step", "start", "end", "fill", "lookback",
                             "max-rows-per-message"},
                            {"csv"});
  if (!a.ok()) return Usage(a.status().message());
  if (a->positional.empty()) return Usage("give at least one SELECTOR");
  const int64_t now = NowMs();
  client::WindowsRequest req;
  req.features = a->positional;
  req.dtype = client::DType::kFloat64;
  const bool csv = a->Get("csv") == "true";
  if (auto v = a->Get("step")) {
    auto d = ParseDuration(*v);
    if (!d.ok()) return Usage(d.status().message());
    req.step_ms = *d;
  }
  if (auto v = a->Get("lookback")) {
    auto d = ParseDuration(*v);
    if (!d.ok()) return Usage(d.status().message());
    req.lookback_ms = *d;
  }
  int64_t count = -1;
  if (tail) {
    req.window = 1;
    req.follow = true;
    auto n = ParseInt(*a, "count", -1, 1);
    if (!n.ok()) return Usage(n.status().message());
    count = *n;
    // Default: rows from now on (the newest final row onwards).
    auto st = ParseTime(a->Get("start").value_or("now"), now);
    if (!st.ok()) return Usage(st.status().message());
    req.start_ms = *st;
  } else {
    if (!a->Get("window")) return Usage("windows needs --window=N (rows per window)");
    auto w = ParseInt(*a, "window", 1, 1);
    auto sh = ParseInt(*a, "shift", 1, 1);
    auto mr = ParseInt(*a, "max-rows-per-message", 0, 0);
    for (const auto* s : {&w, &sh, &mr}) {
      if (!s->ok()) return Usage(s->status().message());
    }
    req.window = *w;
    req.shift = *sh;
    req.max_rows_per_message = *mr;
    auto st = ParseTime(a->Get("start").value_or("-5m"), now);
    if (!st.ok()) return Usage(st.status().message());
    req.start_ms = *st;
    if (auto e = a->Get("end")) {
      auto et = ParseTime(*e, now);
      if (!et.ok()) return Usage(et.status().message());
      req.end_ms = *et;
    }
    if (auto f = a->Get("fill")) {
      auto fill = client::ParseFill(*f);
      if (!fill.ok()) return Usage(fill.status().message());
      req.fill = *fill;
    }
  }
  auto stream = c.StreamWindows(req);
  if (!stream.ok()) return Fail(stream.status());
  const client::StreamHeader& h = (*stream)->header();
  const size_t f = h.num_features();

  // Column layout: fixed widths from the header so lines align while streaming.
  // Names longer than kMaxName are shown as "col N" with the full series on stderr.
  constexpr size_t kMaxName = 40;
  std::vector<std::string> names = ShortNames(h.features);
  std::vector<bool> bytes(f);
  std::vector<size_t> width(f);
  for (size_t j = 0; j < f; ++j) {
    bytes[j] = absl::EndsWith(h.features[j].Get("__name__"), "_bytes");
    if (names[j].size() > kMaxName) names[j] = absl::StrCat("col ", j + 1);
    width[j] = std::max<size_t>(12, names[j].size());
  }
  const size_t time_w = 19;
  if (csv) {
    std::string line = tail ? "time_ms" : "window,time_ms";
    for (const auto& s : h.features) {
      std::string q = s.ToString();
      std::string esc;
      for (char ch : q) esc += ch == '"' ? std::string("\"\"") : std::string(1, ch);
      absl::StrAppend(&line, ",\"", esc, "\"");
    }
    std::puts(line.c_str());
  } else {
    for (size_t j = 0; j < f; ++j) {
      if (names[j] == absl::StrCat("col ", j + 1)) {
        std::fprintf(stderr, "col %zu: %s\n", j + 1, h.features[j].ToString().c_str());
      }
    }
    std::string line = tail ? "" : Pad("WINDOW", 8, true) + "  ";
    line += Pad("TIME", time_w, false);
    for (size_t j = 0; j < f; ++j) {
      absl::StrAppend(&line, "  ", Pad(names[j], width[j], true));
    }
    std::puts(line.c_str());
  }
  std::fflush(stdout);

  Progress progress;
  const int64_t total = h.expected_rows();
  int64_t printed = 0;
  while (count < 0 || printed < count) {
    auto batch = (*stream)->Next();
    if (!batch.ok()) {
      progress.Done();
      return Fail(batch.status());
    }
    if (*batch == nullptr) break;
    const client::WindowBatch& b = **batch;
    if (b.lost() > 0) {
      progress.Done();
      std::fprintf(stderr, "lost %lld windows (reading slower than the ring turns over)\n",
                   static_cast<long long>(b.lost()));
    }
    std::string out;
    for (size_t i = 0; i < b.size() && (count < 0 || printed < count); ++i) {
      auto times = b.time_ms(i);
      for (size_t r = 0; r < times.size(); ++r) {
        std::string line;
        if (csv) {
          line = tail ? absl::StrCat(times[r]) : absl::StrCat(b.index(i), ",", times[r]);
          for (size_t j = 0; j < f; ++j) {
            absl::StrAppend(&line, ",", absl::StrFormat("%.17g", b.value(i, r, j)));
          }
        } else {
          if (!tail) line = Pad(absl::StrCat(b.index(i)), 8, true) + "  ";
          line += Pad(LocalTime(times[r]), time_w, false);
          for (size_t j = 0; j < f; ++j) {
            absl::StrAppend(&line, "  ",
                            Pad(CellValue(b.value(i, r, j), bytes[j]), width[j], true));
          }
        }
        out += line + "\n";
      }
      ++printed;
    }
    if (!out.empty()) {
      progress.Done();
      std::fputs(out.c_str(), stdout);
      if (tail) std::fflush(stdout);
    }
    progress.Update((*stream)->rows_received(), total, (*stream)->windows_emitted());
  }
  progress.Done();
  std::fflush(stdout);
  if (!tail) {
    std::fprintf(stderr, "%lld windows, %lld rows, %lld dropped, %lld lost\n",
                 static_cast<long long>((*stream)->windows_emitted()),
                 static_cast<long long>((*stream)->rows_received()),
                 static_cast<long long>((*stream)->dropped_windows_total()),
                 static_cast<long long>((*stream)->lost_windows_total()));
  }
  return 0;
}

int Main(int argc, char** argv) {
  ClientOptions opts;
  if (const char* t = std::getenv("PROMFEED_TARGET"); t != nullptr && *t) opts.target = t;
  int i = 1;
  for (; i < argc && absl::StartsWith(argv[i], "--"); ++i) {
    const std::string s = argv[i];
    if (s == "--help" || s == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (s == "--version") {
      std::printf("promfeedctl, version %s\n", PROMFEED_VERSION);
      return 0;
    }
    if (s == "--wait") {
      opts.wait_for_ready = true;
    } else if (absl::StartsWith(s, "--target=")) {
      opts.target = s.substr(9);
    } else if (s == "--tls") {
      opts.tls = true;
    } else if (absl::StartsWith(s, "--ca-file=")) {
      opts.ca_file = s.substr(10);
    } else if (absl::StartsWith(s, "--cert-file=")) {
      opts.cert_file = s.substr(12);
    } else if (absl::StartsWith(s, "--key-file=")) {
      opts.key_file = s.substr(11);
    } else if (absl::StartsWith(s, "--token-file=")) {
      opts.token_file = s.substr(13);
    } else if (absl::StartsWith(s, "--timeout=")) {
      auto d = ParseDuration(std::string_view(s).substr(10));
      if (!d.ok() || *d <= 0) return Usage(absl::StrCat("bad --timeout: ", s.substr(10)));
      opts.timeout = std::chrono::milliseconds(*d);
    } else {
      return Usage(absl::StrCat("unknown flag ", s, " (global flags come before the command)"));
    }
  }
  if (i >= argc) return Usage("missing COMMAND: series, tail, windows or status");
  const std::string cmd = argv[i];
  std::vector<std::string> rest(argv + i + 1, argv + argc);
  Client c(opts);
  if (cmd == "series") return CmdSeries(c, rest);
  if (cmd == "status") return CmdStatus(c, rest);
  if (cmd == "tail") return CmdStream(c, rest, /*tail=*/true);
  if (cmd == "windows") return CmdStream(c, rest, /*tail=*/false);
  return Usage(absl::StrCat("unknown command \"", cmd, "\": use series, tail, windows or status"));
}

}  // namespace
}  // namespace promfeed::ctl

int main(int argc, char** argv) { return promfeed::ctl::Main(argc, argv); }
