#include "daemon/config/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace promfeed::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

Config MustParse(const std::string& yaml, const std::string& file = "cfg.yml") {
  absl::StatusOr<Config> c = ParseConfig(yaml, file);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : Config();
}

// Parses `yaml` as cfg.yml and returns the error message (empty when it parsed).
std::string ErrorOf(const std::string& yaml, const std::string& file = "cfg.yml") {
  absl::StatusOr<Config> c = ParseConfig(yaml, file);
  if (c.ok()) {
    ADD_FAILURE() << "parsed without error:\n" << yaml;
    return "";
  }
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << c.status();
  return Msg(c.status());
}

constexpr char kInputs[] = "inputs:\n  - selector: up\n";

// A scratch directory, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "promfeed_cfg_XXXXXX").string();
    char* made = mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string Write(const std::string& name, const std::string& content) const {
    std::filesystem::path p = path_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << content;
    return p.string();
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// ---- Success ---------------------------------------------------------------------------------

TEST(ConfigTest, DefaultsMatchHeader) {
  Config c = MustParse(kInputs);
  Config d;
  EXPECT_EQ(c.poll_interval_ms, 15'000);
  EXPECT_FALSE(c.poll_interval_auto);
  EXPECT_EQ(c.retention_ms, 3'600'000);
  EXPECT_EQ(c.backfill_ms, 3'600'000);
  EXPECT_EQ(c.max_series, 100'000);
  EXPECT_EQ(c.upstream.url, "http://localhost:9090");
  EXPECT_EQ(c.upstream.timeout_ms, 10'000);
  EXPECT_EQ(c.upstream.max_response_bytes, 268'435'456);
  EXPECT_EQ(c.upstream.bearer_token, "");
  EXPECT_EQ(c.upstream.bearer_token_file, "");
  EXPECT_FALSE(c.upstream.basic_auth.has_value());
  EXPECT_TRUE(c.upstream.headers.empty());
  EXPECT_FALSE(c.upstream.tls_config.insecure_skip_verify);
  EXPECT_EQ(c.upstream.tls_config.ca_file, "");
  EXPECT_EQ(c.grpc_listen_address, "127.0.0.1:9401");
  EXPECT_EQ(c.web_listen_address, "127.0.0.1:9400");
  EXPECT_EQ(c.max_streams, 256);
  EXPECT_EQ(c.stream_cache_bytes, 256 << 20);
  EXPECT_EQ(c.shutdown_timeout_ms, 5'000);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.log_format, "logfmt");
  // And the header's defaults are these same values.
  EXPECT_EQ(d.poll_interval_ms, c.poll_interval_ms);
  EXPECT_EQ(d.upstream.url, c.upstream.url);
  ASSERT_EQ(c.inputs.size(), 1u);
  EXPECT_EQ(c.inputs[0].kind, Input::Kind::kSelector);
  EXPECT_EQ(c.inputs[0].selector.metric_name(), "up");
  EXPECT_EQ(c.inputs[0].location, "cfg.yml:2:5");
}

TEST(ConfigTest, NullValuesKeepDefaults) {
  Config c = MustParse(std::string("global:\nupstream:\n  timeout:\n  url: ~\n") + kInputs);
  EXPECT_EQ(c.upstream.timeout_ms, 10'000);
  EXPECT_EQ(c.upstream.url, "http://localhost:9090");
}

TEST(ConfigTest, ParsesEveryKey) {
  Config c = MustParse(R"(
global:
  poll_interval: 5s
  backfill: 30m
upstream:
  url: https://prom.example.com:9443/prefix/
  timeout: 2s500ms
  headers: {X-Scope-OrgID: team, X-Other: "a b"}
  tls_config: {server_name: prom.internal, insecure_skip_verify: true}
  max_response_bytes: 1048576
inputs:
  - selector: 'up{job="node"}'
  - name: dns_rate
    expr: 'sum by (instance)(rate(coredns_dns_requests_total[1m]))'
storage:
  retention: 2h
  max_series: 5
server:
  grpc_listen_address: 0.0.0.0:19401
  web_listen_address: '[::1]:0'
  max_streams: 3
  stream_cache_bytes: 0
  shutdown_timeout: 0s
log:
  level: debug
  format: json
)");
  EXPECT_EQ(c.poll_interval_ms, 5'000);
  EXPECT_EQ(c.backfill_ms, 30 * 60'000);
  EXPECT_EQ(c.upstream.url, "https://prom.example.com:9443/prefix");
  EXPECT_EQ(c.upstream.timeout_ms, 2'500);
  EXPECT_EQ(c.upstream.headers.at("X-Scope-OrgID"), "team");
  EXPECT_EQ(c.upstream.headers.at("X-Other"), "a b");
  EXPECT_EQ(c.upstream.tls_config.server_name, "prom.internal");
  EXPECT_TRUE(c.upstream.tls_config.insecure_skip_verify);
  EXPECT_EQ(c.upstream.max_response_bytes, 1'048'576);
  ASSERT_EQ(c.inputs.size(), 2u);
  EXPECT_EQ(c.inputs[0].kind, Input::Kind::kSelector);
  EXPECT_EQ(c.inputs[0].selector.text(), "up{job=\"node\"}");
  EXPECT_EQ(c.inputs[0].location, "cfg.yml:12:5");
  EXPECT_EQ(c.inputs[1].kind, Input::Kind::kExpr);
  EXPECT_EQ(c.inputs[1].name, "dns_rate");
  EXPECT_EQ(c.inputs[1].expr, "sum by (instance)(rate(coredns_dns_requests_total[1m]))");
  EXPECT_EQ(c.inputs[1].location, "cfg.yml:13:5");
  EXPECT_EQ(c.retention_ms, 2 * 3'600'000);
  EXPECT_EQ(c.max_series, 5);
  EXPECT_EQ(c.grpc_listen_address, "0.0.0.0:19401");
  EXPECT_EQ(c.web_listen_address, "[::1]:0");
  EXPECT_EQ(c.max_streams, 3);
  EXPECT_EQ(c.stream_cache_bytes, 0);
  EXPECT_EQ(c.shutdown_timeout_ms, 0);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.log_format, "json");
}

TEST(ConfigTest, PollIntervalAuto) {
  Config c = MustParse(std::string("global:\n  poll_interval: auto\n") + kInputs);
  EXPECT_TRUE(c.poll_interval_auto);
}

TEST(ConfigTest, BackfillDefaultsToRetention) {
  Config c = MustParse(std::string("storage:\n  retention: 3h\n") + kInputs);
  EXPECT_EQ(c.backfill_ms, 3 * 3'600'000);
  Config g =
      MustParse(std::string("global:\n  poll_interval: 1s\nstorage:\n  retention: 2h\n") + kInputs);
  EXPECT_EQ(g.backfill_ms, 2 * 3'600'000);
  Config z = MustParse(std::string("global:\n  backfill: 0\n") + kInputs);
  EXPECT_EQ(z.backfill_ms, 0);
}

TEST(ConfigTest, ExampleConfigLoads) {
  absl::StatusOr<Config> c =
      LoadConfigFile(std::string(PROMFEED_SOURCE_DIR) + "/config/promfeed.example.yml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->inputs.size(), 3u);
  EXPECT_EQ(c->inputs[0].selector.metric_name(), "up");
  EXPECT_EQ(c->inputs[1].selector.metric_name(), "go_memstats_gc_sys_bytes");
  EXPECT_EQ(c->inputs[2].kind, Input::Kind::kExpr);
  EXPECT_FALSE(c->inputs[2].name.empty());
  EXPECT_FALSE(c->inputs[2].expr.empty());
  EXPECT_THAT(c->inputs[0].location, HasSubstr("promfeed.example.yml:"));
}

TEST(ConfigTest, ExampleConfigDocumentsEveryKey) {
  std::ifstream in(std::string(PROMFEED_SOURCE_DIR) + "/config/promfeed.example.yml");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const char* key : {"global:",
                          "poll_interval:",
                          "backfill:",
                          "upstream:",
                          "url:",
                          "timeout:",
                          "bearer_token_file:",
                          "basic_auth:",
                          "username:",
                          "password:",
                          "password_file:",
                          "headers:",
                          "tls_config:",
                          "ca_file:",
                          "cert_file:",
                          "key_file:",
                          "server_name:",
                          "insecure_skip_verify:",
                          "max_response_bytes:",
                          "inputs:",
                          "selector:",
                          "name:",
                          "expr:",
                          "storage:",
                          "retention:",
                          "max_series:",
                          "server:",
                          "grpc_listen_address:",
                          "web_listen_address:",
                          "max_streams:",
                          "shutdown_timeout:",
                          "client_ca_file:",
                          "client_auth:",
                          "bearer_tokens_file:",
                          "log:",
                          "level:",
                          "format:"}) {
    EXPECT_THAT(text, HasSubstr(key));
  }
}

// ---- Errors: exact file:line:column ----------------------------------------------------------

TEST(ConfigTest, RejectsYamlSyntaxError) {
  EXPECT_THAT(ErrorOf("inputs:\n  - selector: up\n storage: [1\n"),
              StartsWith("cfg.yml:3:2: YAML syntax error: "));
  EXPECT_THAT(ErrorOf("inputs: [\n"), StartsWith("cfg.yml:2:1: YAML syntax error: "));
  EXPECT_THAT(ErrorOf("a: b: c\n"),
              StartsWith("cfg.yml:1:5: YAML syntax error: illegal map value"));
}

TEST(ConfigTest, RejectsEmptyFile) {
  EXPECT_THAT(ErrorOf(""), StartsWith("cfg.yml:1:1: the configuration is empty; write"));
  EXPECT_THAT(ErrorOf("# only a comment\n\n"),
              StartsWith("cfg.yml:1:1: the configuration is empty"));
}

TEST(ConfigTest, RejectsTopLevelNonMap) {
  EXPECT_THAT(ErrorOf("- selector: up\n"),
              StartsWith("cfg.yml:1:1: expected a map with keys global, upstream, inputs, "
                         "storage, server, log, got a list"));
  EXPECT_THAT(ErrorOf("just a string\n"), StartsWith("cfg.yml:1:1: expected a map"));
}

TEST(ConfigTest, RejectsSeveralDocuments) {
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "---\n" + kInputs),
              StartsWith("cfg.yml:4:1: the file holds 2 YAML documents"));
  // A trailing '---' is harmless.
  EXPECT_EQ(MustParse(std::string(kInputs) + "---\n").inputs.size(), 1u);
}

TEST(ConfigTest, RejectsUnknownKeyWithSuggestion) {
  EXPECT_EQ(ErrorOf(std::string(kInputs) + "storage:\n  retension: 1h\n"),
            "cfg.yml:4:3: storage.retension: unknown key; did you mean 'retention'?");
  EXPECT_EQ(ErrorOf(std::string(kInputs) + "upstream:\n  timout: 1s\n"),
            "cfg.yml:4:3: upstream.timout: unknown key; did you mean 'timeout'?");
  EXPECT_EQ(ErrorOf(std::string("inputz:\n  - selector: up\n")),
            "cfg.yml:1:1: inputz: unknown key; did you mean 'inputs'?");
  EXPECT_EQ(ErrorOf("inputs:\n  - selektor: up\n"),
            "cfg.yml:2:5: inputs[0].selektor: unknown key; did you mean 'selector'?");
}

TEST(ConfigTest, UnknownKeyInWrongSectionSaysWhereItBelongs) {
  EXPECT_EQ(ErrorOf(std::string(kInputs) + "global:\n  retention: 1h\n"),
            "cfg.yml:4:3: global.retention: unknown key; 'retention' belongs under 'storage'");
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "global:\n  zzzzzzzz: 1\n"),
              StartsWith("cfg.yml:4:3: global.zzzzzzzz: unknown key; known keys here: "
                         "poll_interval, backfill"));
}

TEST(ConfigTest, RejectsDuplicateKey) {
  EXPECT_EQ(ErrorOf(std::string(kInputs) + "log:\n  level: info\n  level: debug\n"),
            "cfg.yml:5:3: log.level: duplicate key (first set at line 4); keep only one");
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "log:\n  level:\n  level: debug\n"),
              StartsWith("cfg.yml:5:3: log.level: duplicate key"));
}

TEST(ConfigTest, RejectsWrongTypes) {
  // A map where a string is expected.
  EXPECT_EQ(ErrorOf(std::string(kInputs) + "upstream:\n  url: {a: b}\n"),
            "cfg.yml:4:8: upstream.url: expected a string, got a map; write e.g. url: "
            "http://localhost:9090");
  // A list instead of a map.
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "upstream:\n  - url: x\n"),
              StartsWith("cfg.yml:4:3: upstream: expected a map with keys url, timeout, "
                         "bearer_token_file, basic_auth, headers, tls_config, "
                         "max_response_bytes, got a list"));
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "storage: 1h\n"),
              StartsWith("cfg.yml:3:10: storage: expected a map with keys retention, "
                         "max_series, got a string"));
  // Non-integer integers.
  EXPECT_EQ(ErrorOf(std::string(kInputs) + "storage:\n  max_series: 1.5\n"),
            "cfg.yml:4:15: storage.max_series: expected an integer number of series, got "
            "\"1.5\"; write digits only, e.g. 100000");
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "upstream:\n  max_response_bytes: 256MiB\n"),
              StartsWith("cfg.yml:4:23: upstream.max_response_bytes: expected an integer number "
                         "of bytes, got \"256MiB\""));
  EXPECT_EQ(ErrorOf(std::string(kInputs) + "server:\n  stream_cache_bytes: -1\n"),
            "cfg.yml:4:23: server.stream_cache_bytes: must be 0 (keep no streams) or more, got "
            "-1; write e.g. 268435456 (256 MiB)");
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "server:\n  max_streams: [1]\n"),
              StartsWith("cfg.yml:4:16: server.max_streams: expected an integer, got a list"));
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "storage:\n  max_series: 99999999999999999999\n"),
              HasSubstr("(out of range)"));
  // Non-bool bools.
  EXPECT_EQ(ErrorOf(std::string(kInputs) + "upstream:\n  tls_config:\n"
                                           "    insecure_skip_verify: maybe\n"),
            "cfg.yml:5:27: upstream.tls_config.insecure_skip_verify: expected true or false, "
            "got \"maybe\"; write e.g. false");
  // A duration given as a list.
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "upstream:\n  timeout: [1s]\n"),
              StartsWith("cfg.yml:4:12: upstream.timeout: expected a duration string, got a list"));
}

TEST(ConfigTest, RejectsBadDurations) {
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "upstream:\n  timeout: 10x\n"),
              StartsWith("cfg.yml:4:12: upstream.timeout: invalid duration \"10x\": unknown unit "
                         "\"x\"; write an integer followed by units"));
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "storage:\n  retention: 1.5h\n"),
              StartsWith("cfg.yml:4:14: storage.retention: invalid duration \"1.5h\": fractions"));
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "global:\n  poll_interval: 10\n"),
              StartsWith("cfg.yml:4:18: global.poll_interval: invalid duration \"10\": missing "
                         "unit"));
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "global:\n  poll_interval: 10\n"),
              HasSubstr("or auto for Prometheus's own scrape_interval"));
  EXPECT_EQ(ErrorOf(std::string(kInputs) + "global:\n  poll_interval: 0s\n"),
            "cfg.yml:4:18: global.poll_interval: must be longer than 0; write e.g. "
            "poll_interval: 15s, or auto");
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "upstream:\n  timeout: 0\n"),
              StartsWith("cfg.yml:4:12: upstream.timeout: must be longer than 0"));
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "storage:\n  retention: 0s\n"),
              StartsWith("cfg.yml:4:14: storage.retention: must be longer than 0"));
}

TEST(ConfigTest, RejectsBackfillLongerThanRetention) {
  EXPECT_EQ(ErrorOf(std::string(kInputs) + "global:\n  backfill: 2h\nstorage:\n  retention: 1h\n"),
            "cfg.yml:4:13: global.backfill: 2h is longer than storage.retention (1h); set "
            "backfill to at most the retention, or raise storage.retention");
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "global:\n  backfill: 90m\n"),
              StartsWith("cfg.yml:4:13: global.backfill: 1h30m is longer than storage.retention "
                         "(1h, the default)"));
  EXPECT_THAT(
      ErrorOf(std::string(kInputs) + "global:\n  poll_interval: 2h\n"),
      StartsWith("cfg.yml:4:18: global.poll_interval: 2h is longer than storage.retention"));
}

TEST(ConfigTest, RejectsNonPositiveLimits) {
  EXPECT_EQ(ErrorOf(std::string(kInputs) + "storage:\n  max_series: 0\n"),
            "cfg.yml:4:15: storage.max_series: must be at least 1, got 0; write e.g. max_series: "
            "100000");
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "storage:\n  max_series: -5\n"),
              StartsWith("cfg.yml:4:15: storage.max_series: must be at least 1, got -5"));
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "upstream:\n  max_response_bytes: 0\n"),
              StartsWith("cfg.yml:4:23: upstream.max_response_bytes: must be at least 1"));
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "server:\n  max_streams: 0\n"),
              StartsWith("cfg.yml:4:16: server.max_streams: must be from 1 to 2147483647"));
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "server:\n  max_streams: 3000000000\n"),
              StartsWith("cfg.yml:4:16: server.max_streams: must be from 1 to 2147483647"));
}

// ---- Inputs ---------------------------------------------------------------------------------

TEST(ConfigTest, SelectorErrorPointsIntoPlainScalar) {
  // Column 15 is where "selector: " ends; the error is at offset 3 of up{=}.
  EXPECT_EQ(ErrorOf("inputs:\n  - selector: up{=\"x\"}\n"),
            "cfg.yml:2:18: inputs[0].selector: invalid selector (at its column 4): expected a "
            "label name ([a-zA-Z_][a-zA-Z0-9_]*), got '='; selectors look like up{job=\"node\"}, "
            "quote the whole value with '...' in YAML");
}

TEST(ConfigTest, SelectorErrorPointsIntoSingleQuotedScalar) {
  //                                   1234567890123456789012345
  std::string e = ErrorOf("inputs:\n  - selector: 'up{job=~\"a(\"}'\n");
  EXPECT_THAT(
      e, StartsWith("cfg.yml:2:24: inputs[0].selector: invalid selector (at its column "
                    "9): invalid regular expression \"a(\" for label \"job\": missing ): a( "));
  // A doubled '' before the error still maps to the right column.
  EXPECT_THAT(ErrorOf("inputs:\n  - selector: 'up{a=''x'' b}'\n"),
              StartsWith("cfg.yml:2:27: inputs[0].selector: invalid selector (at its column 10): "
                         "expected ',' or '}' after a matcher, got 'b'"));
}

TEST(ConfigTest, SelectorErrorPointsIntoDoubleQuotedScalar) {
  EXPECT_THAT(ErrorOf("inputs:\n  - selector: \"up{job='x' x}\"\n"),
              StartsWith("cfg.yml:2:27: inputs[0].selector: invalid selector (at its column 12)"));
  // An escape before the error: only the scalar's own position is known.
  EXPECT_THAT(ErrorOf("inputs:\n  - selector: \"up{job=\\\"x\\\" x}\"\n"),
              StartsWith("cfg.yml:2:15: inputs[0].selector: invalid selector (at its column 12)"));
}

TEST(ConfigTest, SelectorErrorInFlowAndBlockScalars) {
  EXPECT_THAT(ErrorOf("inputs: [{selector: 'up[5m]'}]\n"),
              StartsWith("cfg.yml:1:24: inputs[0].selector: invalid selector (at its column 3): "
                         "expected '{' or end of selector"));
  // A block scalar spans lines: the scalar's mark is used.
  EXPECT_THAT(ErrorOf("inputs:\n  - selector: |\n      up{\n"),
              StartsWith("cfg.yml:2:15: inputs[0].selector: invalid selector (at its column"));
}

TEST(ConfigTest, RejectsSelectorMatchingEmpty) {
  EXPECT_THAT(ErrorOf("inputs:\n  - selector: '{job=~\".*\"}'\n"),
              StartsWith("cfg.yml:2:16: inputs[0].selector: invalid selector (at its column 1): "
                         "selector {job=~\".*\"} matches the empty string in every matcher"));
}

TEST(ConfigTest, RejectsSelectorOfWrongType) {
  EXPECT_THAT(ErrorOf("inputs:\n  - selector: {job: x}\n"),
              StartsWith("cfg.yml:2:15: inputs[0].selector: expected a string, got a map"));
}

TEST(ConfigTest, RejectsInputWithBothOrNeither) {
  EXPECT_EQ(ErrorOf("inputs:\n  - selector: up\n  - selector: up\n    expr: up\n"),
            "cfg.yml:4:5: inputs[1].expr: an input has either selector or expr, not both; split "
            "it into two inputs");
  EXPECT_EQ(ErrorOf("inputs:\n  - selector: up\n  - name: x\n"),
            "cfg.yml:3:5: inputs[1]: needs a selector (raw samples) or an expr with a name "
            "(evaluated query); write e.g. - selector: up");
  EXPECT_THAT(ErrorOf("inputs:\n  - selector:\n"), StartsWith("cfg.yml:2:5: inputs[0]: needs a "));
}

TEST(ConfigTest, RejectsExprWithoutName) {
  EXPECT_EQ(ErrorOf("inputs:\n  - expr: sum(up)\n"),
            "cfg.yml:2:5: inputs[0]: an expr input needs a name, which becomes __name__ of its "
            "series; add e.g. name: dns_rate");
  EXPECT_THAT(ErrorOf("inputs:\n  - name: x\n    expr: '  '\n"),
              StartsWith("cfg.yml:3:11: inputs[0].expr: is empty"));
}

TEST(ConfigTest, RejectsInvalidMetricName) {
  EXPECT_EQ(ErrorOf("inputs:\n  - name: 1dns-rate\n    expr: up\n"),
            "cfg.yml:2:11: inputs[0].name: \"1dns-rate\" is not a valid metric name; use letters, "
            "digits, '_' and ':', not starting with a digit, e.g. dns_rate");
  EXPECT_THAT(ErrorOf("inputs:\n  - {name: a, expr: up}\n  - {name: a, expr: up}\n"),
              StartsWith("cfg.yml:3:12: inputs[1].name: \"a\" is already the name of the input at "
                         "cfg.yml:2:5"));
  EXPECT_THAT(ErrorOf("inputs:\n  - selector: up\n    name: x\n"),
              StartsWith("cfg.yml:3:5: inputs[0].name: name is only for expr inputs"));
}

TEST(ConfigTest, RejectsEmptyOrMissingInputs) {
  EXPECT_EQ(ErrorOf("inputs: []\n"),
            "cfg.yml:1:9: inputs: the list is empty; add at least one input, e.g. - selector: up");
  EXPECT_EQ(ErrorOf("log:\n  level: info\n"),
            "cfg.yml:1:1: inputs: is missing; add at least one input, e.g. inputs: [{selector: "
            "up}]");
  EXPECT_THAT(ErrorOf("log:\n  level: info\ninputs:\n"),
              StartsWith("cfg.yml:3:1: inputs: is empty; add at least one input"));
  EXPECT_THAT(ErrorOf("inputs:\n  selector: up\n"),
              StartsWith("cfg.yml:2:3: inputs: expected a list of inputs, got a map"));
  EXPECT_THAT(ErrorOf("inputs:\n  - up\n"),
              StartsWith("cfg.yml:2:5: inputs[0]: expected a map with selector, or name and "
                         "expr, got a string"));
}

TEST(ConfigTest, InputLocationIsTheListItem) {
  Config c = MustParse("# header\ninputs:\n  - selector: up\n\n  -   name: a\n      expr: up\n",
                       "/etc/promfeed/promfeed.yml");
  ASSERT_EQ(c.inputs.size(), 2u);
  EXPECT_EQ(c.inputs[0].location, "/etc/promfeed/promfeed.yml:3:5");
  EXPECT_EQ(c.inputs[1].location, "/etc/promfeed/promfeed.yml:5:7");
}

// ---- Upstream, server, log ---------------------------------------------------------------------

TEST(ConfigTest, RejectsBadUrl) {
  EXPECT_EQ(ErrorOf(std::string(kInputs) + "upstream:\n  url: localhost:9090\n"),
            "cfg.yml:4:8: upstream.url: \"localhost:9090\" must start with http:// or https://; "
            "write e.g. url: http://localhost:9090");
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "upstream:\n  url: ftp://x\n"),
              StartsWith("cfg.yml:4:8: upstream.url: \"ftp://x\" must start with http://"));
  EXPECT_EQ(ErrorOf(std::string(kInputs) + "upstream:\n  url: http:///api\n"),
            "cfg.yml:4:8: upstream.url: \"http:///api\" has no host; write e.g. url: "
            "http://localhost:9090");
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "upstream:\n  url: http://:9090\n"),
              StartsWith("cfg.yml:4:8: upstream.url: \"http://:9090\": the host is missing"));
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "upstream:\n  url: http://h:99999\n"),
              StartsWith("cfg.yml:4:8: upstream.url: \"http://h:99999\": port \"99999\" is not a "
                         "number from 0 to 65535"));
  Config ok = MustParse(std::string(kInputs) + "upstream:\n  url: HTTP://[::1]:9090\n");
  EXPECT_EQ(ok.upstream.url, "HTTP://[::1]:9090");
}

TEST(ConfigTest, RejectsCredentialsInUrlWithoutEchoingThem) {
  std::string e = ErrorOf(std::string(kInputs) + "upstream:\n  url: http://u:s3cr3t@h:9090\n");
  EXPECT_THAT(e, StartsWith("cfg.yml:4:8: upstream.url: credentials in the URL are not allowed"));
  EXPECT_THAT(e, Not(HasSubstr("s3cr3t")));
}

TEST(ConfigTest, RejectsBadListenAddress) {
  EXPECT_EQ(ErrorOf(std::string(kInputs) + "server:\n  grpc_listen_address: localhost\n"),
            "cfg.yml:4:24: server.grpc_listen_address: \"localhost\" is not host:port (the ':port' "
            "is missing); write e.g. 127.0.0.1:9401, 0.0.0.0:9401 or [::1]:9401");
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "server:\n  web_listen_address: 'h:http'\n"),
              StartsWith("cfg.yml:4:23: server.web_listen_address: \"h:http\" is not host:port "
                         "(port \"http\" is not a number from 0 to 65535)"));
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "server:\n  web_listen_address: '::1:9400'\n"),
              HasSubstr("write IPv6 addresses in brackets"));
  Config c = MustParse(std::string(kInputs) + "server:\n  web_listen_address: ':9400'\n");
  EXPECT_EQ(c.web_listen_address, ":9400");
}

TEST(ConfigTest, RejectsBadLogLevelAndFormat) {
  EXPECT_EQ(ErrorOf(std::string(kInputs) + "log:\n  level: verbose\n"),
            "cfg.yml:4:10: log.level: unknown level \"verbose\"; write one of debug, info, warn, "
            "error");
  EXPECT_EQ(ErrorOf(std::string(kInputs) + "log:\n  format: text\n"),
            "cfg.yml:4:11: log.format: unknown format \"text\"; write one of logfmt, json");
}

TEST(ConfigTest, RejectsAuthorizationHeader) {
  EXPECT_EQ(ErrorOf(std::string(kInputs) + "upstream:\n  headers:\n    authorization: Bearer x\n"),
            "cfg.yml:5:5: upstream.headers.authorization: credentials do not go in headers; use "
            "upstream.bearer_token_file or upstream.basic_auth");
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "upstream:\n  headers: [a]\n"),
              StartsWith("cfg.yml:4:12: upstream.headers: expected a map of header names to "
                         "values, got a list"));
  std::string e = ErrorOf(std::string(kInputs) + "upstream:\n  headers:\n    X-Key: [topsecret]\n");
  EXPECT_THAT(e, StartsWith("cfg.yml:5:12: upstream.headers.X-Key: expected a string value"));
  EXPECT_THAT(e, Not(HasSubstr("topsecret")));
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "upstream:\n  headers:\n    'Bad Name': x\n"),
              StartsWith("cfg.yml:5:5: upstream.headers: header names are letters"));
}

// ---- Secrets --------------------------------------------------------------------------------

TEST(ConfigTest, LoadsServerTlsAndBearerTokens) {
  TempDir dir;
  dir.Write("tls/server.pem", "cert");
  dir.Write("tls/server-key.pem", "key");
  dir.Write("tls/ca.pem", "ca");
  dir.Write("tokens", "# readers\n\n  first-token  \nsecond\n   # indented comment\n");
  std::string cfg = dir.Write("promfeed.yml", std::string(kInputs) + R"(server:
  tls_config:
    cert_file: tls/server.pem
    key_file: tls/server-key.pem
    client_ca_file: tls/ca.pem
    client_auth: require
  auth: {bearer_tokens_file: tokens}
)");
  absl::StatusOr<Config> c = LoadConfigFile(cfg);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->server_tls.enabled());
  EXPECT_EQ(c->server_tls.cert_file, (dir.path() / "tls/server.pem").string());
  EXPECT_EQ(c->server_tls.key_file, (dir.path() / "tls/server-key.pem").string());
  EXPECT_EQ(c->server_tls.client_ca_file, (dir.path() / "tls/ca.pem").string());
  EXPECT_TRUE(c->server_tls.require_client_cert);
  EXPECT_EQ(c->server_auth.bearer_tokens, (std::vector<std::string>{"first-token", "second"}));
}

TEST(ConfigTest, ServerTlsDefaultsOff) {
  Config c = MustParse(kInputs);
  EXPECT_FALSE(c.server_tls.enabled());
  EXPECT_FALSE(c.server_tls.require_client_cert);
  EXPECT_TRUE(c.server_auth.bearer_tokens.empty());
}

TEST(ConfigTest, RejectsBadServerTlsAndAuth) {
  TempDir dir;
  std::string pem = dir.Write("s.pem", "x");
  std::string empty = dir.Write("empty", "# nothing\n\n");
  const std::string tls = "server:\n  tls_config: {cert_file: " + pem + ", key_file: " + pem;
  EXPECT_THAT(ErrorOf(std::string(kInputs) + "server:\n  tls_config: {cert_file: " + pem + "}\n"),
              StartsWith("cfg.yml:4:15: server.tls_config.key_file: is required"));
  EXPECT_THAT(ErrorOf(std::string(kInputs) + tls + ", client_auth: maybe}\n"),
              HasSubstr("server.tls_config.client_auth: unknown client_auth \"maybe\"; write "
                        "none or require"));
  EXPECT_THAT(ErrorOf(std::string(kInputs) + tls + ", client_auth: require}\n"),
              HasSubstr("server.tls_config.client_auth: require needs client_ca_file"));
  EXPECT_THAT(ErrorOf(std::string(kInputs) + tls + ", client_ca_file: " + pem + "}\n"),
              HasSubstr("server.tls_config.client_ca_file: is only used with client_auth"));
  EXPECT_THAT(ErrorOf(std::string(kInputs) + tls + ", ca_file: x}\n"),
              HasSubstr("server.tls_config.ca_file: unknown key"));
  EXPECT_THAT(
      ErrorOf(std::string(kInputs) + tls + "}\n  auth: {bearer_tokens_file: " + empty + "}\n"),
      HasSubstr("server.auth.bearer_tokens_file: the file " + empty + " holds no token"));
  EXPECT_THAT(ErrorOf(std::string(kInputs) + tls + "}\n  auth: {bearer_tokens_file: /nope/t}\n"),
              HasSubstr("server.auth.bearer_tokens_file: cannot read /nope/t"));
  EXPECT_THAT(ErrorOf(std::string(kInputs) + tls + "}\n  auth: {}\n"),
              StartsWith("cfg.yml:5:3: server.auth.bearer_tokens_file: is required"));
  std::string tokens = dir.Write("tokens", "s3cret\n");
  std::string plain =
      ErrorOf(std::string(kInputs) + "server:\n  auth: {bearer_tokens_file: " + tokens + "}\n");
  EXPECT_THAT(plain, StartsWith("cfg.yml:4:3: server.auth: bearer tokens need TLS"));
  EXPECT_THAT(plain, Not(HasSubstr("s3cret")));
}

TEST(ConfigTest, LoadsBearerTokenRelativeToConfigDir) {
  TempDir dir;
  dir.Write("secrets/token", "  tok3n-value\n\n");
  std::string cfg = dir.Write(
      "promfeed.yml", std::string(kInputs) + "upstream:\n  bearer_token_file: secrets/token\n");
  absl::StatusOr<Config> c = LoadConfigFile(cfg);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->upstream.bearer_token, "tok3n-value");
  EXPECT_EQ(c->upstream.bearer_token_file, (dir.path() / "secrets/token").string());
}

TEST(ConfigTest, LoadsAbsoluteBearerTokenPath) {
  TempDir dir;
  std::string token = dir.Write("t", "abc");
  Config c = MustParse(std::string(kInputs) + "upstream:\n  bearer_token_file: " + token + "\n",
                       "/nonexistent/dir/cfg.yml");
  EXPECT_EQ(c.upstream.bearer_token, "abc");
}

TEST(ConfigTest, RejectsUnreadableTokenNamingResolvedPath) {
  TempDir dir;
  std::string cfg = dir.Write(
      "promfeed.yml", std::string(kInputs) + "upstream:\n  bearer_token_file: missing/token\n");
  absl::StatusOr<Config> c = LoadConfigFile(cfg);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  std::string resolved = (dir.path() / "missing/token").string();
  EXPECT_EQ(Msg(c.status()),
            cfg + ":4:22: upstream.bearer_token_file: cannot read " + resolved +
                ": No such file or directory (relative paths resolve against the config file's "
                "directory); check the path and the file's permissions");
}

TEST(ConfigTest, RejectsEmptyTokenFile) {
  TempDir dir;
  std::string token = dir.Write("t", " \n");
  EXPECT_EQ(ErrorOf(std::string(kInputs) + "upstream:\n  bearer_token_file: " + token + "\n"),
            "cfg.yml:4:22: upstream.bearer_token_file: the file " + token +
                " is empty; write the token into it");
  EXPECT_THAT(ErrorOf(std::string(kInputs) +
                      "upstream:\n  bearer_token_file: " + dir.path().string() + "\n"),
              HasSubstr("it is a directory"));
}

TEST(ConfigTest, LoadsBasicAuthPasswordFile) {
  TempDir dir;
  dir.Write("pw", "pa55word\n");
  std::string cfg = dir.Write("c.yml", std::string(kInputs) +
                                           "upstream:\n  basic_auth:\n    username: u\n"
                                           "    password_file: pw\n");
  absl::StatusOr<Config> c = LoadConfigFile(cfg);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->upstream.basic_auth.has_value());
  EXPECT_EQ(c->upstream.basic_auth->username, "u");
  EXPECT_EQ(c->upstream.basic_auth->password, "pa55word");
  EXPECT_EQ(c->upstream.basic_auth->password_file, (dir.path() / "pw").string());

  Config inline_pw =
      MustParse(std::string(kInputs) + "upstream:\n  basic_auth: {username: u, password: p}\n");
  EXPECT_EQ(inline_pw.upstream.basic_auth->password, "p");
}

TEST(ConfigTest, SecretsNeverAppearInErrors) {
  TempDir dir;
  std::string token = dir.Write("t", "TOKEN-SECRET");
  std::string pw = dir.Write("pw", "FILE-SECRET");
  // Exclusive auth methods.
  std::string e = ErrorOf(std::string(kInputs) + "upstream:\n  bearer_token_file: " + token +
                          "\n  basic_auth: {username: u, password: INLINE-SECRET}\n");
  EXPECT_THAT(e, StartsWith("cfg.yml:5:3: upstream.basic_auth: bearer_token_file and basic_auth "
                            "are exclusive; keep one of them"));
  // password and password_file together.
  std::string e2 = ErrorOf(std::string(kInputs) +
                           "upstream:\n  basic_auth:\n    username: u\n"
                           "    password: INLINE-SECRET\n    password_file: " +
                           pw + "\n");
  EXPECT_EQ(e2,
            "cfg.yml:7:5: upstream.basic_auth.password_file: password and password_file are "
            "exclusive; keep one of them");
  // A password of the wrong type.
  std::string e3 = ErrorOf(std::string(kInputs) +
                           "upstream:\n  basic_auth: {username: u, password: [INLINE-SECRET]}\n");
  EXPECT_THAT(e3, StartsWith("cfg.yml:4:39: upstream.basic_auth.password: expected a string, got "
                             "a list"));
  // An error after the secrets were loaded.
  std::string e4 = ErrorOf("upstream:\n  bearer_token_file: " + token +
                           "\ninputs:\n  - selector: '{a=\"TOKEN-SECRET\"'\n");
  EXPECT_THAT(e4, HasSubstr("inputs[0].selector"));
  for (const std::string& m : {e, e2, e3}) {
    EXPECT_THAT(m, Not(HasSubstr("SECRET")));
  }
  EXPECT_THAT(e4, Not(HasSubstr("FILE-SECRET")));
}

TEST(ConfigTest, RejectsBadBasicAuth) {
  EXPECT_EQ(ErrorOf(std::string(kInputs) + "upstream:\n  basic_auth:\n    password: p\n"),
            "cfg.yml:5:5: upstream.basic_auth: username is missing; write e.g. username: "
            "promfeed");
  TempDir dir;
  std::string cfg = dir.Write("c.yml", std::string(kInputs) +
                                           "upstream:\n  basic_auth:\n    username: u\n"
                                           "    password_file: ../nope\n");
  absl::StatusOr<Config> c = LoadConfigFile(cfg);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(Msg(c.status()),
              StartsWith(cfg + ":6:20: upstream.basic_auth.password_file: cannot read " +
                         (dir.path().parent_path() / "nope").string() + ": No such file"));
}

TEST(ConfigTest, TlsFilesResolveAndCertNeedsKey) {
  TempDir dir;
  dir.Write("ca.pem", "CA");
  dir.Write("c.pem", "CERT");
  dir.Write("k.pem", "KEY");
  std::string cfg =
      dir.Write("c.yml", std::string(kInputs) +
                             "upstream:\n  tls_config:\n    ca_file: ca.pem\n    cert_file: c.pem\n"
                             "    key_file: k.pem\n");
  absl::StatusOr<Config> c = LoadConfigFile(cfg);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->upstream.tls_config.ca_file, (dir.path() / "ca.pem").string());
  EXPECT_EQ(c->upstream.tls_config.cert_file, (dir.path() / "c.pem").string());
  EXPECT_EQ(c->upstream.tls_config.key_file, (dir.path() / "k.pem").string());

  std::string only_cert =
      dir.Write("d.yml", std::string(kInputs) + "upstream:\n  tls_config:\n    cert_file: c.pem\n");
  absl::StatusOr<Config> d = LoadConfigFile(only_cert);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(Msg(d.status()),
            only_cert +
                ":5:5: upstream.tls_config.cert_file: cert_file and key_file go together; "
                "set both for a client certificate, or neither");

  std::string missing_ca = dir.Write(
      "e.yml", std::string(kInputs) + "upstream:\n  tls_config:\n    ca_file: nope.pem\n");
  absl::StatusOr<Config> e = LoadConfigFile(missing_ca);
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(Msg(e.status()), StartsWith(missing_ca +
                                          ":5:14: upstream.tls_config.ca_file: "
                                          "cannot read " +
                                          (dir.path() / "nope.pem").string()));
}

// ---- LoadConfigFile ---------------------------------------------------------------------------

TEST(ConfigTest, LoadConfigFileNotFound) {
  absl::StatusOr<Config> c = LoadConfigFile("/nonexistent/promfeed.yml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Msg(c.status()), HasSubstr("/nonexistent/promfeed.yml"));
}

// Exits 0 when loading `path` fails with PERMISSION_DENIED naming the path.
[[noreturn]] void LoadExpectingPermissionDenied(const std::string& path) {
  absl::StatusOr<Config> c = LoadConfigFile(path);
  bool ok = !c.ok() && c.status().code() == absl::StatusCode::kPermissionDenied &&
            Msg(c.status()).find(path) != std::string::npos;
  std::_Exit(ok ? 0 : 1);
}

TEST(ConfigTest, LoadConfigFilePermissionDenied) {
  TempDir dir;
  std::string cfg = dir.Write("c.yml", kInputs);
  ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);
  ASSERT_EQ(chmod(cfg.c_str(), 0), 0);
  if (geteuid() != 0) {
    absl::StatusOr<Config> c = LoadConfigFile(cfg);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(Msg(c.status()), HasSubstr(cfg));
    return;
  }
  // root reads any file: check as an unprivileged user in a child process.
  EXPECT_EXIT(
      {
        if (setgid(65534) != 0 || setuid(65534) != 0) std::_Exit(2);
        LoadExpectingPermissionDenied(cfg);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(ConfigTest, LoadConfigFileErrorsNameTheFile) {
  TempDir dir;
  std::string cfg = dir.Write("c.yml", "inputs:\n  - selector: 'up{'\n");
  absl::StatusOr<Config> c = LoadConfigFile(cfg);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(Msg(c.status()), StartsWith(cfg + ":2:19: inputs[0].selector: "));
  absl::StatusOr<Config> d = LoadConfigFile(dir.path().string());
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(Msg(d.status()), HasSubstr("is a directory"));
}

}  // namespace
}  // namespace promfeed::config
