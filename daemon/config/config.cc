#include "daemon/config/config.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "daemon/model/duration.h"
#include "daemon/model/str_cat.h"

namespace promfeed::config {
namespace {

#define PF_RETURN_IF_ERROR(expr)             \
  do {                                       \
    absl::Status pf_status_ = (expr);        \
    if (!pf_status_.ok()) return pf_status_; \
  } while (0)

#define PF_ASSIGN_OR_RETURN_IMPL(var, lhs, expr) \
  auto var = (expr);                             \
  if (!var.ok()) return var.status();            \
  lhs = *std::move(var)
#define PF_CONCAT_INNER(a, b) a##b
#define PF_CONCAT(a, b) PF_CONCAT_INNER(a, b)
#define PF_ASSIGN_OR_RETURN(lhs, expr) \
  PF_ASSIGN_OR_RETURN_IMPL(PF_CONCAT(pf_statusor_, __LINE__), lhs, expr)

using Keys = std::span<const std::string_view>;

constexpr std::string_view kTopKeys[] = {"global",  "upstream", "inputs",
                                         "storage", "server",   "log"};
constexpr std::string_view kGlobalKeys[] = {"poll_interval", "backfill"};
constexpr std::string_view kUpstreamKeys[] = {
    "url",     "timeout",    "bearer_token_file", "basic_auth",
    "headers", "tls_config", "max_response_bytes"};
constexpr std::string_view kBasicAuthKeys[] = {"username", "password", "password_file"};
constexpr std::string_view kTlsKeys[] = {"ca_file", "cert_file", "key_file", "server_name",
                                         "insecure_skip_verify"};
constexpr std::string_view kInputKeys[] = {"selector", "name", "expr"};
constexpr std::string_view kStorageKeys[] = {"retention", "max_series"};
constexpr std::string_view kServerKeys[] = {
    "grpc_listen_address", "web_listen_address", "max_streams", "stream_cache_bytes",
    "shutdown_timeout",    "tls_config",         "auth"};
constexpr std::string_view kServerTlsKeys[] = {"cert_file", "key_file", "client_ca_file",
                                               "client_auth"};
constexpr std::string_view kServerAuthKeys[] = {"bearer_tokens_file"};
constexpr std::string_view kLogKeys[] = {"level", "format"};

struct Section {
  std::string_view name;
  Keys keys;
};
// Where each key lives, to say "'retention' belongs under 'storage:'".
const Section kSections[] = {
    {"global", kGlobalKeys},
    {"upstream", kUpstreamKeys},
    {"upstream.basic_auth", kBasicAuthKeys},
    {"upstream.tls_config", kTlsKeys},
    {"inputs[]", kInputKeys},
    {"storage", kStorageKeys},
    {"server", kServerKeys},
    {"server.tls_config", kServerTlsKeys},
    {"server.auth", kServerAuthKeys},
    {"log", kLogKeys},
};

std::string JoinKeys(Keys keys) {
  std::string out;
  for (std::string_view k : keys) {
    if (!out.empty()) out += ", ";
    out += k;
  }
  return out;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// What to say after "unknown key 'x'".
std::string SuggestKey(std::string_view key, Keys known, std::string_view section) {
  std::string_view best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  std::string lower = Lower(key);
  for (std::string_view k : known) {
    size_t d = EditDistance(lower, k);
    if (d < best_distance) {
      best_distance = d;
      best = k;
    }
  }
  size_t limit = std::max<size_t>(2, key.size() / 3);
  if (!best.empty() && best_distance <= limit) return Cat("did you mean '", best, "'?");
  for (const Section& s : kSections) {
    if (s.name == section) continue;
    for (std::string_view k : s.keys) {
      if (k == lower) return Cat("'", k, "' belongs under '", s.name, "'");
    }
  }
  return Cat("known keys here: ", JoinKeys(known));
}

std::string_view KindOf(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a string";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

bool IsMetricName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool IsHeaderToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Port 0..65535 in decimal, or an error text.
std::string CheckPort(std::string_view port) {
  if (port.empty()) return "the port is missing";
  int value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || ptr != port.data() + port.size() || value < 0 || value > 65535 ||
      port[0] == '+' || port[0] == '-') {
    return Cat("port \"", port, "\" is not a number from 0 to 65535");
  }
  return "";
}

// Checks "host:port", "[v6]:port" or ":port"; returns an error text or "".
std::string CheckHostPort(std::string_view addr) {
  std::string_view host;
  std::string_view port;
  if (!addr.empty() && addr[0] == '[') {
    size_t close = addr.find(']');
    if (close == std::string_view::npos) return "the '[' of the IPv6 address is not closed";
    host = addr.substr(1, close - 1);
    std::string_view rest = addr.substr(close + 1);
    if (rest.empty() || rest[0] != ':') return "expected ':port' after the IPv6 address";
    port = rest.substr(1);
    if (host.empty()) return "the IPv6 address is empty";
  } else {
    size_t colon = addr.rfind(':');
    if (colon == std::string_view::npos) return "the ':port' is missing";
    host = addr.substr(0, colon);
    port = addr.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return "write IPv6 addresses in brackets";
  }
  for (char c : host) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '/' || c == '@' || c == '?' ||
        c == '#') {
      return Cat("host \"", host, "\" contains '", c, "'");
    }
  }
  return CheckPort(port);
}

struct Entry {
  YAML::Node key;
  YAML::Node value;
};

// The keys of one YAML map, checked against the known keys. Null values are left out (a key
// with nothing after it means "use the default", as in prometheus.yml).
struct MapView {
  YAML::Node node;
  std::map<std::string, Entry, std::less<>> entries;    // Keys with a value.
  std::map<std::string, YAML::Mark, std::less<>> keys;  // Every key, null-valued ones too.

  const Entry* Get(std::string_view key) const {
    auto it = entries.find(key);
    return it == entries.end() ? nullptr : &it->second;
  }
};

std::string Join(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : Cat(path, ".", key);
}

class Loader {
 public:
  Loader(std::string_view text, std::string_view filename)
      : text_(text), file_(filename), dir_(std::filesystem::path(filename).parent_path()) {}

  absl::StatusOr<Config> Load() {
    std::vector<YAML::Node> docs;
    try {
      PF_RETURN_IF_ERROR(CheckDocumentsEnd());
      docs = YAML::LoadAll(std::string(text_));
    } catch (const YAML::Exception& e) {
      return Error(e.mark, "",
                   Cat("YAML syntax error: ", e.msg,
                       "; fix the YAML (indent with spaces, quote values that "
                       "contain ': ' or start with a special character)"));
    }
    // A trailing '---' leaves an empty document behind: ignore those.
    while (docs.size() > 1 && docs.back().IsNull()) docs.pop_back();
    if (docs.size() > 1) {
      return Error(docs[1].Mark(), "",
                   Cat("the file holds ", docs.size(),
                       " YAML documents; keep one (remove the extra '---')"));
    }
    if (docs.empty() || docs[0].IsNull()) {
      return Error(YAML::Mark(), "",
                   "the configuration is empty; write at least an 'inputs:' list, e.g. "
                   "inputs: [{selector: up}] (see config/promfeed.example.yml)");
    }
    try {
      return LoadRoot(docs[0]);
    } catch (const YAML::Exception& e) {
      // yaml-cpp throws from accessors on malformed trees; keep it a Status.
      return Error(e.mark, "", Cat("invalid YAML: ", e.msg));
    }
  }

 private:
  // yaml-cpp 0.7's LoadAll never returns on some malformed input (a ',' where a document
  // should start, jbeder/yaml-cpp#1040): it emits empty documents at the same position
  // forever, each one allocating. Walk the documents first and fail on one that does not
  // advance. Found by fuzz/config_fuzzer (fuzz/regressions/config).
  absl::Status CheckDocumentsEnd() {
    struct DocStarts : YAML::EventHandler {
      YAML::Mark start;
      void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
      void OnDocumentEnd() override {}
      void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
      void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
      void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    const std::string&) override {}
      void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                           YAML::EmitterStyle::value) override {}
      void OnSequenceEnd() override {}
      void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                      YAML::EmitterStyle::value) override {}
      void OnMapEnd() override {}
    } starts;
    std::istringstream in{std::string(text_)};
    YAML::Parser parser(in);
    int previous_pos = -1;
    while (parser.HandleNextDocument(starts)) {
      if (starts.start.pos == previous_pos) {
        return Error(starts.start, "",
                     "YAML syntax error: unexpected character where a value should start; fix "
                     "the YAML (quote values that start with ',', '[' or '{')");
      }
      previous_pos = starts.start.pos;
    }
    return absl::OkStatus();
  }

  absl::Status Error(const YAML::Mark& mark, std::string_view path, std::string_view message) {
    int line = mark.line >= 0 ? mark.line + 1 : 1;
    int column = mark.column >= 0 ? mark.column + 1 : 1;
    std::string text = Cat(file_, ":", line, ":", column, ": ");
    if (!path.empty()) text += Cat(path, ": ");
    text += message;
    return absl::InvalidArgumentError(text);
  }

  // The mark of an entry's value, or of its key when the value has none.
  static YAML::Mark MarkOf(const Entry& e) {
    YAML::Mark m = e.value.Mark();
    return m.line >= 0 ? m : e.key.Mark();
  }

  std::string Location(const YAML::Mark& m) const {
    return Cat(file_, ":", m.line + 1, ":", m.column + 1);
  }

  absl::StatusOr<MapView> ReadMap(const YAML::Node& node, const YAML::Mark& fallback,
                                  std::string_view path, Keys known, std::string_view example) {
    if (!node.IsMap()) {
      YAML::Mark m = node.Mark().line >= 0 ? node.Mark() : fallback;
      return Error(m, path,
                   Cat("expected a map with keys ", JoinKeys(known), ", got ", KindOf(node),
                       "; write e.g. ", example));
    }
    MapView view;
    view.node = node;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node key = it->first;  // A copy: `it->` is a temporary proxy.
      if (!key.IsScalar()) {
        return Error(key.Mark(), path,
                     Cat("keys must be plain names, got ", KindOf(key),
                         " as a key; known keys "
                         "here: ",
                         JoinKeys(known)));
      }
      const std::string& name = key.Scalar();
      std::string key_path = Join(path, name);
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        std::string section = path.empty() ? "" : std::string(path);
        if (section.starts_with("inputs[")) section = "inputs[]";
        return Error(key.Mark(), key_path, Cat("unknown key; ", SuggestKey(name, known, section)));
      }
      if (auto first = view.keys.find(name); first != view.keys.end()) {
        return Error(
            key.Mark(), key_path,
            Cat("duplicate key (first set at line ", first->second.line + 1, "); keep only one"));
      }
      view.keys.emplace(name, key.Mark());
      if (!it->second.IsNull()) view.entries.emplace(name, Entry{key, it->second});
    }
    return view;
  }

  absl::StatusOr<std::string> String(const Entry& e, std::string_view path,
                                     std::string_view example) {
    if (!e.value.IsScalar()) {
      return Error(MarkOf(e), path,
                   Cat("expected a string, got ", KindOf(e.value), "; write e.g. ", example));
    }
    return e.value.Scalar();
  }

  absl::StatusOr<int64_t> Duration(const Entry& e, std::string_view path,
                                   std::string_view example) {
    if (!e.value.IsScalar()) {
      return Error(
          MarkOf(e), path,
          Cat("expected a duration string, got ", KindOf(e.value), "; write e.g. ", example));
    }
    absl::StatusOr<int64_t> ms = ParseDurationMs(e.value.Scalar());
    if (!ms.ok()) return Error(MarkOf(e), path, std::string(ms.status().message()));
    return *ms;
  }

  absl::StatusOr<int64_t> Integer(const Entry& e, std::string_view path, std::string_view what,
                                  std::string_view example) {
    if (!e.value.IsScalar()) {
      return Error(MarkOf(e), path,
                   Cat("expected an integer, got ", KindOf(e.value), "; write e.g. ", example));
    }
    const std::string& s = e.value.Scalar();
    int64_t value = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
      std::string_view why = ec == std::errc::result_out_of_range ? " (out of range)" : "";
      return Error(MarkOf(e), path,
                   Cat("expected an integer ", what, ", got \"", s, "\"", why,
                       "; write digits only, e.g. ", example));
    }
    return value;
  }

  absl::StatusOr<bool> Bool(const Entry& e, std::string_view path, std::string_view example) {
    bool value = false;
    if (!e.value.IsScalar() || !YAML::convert<bool>::decode(e.value, value)) {
      std::string got =
          e.value.IsScalar() ? Cat("\"", e.value.Scalar(), "\"") : std::string(KindOf(e.value));
      return Error(MarkOf(e), path,
                   Cat("expected true or false, got ", got, "; write e.g. ", example));
    }
    return value;
  }

  // The file a config path names: absolute as is, relative to the config file's directory.
  std::string Resolve(std::string_view path) const {
    std::filesystem::path p(path);
    if (p.is_absolute() || dir_.empty()) return p.lexically_normal().string();
    return (dir_ / p).lexically_normal().string();
  }

  // Reads a secret or certificate file. The error names the resolved path, never the content.
  absl::StatusOr<std::string> ReadFile(const Entry& e, std::string_view path,
                                       const std::string& resolved) {
    std::error_code ec;
    if (std::filesystem::is_directory(resolved, ec)) {
      return Error(MarkOf(e), path,
                   Cat("cannot read ", resolved, ": it is a directory; name a file"));
    }
    errno = 0;
    std::ifstream in(resolved, std::ios::binary);
    if (!in) {
      int err = errno;
      std::string why = err != 0 ? std::strerror(err) : "cannot open";
      std::string hint = std::filesystem::path(e.value.Scalar()).is_relative()
                             ? " (relative paths resolve against the config file's directory)"
                             : "";
      return Error(MarkOf(e), path,
                   Cat("cannot read ", resolved, ": ", why, hint,
                       "; check the path and the file's permissions"));
    }
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
  }

  absl::StatusOr<Config> LoadRoot(const YAML::Node& root) {
    Config cfg;
    PF_ASSIGN_OR_RETURN(MapView top,
                        ReadMap(root, YAML::Mark(), "", kTopKeys, "inputs: [{selector: up}]"));
    // storage first: global.backfill defaults to and is checked against retention.
    if (const Entry* e = top.Get("storage")) PF_RETURN_IF_ERROR(LoadStorage(*e, &cfg));
    if (const Entry* e = top.Get("global")) {
      PF_RETURN_IF_ERROR(LoadGlobal(*e, &cfg));
    } else {
      cfg.backfill_ms = cfg.retention_ms;
    }
    if (const Entry* e = top.Get("upstream")) PF_RETURN_IF_ERROR(LoadUpstream(*e, &cfg.upstream));
    if (const Entry* e = top.Get("server")) PF_RETURN_IF_ERROR(LoadServer(*e, &cfg));
    if (const Entry* e = top.Get("log")) PF_RETURN_IF_ERROR(LoadLog(*e, &cfg));
    const Entry* inputs = top.Get("inputs");
    if (inputs == nullptr) {
      auto key = top.keys.find("inputs");
      return Error(key != top.keys.end() ? key->second : root.Mark(), "inputs",
                   Cat(key != top.keys.end() ? "is empty" : "is missing",
                       "; add at least one input, e.g. inputs: [{selector: up}]"));
    }
    PF_RETURN_IF_ERROR(LoadInputs(*inputs, &cfg));
    return cfg;
  }

  absl::Status LoadStorage(const Entry& section, Config* cfg) {
    PF_ASSIGN_OR_RETURN(MapView m, ReadMap(section.value, MarkOf(section), "storage", kStorageKeys,
                                           "storage: {retention: 1h}"));
    if (const Entry* e = m.Get("retention")) {
      PF_ASSIGN_OR_RETURN(cfg->retention_ms, Duration(*e, "storage.retention", "retention: 1h"));
      if (cfg->retention_ms <= 0) {
        return Error(MarkOf(*e), "storage.retention",
                     "must be longer than 0; write e.g. retention: 1h");
      }
      retention_set_ = true;
    }
    if (const Entry* e = m.Get("max_series")) {
      PF_ASSIGN_OR_RETURN(cfg->max_series,
                          Integer(*e, "storage.max_series", "number of series", "100000"));
      if (cfg->max_series <= 0) {
        return Error(
            MarkOf(*e), "storage.max_series",
            Cat("must be at least 1, got ", cfg->max_series, "; write e.g. max_series: 100000"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status LoadGlobal(const Entry& section, Config* cfg) {
    PF_ASSIGN_OR_RETURN(MapView m, ReadMap(section.value, MarkOf(section), "global", kGlobalKeys,
                                           "global: {poll_interval: 15s}"));
    if (const Entry* e = m.Get("poll_interval")) {
      if (e->value.IsScalar() && e->value.Scalar() == "auto") {
        cfg->poll_interval_auto = true;
      } else {
        if (!e->value.IsScalar()) {
          return Error(MarkOf(*e), "global.poll_interval",
                       Cat("expected a duration or auto, got ", KindOf(e->value),
                           "; write e.g. poll_interval: 15s"));
        }
        absl::StatusOr<int64_t> ms = ParseDurationMs(e->value.Scalar());
        if (!ms.ok()) {
          return Error(MarkOf(*e), "global.poll_interval",
                       Cat(std::string(ms.status().message()),
                           ", or auto for Prometheus's own scrape_interval"));
        }
        cfg->poll_interval_ms = *ms;
        if (cfg->poll_interval_ms <= 0) {
          return Error(MarkOf(*e), "global.poll_interval",
                       "must be longer than 0; write e.g. poll_interval: 15s, or auto");
        }
        if (cfg->poll_interval_ms > cfg->retention_ms) {
          return Error(
              MarkOf(*e), "global.poll_interval",
              Cat(FormatDurationMs(cfg->poll_interval_ms), " is longer than storage.retention (",
                  FormatDurationMs(cfg->retention_ms),
                  "); shorten poll_interval or raise storage.retention"));
        }
      }
    }
    cfg->backfill_ms = cfg->retention_ms;
    if (const Entry* e = m.Get("backfill")) {
      PF_ASSIGN_OR_RETURN(cfg->backfill_ms, Duration(*e, "global.backfill", "backfill: 1h"));
      if (cfg->backfill_ms > cfg->retention_ms) {
        return Error(MarkOf(*e), "global.backfill",
                     Cat(FormatDurationMs(cfg->backfill_ms), " is longer than storage.retention (",
                         FormatDurationMs(cfg->retention_ms), retention_set_ ? "" : ", the default",
                         "); set backfill to at most the retention, or raise "
                         "storage.retention"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status CheckUrl(const Entry& e, std::string* url) {
    constexpr std::string_view kPath = "upstream.url";
    constexpr std::string_view kHint = "; write e.g. url: http://localhost:9090";
    std::string lower = Lower(*url);
    std::string_view rest;
    if (lower.starts_with("http://")) {
      rest = std::string_view(*url).substr(7);
    } else if (lower.starts_with("https://")) {
      rest = std::string_view(*url).substr(8);
    } else {
      return Error(MarkOf(e), kPath,
                   Cat("\"", *url, "\" must start with http:// or https://", kHint));
    }
    std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (authority.find('@') != std::string_view::npos) {
      // Do not echo the URL: it holds credentials.
      return Error(MarkOf(e), kPath,
                   "credentials in the URL are not allowed; put them in upstream.basic_auth "
                   "or upstream.bearer_token_file");
    }
    if (authority.empty()) {
      return Error(MarkOf(e), kPath, Cat("\"", *url, "\" has no host", kHint));
    }
    std::string why;
    if (authority.starts_with("[") && authority.ends_with("]")) {
      if (authority.size() == 2) why = "the IPv6 address is empty";
    } else if (authority.starts_with(":")) {
      why = "the host is missing";
    } else if (authority.starts_with("[") || authority.find(':') != std::string_view::npos) {
      why = CheckHostPort(authority);
    } else if (std::any_of(authority.begin(), authority.end(),
                           [](char c) { return std::isspace(static_cast<unsigned char>(c)); })) {
      why = "the host contains a space";
    }
    if (!why.empty()) return Error(MarkOf(e), kPath, Cat("\"", *url, "\": ", why, kHint));
    while (url->size() > 1 && url->back() == '/') url->pop_back();
    return absl::OkStatus();
  }

  absl::Status LoadUpstream(const Entry& section, UpstreamConfig* up) {
    PF_ASSIGN_OR_RETURN(MapView m,
                        ReadMap(section.value, MarkOf(section), "upstream", kUpstreamKeys,
                                "upstream: {url: http://localhost:9090}"));
    if (const Entry* e = m.Get("url")) {
      PF_ASSIGN_OR_RETURN(up->url, String(*e, "upstream.url", "url: http://localhost:9090"));
      PF_RETURN_IF_ERROR(CheckUrl(*e, &up->url));
    }
    if (const Entry* e = m.Get("timeout")) {
      PF_ASSIGN_OR_RETURN(up->timeout_ms, Duration(*e, "upstream.timeout", "timeout: 10s"));
      if (up->timeout_ms <= 0) {
        return Error(MarkOf(*e), "upstream.timeout", "must be longer than 0; write e.g. 10s");
      }
    }
    if (const Entry* e = m.Get("max_response_bytes")) {
      PF_ASSIGN_OR_RETURN(up->max_response_bytes, Integer(*e, "upstream.max_response_bytes",
                                                          "number of bytes", "268435456"));
      if (up->max_response_bytes <= 0) {
        return Error(MarkOf(*e), "upstream.max_response_bytes",
                     Cat("must be at least 1, got ", up->max_response_bytes,
                         "; write e.g. 268435456 (256 MiB)"));
      }
    }
    const Entry* token = m.Get("bearer_token_file");
    const Entry* basic = m.Get("basic_auth");
    if (token != nullptr && basic != nullptr) {
      const Entry* later = token->key.Mark().pos > basic->key.Mark().pos ? token : basic;
      return Error(later->key.Mark(), Join("upstream", later->key.Scalar()),
                   "bearer_token_file and basic_auth are exclusive; keep one of them");
    }
    if (token != nullptr) {
      constexpr std::string_view kPath = "upstream.bearer_token_file";
      PF_ASSIGN_OR_RETURN(std::string file, String(*token, kPath, "/etc/promfeed/token"));
      if (file.empty()) {
        return Error(MarkOf(*token), kPath, "is empty; name the file that holds the token");
      }
      up->bearer_token_file = Resolve(file);
      PF_ASSIGN_OR_RETURN(std::string content, ReadFile(*token, kPath, up->bearer_token_file));
      up->bearer_token = std::string(Trim(content));
      if (up->bearer_token.empty()) {
        return Error(MarkOf(*token), kPath,
                     Cat("the file ", up->bearer_token_file, " is empty; write the token into it"));
      }
    }
    if (basic != nullptr) PF_RETURN_IF_ERROR(LoadBasicAuth(*basic, up));
    if (const Entry* e = m.Get("headers")) PF_RETURN_IF_ERROR(LoadHeaders(*e, up));
    if (const Entry* e = m.Get("tls_config")) PF_RETURN_IF_ERROR(LoadTls(*e, &up->tls_config));
    return absl::OkStatus();
  }

  absl::Status LoadBasicAuth(const Entry& section, UpstreamConfig* up) {
    constexpr std::string_view kPath = "upstream.basic_auth";
    PF_ASSIGN_OR_RETURN(MapView m,
                        ReadMap(section.value, MarkOf(section), kPath, kBasicAuthKeys,
                                "basic_auth: {username: promfeed, password_file: /etc/pw}"));
    BasicAuth auth;
    const Entry* user = m.Get("username");
    if (user == nullptr) {
      return Error(MarkOf(section), kPath, "username is missing; write e.g. username: promfeed");
    }
    PF_ASSIGN_OR_RETURN(auth.username, String(*user, Join(kPath, "username"), "promfeed"));
    const Entry* password = m.Get("password");
    const Entry* password_file = m.Get("password_file");
    if (password != nullptr && password_file != nullptr) {
      const Entry* later =
          password->key.Mark().pos > password_file->key.Mark().pos ? password : password_file;
      return Error(later->key.Mark(), Join(kPath, later->key.Scalar()),
                   "password and password_file are exclusive; keep one of them");
    }
    if (password != nullptr) {
      if (!password->value.IsScalar()) {
        return Error(MarkOf(*password), Join(kPath, "password"),
                     Cat("expected a string, got ", KindOf(password->value),
                         "; write the password as one value, or use password_file"));
      }
      auth.password = password->value.Scalar();
    }
    if (password_file != nullptr) {
      std::string path = Join(kPath, "password_file");
      PF_ASSIGN_OR_RETURN(std::string file, String(*password_file, path, "/etc/promfeed/pw"));
      if (file.empty()) {
        return Error(MarkOf(*password_file), path, "is empty; name the file that holds it");
      }
      auth.password_file = Resolve(file);
      PF_ASSIGN_OR_RETURN(std::string content, ReadFile(*password_file, path, auth.password_file));
      auth.password = std::string(Trim(content));
    }
    up->basic_auth = std::move(auth);
    return absl::OkStatus();
  }

  absl::Status LoadHeaders(const Entry& section, UpstreamConfig* up) {
    constexpr std::string_view kPath = "upstream.headers";
    if (!section.value.IsMap()) {
      return Error(MarkOf(section), kPath,
                   Cat("expected a map of header names to values, got ", KindOf(section.value),
                       "; write e.g. headers: {X-Scope-OrgID: team}"));
    }
    std::set<std::string> seen;  // Lower-case: header names are case-insensitive.
    for (auto it = section.value.begin(); it != section.value.end(); ++it) {
      const YAML::Node key = it->first;  // A copy: `it->` is a temporary proxy.
      if (!key.IsScalar() || !IsHeaderToken(key.Scalar())) {
        return Error(key.Mark(), kPath,
                     "header names are letters, digits and -, e.g. X-Scope-OrgID");
      }
      std::string name = key.Scalar();
      std::string path = Join(kPath, name);
      if (Lower(name) == "authorization") {
        return Error(key.Mark(), path,
                     "credentials do not go in headers; use upstream.bearer_token_file or "
                     "upstream.basic_auth");
      }
      if (!seen.insert(Lower(name)).second) {
        return Error(key.Mark(), path, "header set twice; keep only one");
      }
      // Values may be secrets (API keys): never echo them.
      const YAML::Node value = it->second;
      if (!value.IsScalar()) {
        return Error(value.IsNull() ? key.Mark() : value.Mark(), path,
                     Cat("expected a string value, got ", KindOf(value),
                         "; write e.g. X-Scope-OrgID: team"));
      }
      if (value.Scalar().find_first_of("\r\n") != std::string::npos) {
        return Error(value.Mark(), path, "the value contains a line break; write one line");
      }
      up->headers[name] = value.Scalar();
    }
    return absl::OkStatus();
  }

  absl::Status LoadTls(const Entry& section, TlsConfig* tls) {
    constexpr std::string_view kPath = "upstream.tls_config";
    PF_ASSIGN_OR_RETURN(MapView m, ReadMap(section.value, MarkOf(section), kPath, kTlsKeys,
                                           "tls_config: {ca_file: ca.pem}"));
    struct FileField {
      std::string_view key;
      std::string* out;
    };
    for (FileField f :
         {FileField{"ca_file", &tls->ca_file}, FileField{"cert_file", &tls->cert_file},
          FileField{"key_file", &tls->key_file}}) {
      const Entry* e = m.Get(f.key);
      if (e == nullptr) continue;
      std::string path = Join(kPath, f.key);
      PF_ASSIGN_OR_RETURN(std::string file, String(*e, path, "/etc/promfeed/ca.pem"));
      if (file.empty()) continue;
      *f.out = Resolve(file);
      // Read now so a missing file fails the load, not the first poll.
      if (absl::StatusOr<std::string> r = ReadFile(*e, path, *f.out); !r.ok()) return r.status();
    }
    if (tls->cert_file.empty() != tls->key_file.empty()) {
      const Entry* given = m.Get(tls->cert_file.empty() ? "key_file" : "cert_file");
      return Error(given->key.Mark(), Join(kPath, given->key.Scalar()),
                   "cert_file and key_file go together; set both for a client certificate, "
                   "or neither");
    }
    if (const Entry* e = m.Get("server_name")) {
      PF_ASSIGN_OR_RETURN(tls->server_name,
                          String(*e, Join(kPath, "server_name"), "prometheus.example.com"));
    }
    if (const Entry* e = m.Get("insecure_skip_verify")) {
      PF_ASSIGN_OR_RETURN(tls->insecure_skip_verify,
                          Bool(*e, Join(kPath, "insecure_skip_verify"), "false"));
    }
    return absl::OkStatus();
  }

  absl::Status LoadAddress(const MapView& m, std::string_view key, std::string* out) {
    const Entry* e = m.Get(key);
    if (e == nullptr) return absl::OkStatus();
    std::string path = Join("server", key);
    PF_ASSIGN_OR_RETURN(*out, String(*e, path, "127.0.0.1:9401"));
    std::string why = CheckHostPort(*out);
    if (!why.empty()) {
      return Error(MarkOf(*e), path,
                   Cat("\"", *out, "\" is not host:port (", why,
                       "); write e.g. 127.0.0.1:9401, 0.0.0.0:9401 or [::1]:9401"));
    }
    return absl::OkStatus();
  }

  absl::Status LoadServer(const Entry& section, Config* cfg) {
    PF_ASSIGN_OR_RETURN(MapView m, ReadMap(section.value, MarkOf(section), "server", kServerKeys,
                                           "server: {grpc_listen_address: 127.0.0.1:9401}"));
    PF_RETURN_IF_ERROR(LoadAddress(m, "grpc_listen_address", &cfg->grpc_listen_address));
    PF_RETURN_IF_ERROR(LoadAddress(m, "web_listen_address", &cfg->web_listen_address));
    if (const Entry* e = m.Get("max_streams")) {
      PF_ASSIGN_OR_RETURN(int64_t n, Integer(*e, "server.max_streams", "number of streams", "256"));
      if (n <= 0 || n > std::numeric_limits<int32_t>::max()) {
        return Error(MarkOf(*e), "server.max_streams",
                     Cat("must be from 1 to 2147483647, got ", n, "; write e.g. 256"));
      }
      cfg->max_streams = static_cast<int32_t>(n);
    }
    if (const Entry* e = m.Get("stream_cache_bytes")) {
      PF_ASSIGN_OR_RETURN(cfg->stream_cache_bytes,
                          Integer(*e, "server.stream_cache_bytes", "number of bytes", "268435456"));
      if (cfg->stream_cache_bytes < 0) {
        return Error(MarkOf(*e), "server.stream_cache_bytes",
                     Cat("must be 0 (keep no streams) or more, got ", cfg->stream_cache_bytes,
                         "; write e.g. 268435456 (256 MiB)"));
      }
    }
    if (const Entry* e = m.Get("shutdown_timeout")) {
      PF_ASSIGN_OR_RETURN(cfg->shutdown_timeout_ms,
                          Duration(*e, "server.shutdown_timeout", "shutdown_timeout: 5s"));
    }
    if (const Entry* e = m.Get("tls_config")) PF_RETURN_IF_ERROR(LoadServerTls(*e, cfg));
    if (const Entry* e = m.Get("auth")) {
      PF_RETURN_IF_ERROR(LoadServerAuth(*e, cfg));
      if (!cfg->server_tls.enabled()) {
        return Error(e->key.Mark(), "server.auth",
                     "bearer tokens need TLS (they would cross the network in clear text); "
                     "set server.tls_config with cert_file and key_file");
      }
    }
    return absl::OkStatus();
  }

  // A path field: resolved and read now, so a missing file fails the load.
  absl::StatusOr<std::string> LoadPath(const MapView& m, std::string_view section,
                                       std::string_view key, std::string* content) {
    const Entry* e = m.Get(key);
    if (e == nullptr) return std::string();
    std::string path = Join(section, key);
    PF_ASSIGN_OR_RETURN(std::string file, String(*e, path, "/etc/promfeed/server.pem"));
    if (file.empty()) return Error(MarkOf(*e), path, "is empty; name a file");
    std::string resolved = Resolve(file);
    PF_ASSIGN_OR_RETURN(std::string text, ReadFile(*e, path, resolved));
    if (content != nullptr) *content = std::move(text);
    return resolved;
  }

  absl::Status LoadServerTls(const Entry& section, Config* cfg) {
    constexpr std::string_view kPath = "server.tls_config";
    PF_ASSIGN_OR_RETURN(MapView m, ReadMap(section.value, MarkOf(section), kPath, kServerTlsKeys,
                                           "tls_config: {cert_file: server.pem, key_file: "
                                           "server-key.pem}"));
    ServerTlsConfig& tls = cfg->server_tls;
    PF_ASSIGN_OR_RETURN(tls.cert_file, LoadPath(m, kPath, "cert_file", nullptr));
    PF_ASSIGN_OR_RETURN(tls.key_file, LoadPath(m, kPath, "key_file", nullptr));
    PF_ASSIGN_OR_RETURN(tls.client_ca_file, LoadPath(m, kPath, "client_ca_file", nullptr));
    if (tls.cert_file.empty() || tls.key_file.empty()) {
      return Error(m.node.Mark(), Join(kPath, tls.cert_file.empty() ? "cert_file" : "key_file"),
                   "is required: TLS needs the server certificate (cert_file) and its key "
                   "(key_file)");
    }
    if (const Entry* e = m.Get("client_auth")) {
      std::string path = Join(kPath, "client_auth");
      PF_ASSIGN_OR_RETURN(std::string mode, String(*e, path, "require"));
      if (mode != "none" && mode != "require") {
        return Error(MarkOf(*e), path,
                     Cat("unknown client_auth \"", mode, "\"; write none or require"));
      }
      tls.require_client_cert = mode == "require";
    }
    if (tls.require_client_cert && tls.client_ca_file.empty()) {
      return Error(m.Get("client_auth")->key.Mark(), Join(kPath, "client_auth"),
                   "require needs client_ca_file, the CA that client certificates chain to");
    }
    if (!tls.require_client_cert && !tls.client_ca_file.empty()) {
      return Error(m.Get("client_ca_file")->key.Mark(), Join(kPath, "client_ca_file"),
                   "is only used with client_auth: require; add it or remove client_ca_file");
    }
    return absl::OkStatus();
  }

  absl::Status LoadServerAuth(const Entry& section, Config* cfg) {
    constexpr std::string_view kPath = "server.auth";
    PF_ASSIGN_OR_RETURN(MapView m, ReadMap(section.value, MarkOf(section), kPath, kServerAuthKeys,
                                           "auth: {bearer_tokens_file: tokens}"));
    const Entry* e = m.Get("bearer_tokens_file");
    std::string path = Join(kPath, "bearer_tokens_file");
    if (e == nullptr) {
      return Error(section.key.Mark(), path,
                   "is required; name a file with one accepted token per line");
    }
    std::string content;
    PF_ASSIGN_OR_RETURN(cfg->server_auth.bearer_tokens_file,
                        LoadPath(m, kPath, "bearer_tokens_file", &content));
    std::istringstream lines(content);
    for (std::string line; std::getline(lines, line);) {
      std::string_view token = Trim(line);
      if (token.empty() || token.front() == '#') continue;
      cfg->server_auth.bearer_tokens.emplace_back(token);
    }
    if (cfg->server_auth.bearer_tokens.empty()) {
      return Error(MarkOf(*e), path,
                   Cat("the file ", cfg->server_auth.bearer_tokens_file,
                       " holds no token; write one token per line (# starts a comment)"));
    }
    return absl::OkStatus();
  }

  absl::Status LoadLog(const Entry& section, Config* cfg) {
    PF_ASSIGN_OR_RETURN(MapView m, ReadMap(section.value, MarkOf(section), "log", kLogKeys,
                                           "log: {level: info, format: logfmt}"));
    struct Choice {
      std::string_view key;
      std::vector<std::string_view> values;
      std::string* out;
    };
    for (const Choice& c : {Choice{"level", {"debug", "info", "warn", "error"}, &cfg->log_level},
                            Choice{"format", {"logfmt", "json"}, &cfg->log_format}}) {
      const Entry* e = m.Get(c.key);
      if (e == nullptr) continue;
      std::string path = Join("log", c.key);
      std::string choices;
      for (std::string_view v : c.values) choices += Cat(choices.empty() ? "" : ", ", v);
      PF_ASSIGN_OR_RETURN(std::string value, String(*e, path, c.values[0]));
      if (std::find(c.values.begin(), c.values.end(), value) == c.values.end()) {
        return Error(MarkOf(*e), path,
                     Cat("unknown ", c.key, " \"", value, "\"; write one of ", choices));
      }
      *c.out = value;
    }
    return absl::OkStatus();
  }

  // Where byte `offset` of scalar `node`'s value is in the file, when the scalar is written on
  // one line, plain or quoted, with no escapes before `offset`; else the scalar's own mark.
  YAML::Mark MarkInScalar(const YAML::Node& node, size_t offset) const {
    YAML::Mark mark = node.Mark();
    if (mark.pos < 0 || static_cast<size_t>(mark.pos) >= text_.size()) return mark;
    const std::string& value = node.Scalar();
    if (offset > value.size()) return mark;
    size_t i = static_cast<size_t>(mark.pos);
    char quote = text_[i];
    if (quote == '\'' || quote == '"') {
      ++i;
    } else if (std::string_view("|>&!*[{").find(quote) != std::string_view::npos) {
      return mark;
    } else {
      quote = 0;
    }
    for (size_t k = 0; k < offset; ++k) {
      if (i >= text_.size() || text_[i] == '\n' || text_[i] == '\r') return mark;
      if (quote == '\'' && text_[i] == '\'' && i + 1 < text_.size() && text_[i + 1] == '\'') {
        if (value[k] != '\'') return mark;
        i += 2;
        continue;
      }
      if (quote == '"' && text_[i] == '\\') return mark;
      if (text_[i] != value[k]) return mark;
      ++i;
    }
    YAML::Mark out = mark;
    out.column = mark.column + static_cast<int>(i - static_cast<size_t>(mark.pos));
    out.pos = static_cast<int>(i);
    return out;
  }

  absl::Status LoadInputs(const Entry& section, Config* cfg) {
    const YAML::Node& list = section.value;
    if (!list.IsSequence()) {
      return Error(MarkOf(section), "inputs",
                   Cat("expected a list of inputs, got ", KindOf(list),
                       "; write each input on a line starting with '- ', e.g. "
                       "inputs: [{selector: up}]"));
    }
    if (list.size() == 0) {
      return Error(MarkOf(section), "inputs",
                   "the list is empty; add at least one input, e.g. - selector: up");
    }
    std::map<std::string, std::string> names;  // expr name -> where defined
    for (size_t i = 0; i < list.size(); ++i) {
      const YAML::Node item = list[i];
      std::string path = Cat("inputs[", i, "]");
      if (!item.IsMap()) {
        YAML::Mark m = item.IsNull() ? section.key.Mark() : item.Mark();
        return Error(m, path,
                     Cat("expected a map with selector, or name and expr, got ", KindOf(item),
                         "; write e.g. - selector: up"));
      }
      PF_ASSIGN_OR_RETURN(MapView m,
                          ReadMap(item, item.Mark(), path, kInputKeys, "- selector: up"));
      Input input;
      input.location = Location(item.Mark());
      const Entry* selector = m.Get("selector");
      const Entry* expr = m.Get("expr");
      const Entry* name = m.Get("name");
      if (selector != nullptr && expr != nullptr) {
        const Entry* later = selector->key.Mark().pos > expr->key.Mark().pos ? selector : expr;
        return Error(later->key.Mark(), Join(path, later->key.Scalar()),
                     "an input has either selector or expr, not both; split it into two inputs");
      }
      if (selector == nullptr && expr == nullptr) {
        return Error(item.Mark(), path,
                     "needs a selector (raw samples) or an expr with a name (evaluated "
                     "query); write e.g. - selector: up");
      }
      if (selector != nullptr) {
        if (name != nullptr) {
          return Error(name->key.Mark(), Join(path, "name"),
                       "name is only for expr inputs; a selector keeps its series' own names, so "
                       "remove it");
        }
        std::string spath = Join(path, "selector");
        PF_ASSIGN_OR_RETURN(std::string text, String(*selector, spath, "selector: up{job=\"x\"}"));
        size_t offset = 0;
        absl::StatusOr<Selector> parsed = Selector::Parse(text, &offset);
        if (!parsed.ok()) {
          std::string message(parsed.status().message());
          std::string prefix = Cat("column ", offset + 1, ": ");
          if (message.starts_with(prefix)) message = message.substr(prefix.size());
          return Error(MarkInScalar(selector->value, offset), spath,
                       Cat("invalid selector (at its column ", offset + 1, "): ", message,
                           "; selectors look like up{job=\"node\"}, quote the whole value with "
                           "'...' in YAML"));
        }
        input.kind = Input::Kind::kSelector;
        input.selector = *std::move(parsed);
      } else {
        if (name == nullptr) {
          return Error(expr->key.Mark(), path,
                       "an expr input needs a name, which becomes __name__ of its series; add "
                       "e.g. name: dns_rate");
        }
        std::string npath = Join(path, "name");
        PF_ASSIGN_OR_RETURN(input.name, String(*name, npath, "name: dns_rate"));
        if (!IsMetricName(input.name)) {
          return Error(MarkOf(*name), npath,
                       Cat("\"", input.name,
                           "\" is not a valid metric name; use letters, digits, '_' and ':', "
                           "not starting with a digit, e.g. dns_rate"));
        }
        if (auto it = names.find(input.name); it != names.end()) {
          return Error(MarkOf(*name), npath,
                       Cat("\"", input.name, "\" is already the name of the input at ", it->second,
                           "; names must be unique"));
        }
        names.emplace(input.name, input.location);
        std::string epath = Join(path, "expr");
        PF_ASSIGN_OR_RETURN(input.expr, String(*expr, epath, "expr: sum(rate(x[1m]))"));
        if (Trim(input.expr).empty()) {
          return Error(MarkOf(*expr), epath, "is empty; write a PromQL query");
        }
        input.kind = Input::Kind::kExpr;
      }
      cfg->inputs.push_back(std::move(input));
    }
    return absl::OkStatus();
  }

  std::string_view text_;
  std::string file_;
  std::filesystem::path dir_;
  bool retention_set_ = false;
};

}  // namespace

absl::StatusOr<Config> ParseConfig(std::string_view yaml_text, std::string_view filename) {
  return Loader(yaml_text, filename).Load();
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(
        Cat("config file ", path, " is a directory; pass the YAML file, e.g. --config.file=", path,
            "/promfeed.yml"));
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    std::string why = err != 0 ? std::strerror(err) : "cannot open";
    if (err == ENOENT || err == ENOTDIR) {
      return absl::NotFoundError(
          Cat("config file ", path, " not found: ", why, "; check --config.file"));
    }
    if (err == EACCES || err == EPERM) {
      return absl::PermissionDeniedError(Cat("config file ", path, " is not readable: ", why,
                                             "; grant the daemon's user read access"));
    }
    return absl::UnavailableError(Cat("cannot read config file ", path, ": ", why));
  }
  std::ostringstream content;
  content << in.rdbuf();
  return ParseConfig(content.str(), path);
}

}  // namespace promfeed::config
