#include "daemon/upstream/prom_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "daemon/model/str_cat.h"
#include "daemon/upstream/errors.h"

namespace promfeed::upstream {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<QueryResult> Decode(std::string body, DecodeOptions options = {}) {
  PromJsonDecoder decoder(options);
  return decoder.DecodeQuery(body);
}

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

Labels L(std::vector<Label> l) { return Labels(std::move(l)); }

TEST(ParseTimestampMsTest, ExactMillisecondsFromDecimalText) {
  EXPECT_EQ(*ParseTimestampMs("1700000000.123"), 1700000000123);
  EXPECT_EQ(*ParseTimestampMs("1700000000"), 1700000000000);
  EXPECT_EQ(*ParseTimestampMs("1700000000.1"), 1700000000100);
  EXPECT_EQ(*ParseTimestampMs("0.001"), 1);
  EXPECT_EQ(*ParseTimestampMs("0"), 0);
  EXPECT_EQ(*ParseTimestampMs("-1.5"), -1500);
  // Values whose double is just below the decimal: 1700000000.123 * 1000 in double is
  // 1700000000122.9998; naive conversion truncates to ...122.
  EXPECT_EQ(*ParseTimestampMs("1435781451.781"), 1435781451781);
  EXPECT_EQ(*ParseTimestampMs("1.7e9"), 1700000000000);
  EXPECT_EQ(*ParseTimestampMs("1.7000000001234E+9"), 1700000000123);
  EXPECT_EQ(*ParseTimestampMs("17000000001234e-4"), 1700000000123);
  // Sub-millisecond digits round half away from zero.
  EXPECT_EQ(*ParseTimestampMs("1.0004"), 1000);
  EXPECT_EQ(*ParseTimestampMs("1.0005"), 1001);
  EXPECT_EQ(*ParseTimestampMs("-1.0005"), -1001);
  EXPECT_EQ(*ParseTimestampMs("0.0000001"), 0);
}

TEST(ParseTimestampMsTest, RejectsNonNumbersAndOverflow) {
  for (const char* bad : {"", "-", "1.", ".5", "01", "1e", "1e+", "abc", "1.5x", "+1", "NaN",
                          "9223372036854776", "1e300", "-9223372036854776"}) {
    absl::StatusOr<int64_t> r = ParseTimestampMs(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(*ParseTimestampMs("9223372036854775.807"), INT64_MAX);
  EXPECT_EQ(*ParseTimestampMs("-9223372036854775.808"), INT64_MIN);
  EXPECT_FALSE(ParseTimestampMs("9223372036854775.808").ok());
}

TEST(ParseSampleValueTest, EmptyViewsWithoutDataAreErrors) {
  EXPECT_FALSE(ParseSampleValue(std::string_view()).ok());
  EXPECT_FALSE(ParseTimestampMs(std::string_view()).ok());
}

TEST(ParseSampleValueTest, SpecialValuesAndDecimals) {
  EXPECT_TRUE(std::isnan(*ParseSampleValue("NaN")));
  EXPECT_FALSE(IsStaleMarker(*ParseSampleValue("NaN")));
  EXPECT_EQ(*ParseSampleValue("+Inf"), INFINITY);
  EXPECT_EQ(*ParseSampleValue("Inf"), INFINITY);
  EXPECT_EQ(*ParseSampleValue("-Inf"), -INFINITY);
  EXPECT_EQ(*ParseSampleValue("1.5"), 1.5);
  EXPECT_EQ(*ParseSampleValue("-0.25"), -0.25);
  EXPECT_EQ(*ParseSampleValue("+3"), 3);
  EXPECT_EQ(*ParseSampleValue("1e+06"), 1e6);
  EXPECT_EQ(*ParseSampleValue("1.7976931348623157e+308"), 1.7976931348623157e308);
  EXPECT_EQ(*ParseSampleValue("5e-324"), 5e-324);
  EXPECT_EQ(*ParseSampleValue("0.1"), 0.1);
  for (const char* bad : {"", "abc", "1.5.5", "inf", "nan", "1e400", "--1", "1 "}) {
    EXPECT_FALSE(ParseSampleValue(bad).ok()) << bad;
  }
}

// Plain decimals take a fast path (Clinger's: an exact integer over an exact power of ten);
// it must give the double std::from_chars gives, bit for bit.
TEST(ParseSampleValueTest, DecimalsAsFromChars) {
  std::mt19937_64 rng(42);
  auto expect_as_from_chars = [](const std::string& text) {
    double want = 0;
    std::from_chars(text.data(), text.data() + text.size(), want);
    absl::StatusOr<double> got = ParseSampleValue(text);
    ASSERT_TRUE(got.ok()) << text;
    EXPECT_EQ(std::bit_cast<uint64_t>(*got), std::bit_cast<uint64_t>(want)) << text;
  };
  for (int i = 0; i < 200'000; ++i) {
    // Up to 20 digits, the point anywhere (or none), either sign.
    const int digits = 1 + static_cast<int>(rng() % 20);
    std::string text = rng() % 2 ? "-" : "";
    const int point = static_cast<int>(rng() % (digits + 1));
    for (int d = 0; d < digits; ++d) {
      if (d == point && d > 0) text += '.';
      text += static_cast<char>('0' + rng() % 10);
    }
    expect_as_from_chars(text);
  }
  for (const char* text :
       {"0", "-0", "0.0", "-0.000", "9007199254740992", "9007199254740993", "9007199254740992.5",
        "0.1", "0.30000000000000004", "1000.37", "0.0000000000000000000001",
        "0.00000000000000000000001", "1234567890123456789", "12345678901234567890"}) {
    expect_as_from_chars(text);
  }
}

TEST(FormatTimestampSecondsTest, MillisecondPrecision) {
  EXPECT_EQ(FormatTimestampSeconds(1700000000123), "1700000000.123");
  EXPECT_EQ(FormatTimestampSeconds(1700000000000), "1700000000");
  EXPECT_EQ(FormatTimestampSeconds(1700000000100), "1700000000.1");
  EXPECT_EQ(FormatTimestampSeconds(1700000000010), "1700000000.01");
  EXPECT_EQ(FormatTimestampSeconds(-1500), "-1.5");
  EXPECT_EQ(FormatTimestampSeconds(0), "0");
  for (int64_t ms : {int64_t{1}, int64_t{999}, int64_t{1435781451781}, INT64_MAX, INT64_MIN + 1}) {
    EXPECT_EQ(*ParseTimestampMs(FormatTimestampSeconds(ms)), ms) << ms;
  }
}

constexpr char kMatrix[] = R"({"status":"success","data":{"resultType":"matrix","result":[
  {"metric":{"__name__":"up","job":"coredns","instance":"a:9153"},
   "values":[[1700000000.123,"1"],[1700000015.123,"NaN"],[1700000030,"+Inf"],[1700000045.5,"-Inf"]]},
  {"metric":{"__name__":"up","job":"coredns","instance":"b:9153","zone":"x\"y\u00e9"},
   "values":[[1435781451.781,"0.5"]]}]}})";

TEST(PromJsonDecoderTest, DecodesMatrix) {
  absl::StatusOr<QueryResult> r = Decode(kMatrix);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, ResultType::kMatrix);
  ASSERT_EQ(r->series.size(), 2u);
  EXPECT_EQ(r->series[0].labels,
            L({{"__name__", "up"}, {"job", "coredns"}, {"instance", "a:9153"}}));
  const auto& s = r->series[0].samples;
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0], (Sample{1700000000123, 1}));
  EXPECT_EQ(s[1].time_ms, 1700000015123);
  EXPECT_TRUE(std::isnan(s[1].value));
  EXPECT_EQ(s[2], (Sample{1700000030000, INFINITY}));
  EXPECT_EQ(s[3], (Sample{1700000045500, -INFINITY}));
  EXPECT_EQ(r->series[1].labels.Get("zone"), "x\"y\xc3\xa9");
  EXPECT_THAT(r->series[1].samples, ElementsAre(Sample{1435781451781, 0.5}));
  EXPECT_TRUE(r->warnings.empty());
}

TEST(PromJsonDecoderTest, DecodesVectorWithWarningsAndInfos) {
  absl::StatusOr<QueryResult> r = Decode(R"({"status":"success","warnings":["w1"],
    "data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"42"]},
    {"metric":{"a":"b"},"value":[1700000000.001,"-1e-3"]}]},"infos":["i1"]})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, ResultType::kVector);
  ASSERT_EQ(r->series.size(), 2u);
  EXPECT_TRUE(r->series[0].labels.empty());
  EXPECT_THAT(r->series[0].samples, ElementsAre(Sample{1700000000000, 42}));
  EXPECT_EQ(r->series[1].labels, L({{"a", "b"}}));
  EXPECT_THAT(r->series[1].samples, ElementsAre(Sample{1700000000001, -1e-3}));
  EXPECT_THAT(r->warnings, ElementsAre("w1", "i1"));
}

TEST(PromJsonDecoderTest, DecodesScalarAndString) {
  absl::StatusOr<QueryResult> r = Decode(
      R"({"status":"success","data":{"resultType":"scalar","result":[1700000000.5,"2.5"]}})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, ResultType::kScalar);
  ASSERT_EQ(r->series.size(), 1u);
  EXPECT_TRUE(r->series[0].labels.empty());
  EXPECT_THAT(r->series[0].samples, ElementsAre(Sample{1700000000500, 2.5}));

  r = Decode(
      R"({"status":"success","data":{"result":[1700000000,"hello"],"resultType":"string"}})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, ResultType::kString);
  EXPECT_EQ(r->string_value, "hello");
  ASSERT_EQ(r->series.size(), 1u);
  EXPECT_EQ(r->series[0].samples[0].time_ms, 1700000000000);
}

TEST(PromJsonDecoderTest, EmptyResultsAndFieldOrder) {
  for (const char* type : {"matrix", "vector"}) {
    absl::StatusOr<QueryResult> r =
        Decode(Cat(R"({"data":{"result":[],"resultType":")", type, R"("},"status":"success"})"));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(ResultTypeName(r->type), type);
    EXPECT_TRUE(r->series.empty());
  }
}

TEST(PromJsonDecoderTest, SkipsUnknownFieldsAndNativeHistograms) {
  absl::StatusOr<QueryResult> r = Decode(R"({"status":"success","extra":{"x":[1,2]},
    "data":{"resultType":"matrix","stats":{"a":1},"result":[
      {"metric":{"a":"1"},"histograms":[[1,{"count":"1","sum":"2"}],[2,{"count":"1"}]]},
      {"metric":{"a":"2"},"values":[[1,"1"]],"future":true}]}})");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->series.size(), 1u);
  EXPECT_EQ(r->series[0].labels.Get("a"), "2");
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_THAT(r->warnings[0], HasSubstr("2 native histogram samples"));
}

// Found by fuzz/prom_json_fuzzer: after a failed count of "histograms" the decoder read on
// from a parser in error state (UBSan: null pointer inside simdjson).
TEST(PromJsonDecoderTest, MalformedNativeHistogramsFailInsteadOfReadingOn) {
  absl::StatusOr<QueryResult> r = Decode(R"({"status":"success","data":{"resultType":"matrix",
      "result":[{"metric":{"a":"1"},"histograms":5},{"metric":{"a":"2"},"values":[[1,"1"]]}]}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ReasonOf(r.status()), FailureReason::kDecode) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("data.result[0].histograms")) << r.status();
}

TEST(PromJsonDecoderTest, ErrorEnvelopesMapToStatusCodes) {
  struct Case {
    const char* error_type;
    absl::StatusCode code;
  } cases[] = {{"bad_data", absl::StatusCode::kInvalidArgument},
               {"timeout", absl::StatusCode::kDeadlineExceeded},
               {"canceled", absl::StatusCode::kDeadlineExceeded},
               {"execution", absl::StatusCode::kInternal},
               {"internal", absl::StatusCode::kInternal},
               {"unavailable", absl::StatusCode::kUnavailable},
               {"something_new", absl::StatusCode::kUnknown}};
  for (const Case& c : cases) {
    absl::StatusOr<QueryResult> r =
        Decode(Cat(R"({"status":"error","errorType":")", c.error_type,
                   R"(","error":"parse error at char 5","warnings":["careful"]})"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), c.code) << c.error_type;
    EXPECT_THAT(Msg(r.status()),
                HasSubstr(Cat("prometheus ", c.error_type, ": parse error at char 5")));
    EXPECT_THAT(Msg(r.status()), HasSubstr("careful"));
    EXPECT_EQ(ReasonOf(r.status()), FailureReason::kApiError);
  }
  // "data": null in an error envelope, error fields before status.
  absl::StatusOr<QueryResult> r =
      Decode(R"({"errorType":"bad_data","error":"x","data":null,"status":"error"})");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PromJsonDecoderTest, TruncatedJsonFailsAtEveryCut) {
  const std::string full = kMatrix;
  ASSERT_TRUE(Decode(full).ok());
  PromJsonDecoder decoder;  // Reused across calls, as the poller does.
  for (size_t cut = 0; cut < full.size(); ++cut) {
    std::string body = full.substr(0, cut);
    // Cutting only trailing whitespace leaves a valid document; the full object never is cut.
    absl::StatusOr<QueryResult> r = decoder.DecodeQuery(body);
    ASSERT_FALSE(r.ok()) << "cut at " << cut << ": " << body;
    EXPECT_TRUE(r.status().code() == absl::StatusCode::kDataLoss ||
                r.status().code() == absl::StatusCode::kInvalidArgument)
        << r.status();
    EXPECT_EQ(ReasonOf(r.status()), FailureReason::kDecode) << r.status();
  }
}

TEST(PromJsonDecoderTest, TruncationMessageSaysMalformedWithOffset) {
  absl::StatusOr<QueryResult> r = Decode(
      R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1")");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_THAT(Msg(r.status()), HasSubstr("malformed JSON"));
}

TEST(PromJsonDecoderTest, TrailingGarbageIsRejected) {
  absl::StatusOr<QueryResult> r =
      Decode(R"({"status":"success","data":{"resultType":"vector","result":[]}} {"x":1})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
}

TEST(PromJsonDecoderTest, WrongTypesNameTheField) {
  struct Case {
    std::string body;
    std::string field;
  } cases[] = {
      {R"([1,2])", "response: expected a JSON object, got an array"},
      {R"({"status":1,"data":{}})", "status: expected a string, got a number"},
      {R"({"status":"weird","data":{}})", "status: expected \"success\" or \"error\""},
      {R"({"status":"success","data":[]})", "data: expected an object, got an array"},
      {R"({"status":"success","data":{"resultType":5,"result":[]}})",
       "data.resultType: expected a string"},
      {R"({"status":"success","data":{"resultType":"tensor","result":[]}})",
       "unknown result type \"tensor\""},
      {R"({"status":"success","data":{"resultType":"vector","result":{}}})",
       "data.result: expected an array, got an object"},
      {R"({"status":"success","data":{"resultType":"vector","result":[{"metric":[],"value":[1,"1"]}]}})",
       "data.result[0].metric: expected an object of labels"},
      {R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":1},"value":[1,"1"]}]}})",
       "data.result[0].metric.a: expected a string, got a number"},
      {R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":["1","1"]}]}})",
       "data.result[0].value[0]: expected a number (time in seconds), got a string"},
      {R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,1]}]}})",
       "data.result[0].value[1]: expected a string (sample value), got a number"},
      {R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"x"]}]}})",
       "data.result[0].value[1]: bad sample value \"x\""},
      {R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1]}]}})",
       "data.result[0].value: expected [time, \"value\"], got fewer"},
      {R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1",2]}]}})",
       "got more than 2"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[2,true]]}]}})",
       "data.result[0].values[1][1]: expected a string (sample value), got a boolean"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[2,"1"],[1,"1"]]}]}})",
       "data.result[0].values[1]: samples are not in ascending time order"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"value":[1,"1"]}]}})",
       "does not have the shape of a matrix"},
      {R"({"status":"success","data":{"resultType":"scalar","result":[{"metric":{},"value":[1,"1"]}]}})",
       "does not have the shape of a scalar"},
      {R"({"status":"success","data":{"resultType":"vector","result":[[1,"1"]]}})",
       "data.result[0]: expected a series object or a number"},
      {R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,"1"]}]}})",
       "data.result[0]: missing field \"metric\""},
      {R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}})",
       "missing field \"value\" or \"values\""},
      {R"({"status":"success","data":{"result":[]}})", "data: missing field \"resultType\""},
      {R"({"status":"success","data":{"resultType":"vector"}})", "data: missing field \"result\""},
      {R"({"status":"success"})", "response: missing field \"data\""},
      {R"({"data":{"resultType":"vector","result":[]}})", "response: missing field \"status\""},
      {R"({"status":"success","warnings":"w","data":{"resultType":"vector","result":[]}})",
       "warnings: expected an array of strings"},
      {R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1e300,"1"]}]}})",
       "data.result[0].value[0]: bad timestamp \"1e300\": out of range"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<QueryResult> r = Decode(c.body);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    EXPECT_THAT(Msg(r.status()), HasSubstr(c.field)) << c.body;
    // Fields missing from the top-level object are noticed at its end, past the last byte.
    if (c.field.find("response: missing") == std::string::npos) {
      EXPECT_THAT(Msg(r.status()), HasSubstr("at byte")) << c.body;
    }
    EXPECT_EQ(ReasonOf(r.status()), FailureReason::kDecode);
  }
}

TEST(PromJsonDecoderTest, HugeValuesAndTimestamps) {
  absl::StatusOr<QueryResult> r = Decode(R"({"status":"success","data":{"resultType":"vector",
    "result":[{"metric":{},"value":[9223372036854775.807,"1.7976931348623157e308"]}]}})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->series[0].samples, ElementsAre(Sample{INT64_MAX, 1.7976931348623157e308}));
  r = Decode(R"({"status":"success","data":{"resultType":"vector",
    "result":[{"metric":{},"value":[1,"1e999"]}]}})");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Msg(r.status()), HasSubstr("out of the range of float64"));
  // A long digit string that is still an exact millisecond.
  r = Decode(R"({"status":"success","data":{"resultType":"vector",
    "result":[{"metric":{},"value":[1700000000.123000000000000000000,"1"]}]}})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->series[0].samples[0].time_ms, 1700000000123);
}

TEST(PromJsonDecoderTest, SampleCapIsResourceExhausted) {
  const std::string body = kMatrix;  // 5 samples.
  EXPECT_TRUE(Decode(body, DecodeOptions{.max_samples = 5}).ok());
  absl::StatusOr<QueryResult> r = Decode(body, DecodeOptions{.max_samples = 4});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(Msg(r.status()), HasSubstr("more than 4 samples"));
  EXPECT_EQ(ReasonOf(r.status()), FailureReason::kLimit);
}

TEST(PromJsonDecoderTest, ParsesInPlaceWhenPadded) {
  std::string body = kMatrix;
  body.reserve(body.size() + kJsonPadding);
  PromJsonDecoder decoder;
  absl::StatusOr<QueryResult> r = decoder.DecodeQuery(body);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->series.size(), 2u);
  // The decoder is reusable.
  EXPECT_TRUE(decoder.DecodeQuery(body).ok());
}

std::string ConfigBody(std::string_view yaml_json_escaped) {
  return Cat(R"({"status":"success","data":{"yaml":")", yaml_json_escaped, R"("}})");
}

TEST(PromJsonDecoderTest, ScrapeIntervalFromStatusConfig) {
  PromJsonDecoder decoder;
  absl::StatusOr<int64_t> ms = decoder.DecodeScrapeIntervalMs(ConfigBody(
      R"(global:\n  scrape_interval: 15s\n  evaluation_interval: 1m\nscrape_configs:\n- job_name: x\n)"));
  ASSERT_TRUE(ms.ok()) << ms.status();
  EXPECT_EQ(*ms, 15'000);
  ms = decoder.DecodeScrapeIntervalMs(ConfigBody(R"(global:\n  evaluation_interval: 5s\n)"));
  ASSERT_TRUE(ms.ok()) << ms.status();
  EXPECT_EQ(*ms, 60'000);
  ms = decoder.DecodeScrapeIntervalMs(ConfigBody(""));
  ASSERT_TRUE(ms.ok()) << ms.status();
  EXPECT_EQ(*ms, 60'000);
  ms = decoder.DecodeScrapeIntervalMs(ConfigBody(R"(global:\n  scrape_interval: soon\n)"));
  ASSERT_FALSE(ms.ok());
  EXPECT_EQ(ms.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(ms.status()), HasSubstr("data.yaml:2:20: global.scrape_interval"));
  ms = decoder.DecodeScrapeIntervalMs(ConfigBody(R"(global: [\n)"));
  ASSERT_FALSE(ms.ok());
  EXPECT_THAT(Msg(ms.status()), HasSubstr("data.yaml:"));
  ms = decoder.DecodeScrapeIntervalMs(R"({"status":"success","data":{}})");
  EXPECT_THAT(Msg(ms.status()), HasSubstr("missing field \"yaml\""));
  ms = decoder.DecodeScrapeIntervalMs(R"({"status":"error","errorType":"internal","error":"x"})");
  EXPECT_EQ(ms.status().code(), absl::StatusCode::kInternal);
}

TEST(PromJsonDecoderTest, VisitorGetsEachSeriesInsteadOfTheResult) {
  PromJsonDecoder decoder;
  std::vector<std::pair<Labels, std::vector<Sample>>> seen;
  absl::StatusOr<QueryResult> r =
      decoder.DecodeQuery(kMatrix, [&](std::string_view labels, std::span<const Sample> samples) {
        seen.emplace_back(Labels::FromEncoded(labels),
                          std::vector<Sample>(samples.begin(), samples.end()));
      });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, ResultType::kMatrix);
  EXPECT_TRUE(r->series.empty());
  absl::StatusOr<QueryResult> whole = decoder.DecodeQuery(kMatrix);
  ASSERT_TRUE(whole.ok()) << whole.status();
  ASSERT_EQ(seen.size(), whole->series.size());
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].first, whole->series[i].labels);
    EXPECT_EQ(seen[i].second.size(), whole->series[i].samples.size());
  }
  // Series before an error have been visited; the error is reported as without a visitor.
  seen.clear();
  const std::string bad = R"({"status":"success","data":{"resultType":"vector","result":[
      {"metric":{"a":"1"},"value":[1,"1"]},{"metric":{"a":"2"},"value":[1,"x"]}]}})";
  r = decoder.DecodeQuery(bad, [&](std::string_view labels, std::span<const Sample> samples) {
    seen.emplace_back(Labels::FromEncoded(labels),
                      std::vector<Sample>(samples.begin(), samples.end()));
  });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].first, L({{"a", "1"}}));
}

TEST(PromJsonDecoderTest, EscapesInLabelNamesAndValuesAreDecoded) {
  // Plain strings are read in place; any escape takes simdjson's unescaping path.
  absl::StatusOr<QueryResult> r = Decode(R"({"status":"success","data":{"resultType":"vector",
      "result":[{"metric":{"a\u0062":"\u003cx\u003e","plain":"v","q":"a\\b"},
                 "value":[1,"1\u002e5"]}]}})");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->series.size(), 1u);
  EXPECT_EQ(r->series[0].labels, L({{"ab", "<x>"}, {"plain", "v"}, {"q", "a\\b"}}));
  EXPECT_EQ(r->series[0].samples[0].value, 1.5);
}

// --- The fast path (the default) against the general path (DecodeOptions::fast_path = false).

struct Decoded {
  absl::Status status;
  QueryResult result;                                               // When status is OK.
  std::vector<std::pair<std::string, std::vector<Sample>>> visits;  // With a visitor.
  absl::Status visit_status;
};

Decoded DecodeBoth(const std::string& body, DecodeOptions options) {
  PromJsonDecoder decoder(options);
  Decoded d;
  absl::StatusOr<QueryResult> r = decoder.DecodeQuery(body);
  d.status = r.status();
  if (r.ok()) d.result = *std::move(r);
  absl::StatusOr<QueryResult> v = decoder.DecodeQuery(body, [&](std::string_view labels,
                                                                std::span<const Sample> samples) {
    d.visits.emplace_back(std::string(labels), std::vector<Sample>(samples.begin(), samples.end()));
  });
  d.visit_status = v.status();
  return d;
}

// Bitwise, so that NaN equals NaN and -0 differs from 0.
std::vector<std::pair<int64_t, uint64_t>> Bits(const std::vector<Sample>& samples) {
  std::vector<std::pair<int64_t, uint64_t>> out;
  for (const Sample& s : samples) out.emplace_back(s.time_ms, std::bit_cast<uint64_t>(s.value));
  return out;
}

using Visits = std::vector<std::pair<std::string, std::vector<Sample>>>;

// A body decoded by QueryStreamDecoder from the pieces that `cuts` (ascending offsets) make.
// When the stream asks for the body again, it is decoded whole, as PrometheusApi does.
struct Streamed {
  absl::Status status;
  QueryResult result;  // When status is OK.
  Visits visits;
  std::optional<size_t> refetched_after;  // Visits before the body was decoded again.
  size_t max_buffered = 0;                // QueryStreamDecoder::buffered_bytes() after a piece.
};

Streamed DecodeStreamed(PromJsonDecoder& decoder, const std::string& body,
                        const std::vector<size_t>& cuts) {
  Streamed out;
  auto visit = [&](std::string_view labels, std::span<const Sample> samples) {
    out.visits.emplace_back(std::string(labels),
                            std::vector<Sample>(samples.begin(), samples.end()));
  };
  QueryStreamDecoder stream(decoder, visit);
  size_t from = 0;
  for (size_t cut : cuts) {
    stream.Feed(std::string_view(body).substr(from, cut - from));
    out.max_buffered = std::max(out.max_buffered, stream.buffered_bytes());
    from = cut;
  }
  stream.Feed(std::string_view(body).substr(from));
  out.max_buffered = std::max(out.max_buffered, stream.buffered_bytes());
  std::optional<absl::StatusOr<QueryResult>> r = stream.Finish();
  if (!r) {
    out.refetched_after = out.visits.size();
    r = decoder.DecodeQuery(body, visit);
  }
  out.status = r->status();
  if (r->ok()) out.result = **std::move(r);
  return out;
}

// The stream gives what DecodeQuery gives on the whole body; after a refetch, the visits
// before it are the whole body's first ones.
void ExpectStreamedAsWhole(const Decoded& whole, const Streamed& streamed, std::string_view how) {
  SCOPED_TRACE(how);
  EXPECT_EQ(streamed.status, whole.visit_status);
  if (streamed.status.ok() && whole.visit_status.ok()) {
    EXPECT_EQ(streamed.result.type, whole.result.type);
    EXPECT_EQ(streamed.result.warnings, whole.result.warnings);
  }
  const size_t before = streamed.refetched_after.value_or(0);
  ASSERT_EQ(streamed.visits.size(), before + whole.visits.size());
  ASSERT_LE(before, whole.visits.size());
  for (size_t i = 0; i < streamed.visits.size(); ++i) {
    const auto& want = whole.visits[i < before ? i : i - before];
    EXPECT_EQ(streamed.visits[i].first, want.first) << i;
    EXPECT_EQ(Bits(streamed.visits[i].second), Bits(want.second)) << i;
  }
}

// Streams `body` cut at every byte, one byte at a time, and in random pieces.
void ExpectStreamedAsWhole(const std::string& body, DecodeOptions options) {
  options.fast_path = true;
  const Decoded whole = DecodeBoth(body, options);
  PromJsonDecoder decoder(options);
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    ExpectStreamedAsWhole(whole, DecodeStreamed(decoder, body, {cut}), Cat("cut at ", cut));
  }
  std::vector<size_t> every_byte;
  for (size_t cut = 1; cut < body.size(); ++cut) every_byte.push_back(cut);
  ExpectStreamedAsWhole(whole, DecodeStreamed(decoder, body, every_byte), "byte by byte");
  std::mt19937 rng(static_cast<unsigned>(body.size()));
  for (int round = 0; round < 4; ++round) {
    std::vector<size_t> cuts;
    for (size_t at = rng() % 16; at < body.size(); at += 1 + rng() % 40) cuts.push_back(at);
    ExpectStreamedAsWhole(whole, DecodeStreamed(decoder, body, cuts), Cat("random ", round));
  }
}

void ExpectSameAsGeneral(const std::string& body, DecodeOptions options = {}) {
  SCOPED_TRACE(body);
  ExpectStreamedAsWhole(body, options);
  options.fast_path = true;
  const Decoded fast = DecodeBoth(body, options);
  options.fast_path = false;
  const Decoded general = DecodeBoth(body, options);
  EXPECT_EQ(fast.status, general.status);  // Code, message and payload (FailureReason).
  EXPECT_EQ(fast.visit_status, general.visit_status);
  if (fast.status.ok() && general.status.ok()) {
    EXPECT_EQ(fast.result.type, general.result.type);
    EXPECT_EQ(fast.result.string_value, general.result.string_value);
    EXPECT_EQ(fast.result.warnings, general.result.warnings);
    ASSERT_EQ(fast.result.series.size(), general.result.series.size());
    for (size_t i = 0; i < fast.result.series.size(); ++i) {
      EXPECT_EQ(fast.result.series[i].labels, general.result.series[i].labels) << i;
      EXPECT_EQ(Bits(fast.result.series[i].samples), Bits(general.result.series[i].samples)) << i;
    }
  }
  // On success the same visits. On an error that simdjson finds before reading anything
  // (invalid UTF-8, an unclosed string, a control character anywhere in the body), the fast
  // path may already have visited the well-formed series before that byte.
  if (general.visit_status.ok()) {
    ASSERT_EQ(fast.visits.size(), general.visits.size());
  } else {
    ASSERT_GE(fast.visits.size(), general.visits.size());
  }
  for (size_t i = 0; i < general.visits.size(); ++i) {
    EXPECT_EQ(fast.visits[i].first, general.visits[i].first) << i;
    EXPECT_EQ(Bits(fast.visits[i].second), Bits(general.visits[i].second)) << i;
  }
}

std::string Envelope(std::string_view type, std::string_view result) {
  return Cat(R"({"status":"success","data":{"resultType":")", type, R"(","result":[)", result,
             "]}}");
}

std::string MatrixOf(std::string_view pairs, std::string_view metric = R"("a":"1")") {
  return Envelope("matrix", Cat(R"({"metric":{)", metric, R"(},"values":[)", pairs, "]}"));
}

std::string VectorOf(std::string_view pair, std::string_view metric = R"("a":"1")") {
  return Envelope("vector", Cat(R"({"metric":{)", metric, R"(},"value":)", pair, "}"));
}

TEST(PromJsonFastPathTest, CanonicalShapesDecodeAsTheGeneralPath) {
  const std::string three_series = Envelope(
      "matrix",
      R"({"metric":{"__name__":"node_cpu_seconds_total","cpu":"0","instance":"10.0.0.1:9100","job":"node","mode":"idle"},"values":[[1700000000,"1000.25"],[1700000001,"1000.5"]]},)"
      R"({"metric":{},"values":[[1700000000.5,"0"]]},)"
      R"({"metric":{"z":"1","a":"2","a":"3","e":""},"values":[]},)"
      R"({"metric":{"z":"1","a":"2","a":"3","e":""},"values":[[1,"2"]]})");
  ExpectSameAsGeneral(three_series);
  ExpectSameAsGeneral(kMatrix);
  ExpectSameAsGeneral(Envelope("matrix", ""));
  ExpectSameAsGeneral(Envelope("vector", ""));
  ExpectSameAsGeneral(VectorOf(R"([1700000000.001,"-1e-3"])"));
  ExpectSameAsGeneral(Envelope("vector", R"({"metric":{"a":"1"},"value":[1,"1"]},)"
                                         R"({"metric":{"a":"2"},"value":[1,"2"]})"));
  ExpectSameAsGeneral(three_series + "\n");
  ExpectSameAsGeneral(R"({"status":"success","data":{"resultType":"scalar","result":[1,"2"]}})");
  ExpectSameAsGeneral(R"({"status":"success","data":{"resultType":"string","result":[1,"x"]}})");
  // Warnings and infos after the data, as Prometheus adds them.
  const std::string vector = VectorOf(R"([1,"1"])");
  const std::string open = vector.substr(0, vector.size() - 1);
  ExpectSameAsGeneral(open + R"(,"warnings":["w1","w2"]})");
  ExpectSameAsGeneral(open + R"(,"warnings":[],"infos":["i1"]})");
  ExpectSameAsGeneral(open + R"(,"infos":["i1"],"warnings":["w1"]})");
  ExpectSameAsGeneral(open + R"(,"warnings":["a \"quoted\" w"]})");
  ExpectSameAsGeneral(open + R"(,"warnings":null})");
  ExpectSameAsGeneral(open + R"(,"warnings":[1]})");
}

TEST(PromJsonFastPathTest, EveryTimestampFormat) {
  for (const char* t : {"0",
                        "-0",
                        "1",
                        "-1.5",
                        "1700000000",
                        "1700000000.1",
                        "1700000000.12",
                        "1700000000.123",
                        "1700000000.1234",
                        "1700000000.0005",
                        "1.7e9",
                        "1.7E+9",
                        "17000000001234e-4",
                        "999999999999999",
                        "9999999999999999",
                        "9223372036854775.807",
                        "9223372036854775.808",
                        "-9223372036854775.808",
                        "1e300",
                        "01",
                        "1.",
                        ".5",
                        "+1",
                        "-",
                        "1.5x",
                        "\"1\"",
                        "true",
                        "null",
                        "[1]",
                        "1 ",
                        " 1"}) {
    ExpectSameAsGeneral(VectorOf(Cat("[", t, R"(,"1"])")));
    ExpectSameAsGeneral(MatrixOf(Cat("[", t, R"(,"1"],[)", t, R"(,"2"])")));
  }
}

TEST(PromJsonFastPathTest, EverySampleValueFormat) {
  for (const char* v : {"0",
                        "-0",
                        "1",
                        "0.1",
                        "-0.25",
                        "1000.37",
                        "3.141592653589793",
                        "9007199254740992",
                        "9007199254740993",
                        "123456789012345678901234567890",
                        "0.30000000000000004",
                        "1.0000000000000000000001",
                        "0.0000000000000000000000001",
                        "1e-3",
                        "1e+06",
                        "1E6",
                        "1.7976931348623157e+308",
                        "5e-324",
                        "1e999",
                        "NaN",
                        "+Inf",
                        "Inf",
                        "-Inf",
                        "inf",
                        "nan",
                        "-nan",
                        "+3",
                        ".5",
                        "1.",
                        "-.5",
                        "",
                        " 1",
                        "1 ",
                        "0x10",
                        "x",
                        "1\\u002e5",
                        "\\u0031"}) {
    ExpectSameAsGeneral(VectorOf(Cat(R"([1,")", v, R"("])")));
    ExpectSameAsGeneral(MatrixOf(Cat(R"([1,"2"],[2,")", v, R"("])")));
  }
  for (const char* pair : {"[1,1]", "[1,true]", "[1]", R"([1,"1",2])", "[]", "{}", "null",
                           R"([1,"1"] )", R"( [1,"1"])", R"([1 ,"1"])", R"([1, "1"])"}) {
    ExpectSameAsGeneral(VectorOf(pair));
    ExpectSameAsGeneral(MatrixOf(Cat(R"([0,"0"],)", pair)));
  }
}

TEST(PromJsonFastPathTest, EscapedAndUnusualLabels) {
  for (const char* metric : {R"("a":"\u003cx\u003e")",
                             R"("q":"a\\b")",
                             R"("a\u0062":"c")",
                             R"("x":"\"")",
                             R"("x":"\/")",
                             R"("x":"é日本")",
                             R"("é":"1")",
                             "\"x\":\"\xff\"",
                             "\"x\":\"\xc3\"",
                             "\"x\":\"\xed\xa0\x80\"",
                             "\"x\":\"a\tb\"",
                             "\"x\":\"a\x01\"",
                             "\"x\":\"a\x7f\"",
                             R"("a":"")",
                             R"("":"x")",
                             R"("a":"1","a":"2")",
                             R"("a":1)",
                             R"("a":null)",
                             R"("a":{})",
                             R"("a" :"1")",
                             R"("a": "1")",
                             R"("a":"1" )",
                             R"( "a":"1")"}) {
    ExpectSameAsGeneral(VectorOf(R"([1,"1"])", metric));
    // After a well-formed series, which the fast path has visited by then.
    ExpectSameAsGeneral(
        Envelope("matrix", Cat(R"({"metric":{"b":"0"},"values":[[1,"1"]]},)", R"({"metric":{)",
                               metric, R"(},"values":[[1,"1"]]})")));
  }
}

// Long strings are scanned 8 bytes at a time: every byte that ends or interrupts a plain
// string, at every position of a long label name and value.
TEST(PromJsonFastPathTest, SpecialBytesAtEveryPositionOfLongStrings) {
  for (const std::string& special : std::vector<std::string>{
           "\"", "\\", "\\u0041", "\x01", "\x1f", "\x7f", " ", "\xc3\xa9", "\xe6\x97\xa5",
           "\xf0\x9f\x98\x80", "\xc3", "\xff", "\x80", "\xed\xa0\x80", std::string(1, '\0')}) {
    for (size_t pos = 0; pos <= 24; ++pos) {
      std::string text(24, 'x');
      text.insert(pos, special);
      ExpectSameAsGeneral(VectorOf(R"([1,"1"])", Cat(R"("long_label_name":")", text, R"(")")));
      ExpectSameAsGeneral(VectorOf(R"([1,"1"])", Cat(R"(")", text, R"(":"v")")));
      ExpectSameAsGeneral(VectorOf(Cat(R"([1,")", text, R"("])")));
    }
  }
}

TEST(PromJsonFastPathTest, EveryEscape) {
  for (const char* escaped : {R"(\")",     R"(\\)",           R"(\/)",           R"(\b)",
                              R"(\f)",     R"(\n)",           R"(\r)",           R"(\t)",
                              R"(\u0000)", R"(\u001f)",       R"(\u0026)",       R"(\u003c\u003e)",
                              R"(\u00e9)", R"(\u00E9)",       R"(\u07ff)",       R"(\u0800)",
                              R"(\u20ac)", R"(\uffff)",       R"(\ud83d\ude00)", R"(\ud83d)",
                              R"(\ude00)", R"(\ud83dx)",      R"(\ud83d\u0041)", R"(\u12)",
                              R"(\u12g4)", R"(\x41)",         R"(\a)",           R"(\)",
                              R"(\U0041)", "\\u00e9\xc3\xa9", "\xc3\\u00a9",     "\\u00e9\xa9"}) {
    ExpectSameAsGeneral(VectorOf(R"([1,"1"])", Cat(R"("a":"x)", escaped, R"(y")")));
    ExpectSameAsGeneral(VectorOf(R"([1,"1"])", Cat(R"("x)", escaped, R"(":"v")")));
    ExpectSameAsGeneral(VectorOf(R"([1,"1"])", Cat(R"("a":")", escaped, R"(")")));
    ExpectSameAsGeneral(Envelope(
        "matrix", Cat(R"({"metric":{"b":"0"},"values":[[1,"1"]]},)", R"({"metric":{"a":"x)",
                      escaped, R"(y","b":"1"},"values":[[1,"1"]]})")));
    ExpectSameAsGeneral(
        Cat(R"({"status":"success","data":{"resultType":"vector","result":[]},"warnings":[")",
            escaped, R"("]})"));
  }
  // Escapes in sample values, and many escaped strings in one series.
  ExpectSameAsGeneral(VectorOf(R"([1,"1\u002e5"])"));
  ExpectSameAsGeneral(VectorOf(R"([1,"\u004eaN"])"));
  ExpectSameAsGeneral(VectorOf(
      R"([1,"1"])", R"("a":"\u0026","b":"\u003c","c":"\"","d":"\\","e\u0065":"\u00e9\u20ac")"));
}

TEST(PromJsonFastPathTest, WhitespaceAndKeyOrder) {
  for (
      const char* body : {
          R"( {"status":"success","data":{"resultType":"vector","result":[]}})",
          R"({"status":"success","data":{"resultType":"vector","result":[]}} )",
          "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}\r\n\t",
          R"({ "status": "success", "data": { "resultType": "matrix", "result": [
                { "metric": { "a": "1" }, "values": [ [ 1, "1" ], [ 2, "2" ] ] } ] } })",
          R"({"data":{"resultType":"vector","result":[]},"status":"success"})",
          R"({"status":"success","data":{"result":[],"resultType":"vector"}})",
          R"({"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,"1"]],"metric":{"a":"1"}}]}})",
          R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"1"},"values":[[1,"1"]],"x":1}]}})",
          R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"1"},"values":[[1,"1"]]}],"stats":{}}})",
          R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"1"},"histograms":[[1,{}]]}]}})",
          R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"1"},"values":[[1,"1"]],"histograms":[[2,{}]]}]}})",
          R"({"status":"success","data":{"resultType":"vector","result":[]},"extra":1})",
          R"({"status":"success","data":{"resultType":"vector","result":[]},"warnings":["w"],"x":1})",
      }) {
    ExpectSameAsGeneral(body);
  }
}

TEST(PromJsonFastPathTest, EveryErrorGivesTheSameStatus) {
  for (
      const char* body : {
          "",
          "{",
          "}",
          "[]",
          "null",
          R"({"status":"success"})",
          R"({"status":"error","errorType":"bad_data","error":"x"})",
          R"({"status":"success","data":{"resultType":"vector","result":[]}}})",
          R"({"status":"success","data":{"resultType":"vector","result":[]}} {"x":1})",
          R"({"status":"success","data":{"resultType":"vector","result":[]}}x)",
          R"({"status":"success","data":{"resultType":"vector","result":[],}})",
          R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"value":[1,"1"]}]}})",
          R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"values":[[1,"1"]]}]}})",
          R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}})",
          R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,"1"]}]}})",
          R"({"status":"success","data":{"resultType":"vector","result":[[1,"1"]]}})",
          R"({"status":"success","data":{"resultType":"tensor","result":[]}})",
          R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],]}]}})",
          R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"]],}]}})",
          R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"1",},"values":[]}]}})",
      }) {
    ExpectSameAsGeneral(body);
  }
  // Out of order and duplicate timestamps, in the first series and after one.
  for (const char* pairs : {R"([2,"1"],[1,"1"])", R"([1,"1"],[1,"1"])", R"([1.5,"1"],[1.5,"2"])"}) {
    ExpectSameAsGeneral(MatrixOf(pairs));
    ExpectSameAsGeneral(Envelope("matrix", Cat(R"({"metric":{"b":"0"},"values":[[1,"1"]]},)",
                                               R"({"metric":{"a":"1"},"values":[)", pairs, "]}")));
  }
  // The sample limit at every count, and a body cut at every byte.
  const std::string body = Envelope(
      "matrix",
      R"({"metric":{"a":"1"},"values":[[1,"1"],[2,"2"]]},{"metric":{"a":"2"},"values":[]},)"
      R"({"metric":{"a":"3"},"values":[[1,"1"],[2,"2"],[3,"3"]]})");
  for (size_t max = 0; max <= 6; ++max)
    ExpectSameAsGeneral(body, DecodeOptions{.max_samples = max});
  for (size_t cut = 0; cut < body.size(); ++cut) ExpectSameAsGeneral(body.substr(0, cut));
  const std::string vector = Envelope(
      "vector", R"({"metric":{"a":"1"},"value":[1,"1"]},{"metric":{"a":"2"},"value":[1,"2"]})");
  for (size_t max = 0; max <= 2; ++max)
    ExpectSameAsGeneral(vector, DecodeOptions{.max_samples = max});
  for (size_t cut = 0; cut < vector.size(); ++cut) ExpectSameAsGeneral(vector.substr(0, cut));
}

TEST(PromJsonFastPathTest, VisitorAfterTheFastPathGivesUpSeesEachSeriesOnce) {
  // Two series the fast path visits, then one it leaves to the general path (an escape).
  const std::string body = Envelope("matrix", R"({"metric":{"a":"1"},"values":[[1,"1"]]},)"
                                              R"({"metric":{"a":"2"},"values":[[1,"2"]]},)"
                                              R"({"metric":{"a":"\u0033"},"values":[[1,"3"]]})");
  PromJsonDecoder decoder;
  std::vector<Labels> seen;
  absl::StatusOr<QueryResult> r =
      decoder.DecodeQuery(body, [&](std::string_view labels, std::span<const Sample>) {
        seen.push_back(Labels::FromEncoded(labels));
      });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(seen, ElementsAre(L({{"a", "1"}}), L({{"a", "2"}}), L({{"a", "3"}})));
  ExpectSameAsGeneral(body);
}

// A response of many series in the fast path's shape.
std::string ManySeries(int series, std::string_view type = "matrix") {
  std::string result;
  for (int i = 0; i < series; ++i) {
    if (i > 0) result += ',';
    if (type == "matrix") {
      Append(&result, R"({"metric":{"__name__":"node_cpu_seconds_total","instance":"10.0.)",
             i / 250, ".", i % 250, R"(:9100","job":"node"},"values":[[1700000000.)", i % 1000,
             R"(,")", i, R"(.5"],[1700000001,"1e3"]]})");
    } else {
      Append(&result, R"({"metric":{"i":")", i, R"("},"value":[1700000000,")", i, R"("]})");
    }
  }
  return Envelope(type, result);
}

TEST(QueryStreamDecoderTest, HoldsOnlyThePieceAndOneSeries) {
  const std::string body = ManySeries(20'000);
  PromJsonDecoder decoder;
  const Decoded whole = DecodeBoth(body, {});
  ASSERT_TRUE(whole.visit_status.ok());
  for (size_t piece : {size_t{1000}, size_t{4096}, size_t{65536}}) {
    std::vector<size_t> cuts;
    for (size_t at = piece; at < body.size(); at += piece) cuts.push_back(at);
    const Streamed streamed = DecodeStreamed(decoder, body, cuts);
    ExpectStreamedAsWhole(whole, streamed, Cat("pieces of ", piece));
    EXPECT_FALSE(streamed.refetched_after.has_value());
    // A piece plus the rest of a series (about 150 bytes here).
    EXPECT_LE(streamed.max_buffered, piece + 200) << piece;
  }
  ExpectStreamedAsWhole(ManySeries(20), {});
  ExpectStreamedAsWhole(ManySeries(20, "vector"), {});
}

TEST(QueryStreamDecoderTest, AnotherShapeIsDecodedWholeWithoutARefetch) {
  // The fast path gives up before visiting anything: the stream holds the whole body.
  const std::string pretty = R"({"status":"success","data":{"resultType":"matrix","result":[
    {"metric":{"a":"1"},"values":[[1,"1"]]}]}})";
  PromJsonDecoder decoder;
  const Streamed streamed = DecodeStreamed(decoder, pretty, {10, 70});
  ASSERT_TRUE(streamed.status.ok()) << streamed.status;
  EXPECT_FALSE(streamed.refetched_after.has_value());
  EXPECT_EQ(streamed.visits.size(), 1u);
  EXPECT_EQ(streamed.max_buffered, pretty.size());
}

TEST(QueryStreamDecoderTest, GivingUpAfterVisitsAsksForTheBodyAgain) {
  // Two series the fast path visits, then a surrogate pair it leaves to the general path.
  const std::string body =
      Envelope("matrix", R"({"metric":{"a":"1"},"values":[[1,"1"]]},)"
                         R"({"metric":{"a":"2"},"values":[[1,"2"]]},)"
                         R"({"metric":{"a":"\ud83d\ude00"},"values":[[1,"3"]]})");
  PromJsonDecoder decoder;
  const Streamed streamed = DecodeStreamed(decoder, body, {});
  ASSERT_TRUE(streamed.status.ok()) << streamed.status;
  EXPECT_EQ(streamed.refetched_after, 2u);
  EXPECT_EQ(streamed.visits.size(), 2u + 3u);
  EXPECT_EQ(Labels::FromEncoded(streamed.visits.back().first), L({{"a", "\xf0\x9f\x98\x80"}}));
  ExpectSameAsGeneral(body);
  // The same for bad JSON after a visited series: the error comes from the whole body.
  ExpectSameAsGeneral(Envelope("vector", R"({"metric":{"a":"1"},"value":[1,"1"]},{"metric":1})"));
  ExpectSameAsGeneral(Envelope("vector", R"({"metric":{"a":"1"},"value":[1,"1"]}] })"));
  ExpectSameAsGeneral(ManySeries(3) + "x");
}

TEST(QueryStreamDecoderTest, SampleLimitAfterVisitsFailsWithoutARefetch) {
  const std::string body = ManySeries(100);  // Two samples per series.
  PromJsonDecoder decoder(DecodeOptions{.max_samples = 101});
  const Streamed streamed = DecodeStreamed(decoder, body, {1000, 2000});
  EXPECT_EQ(streamed.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ReasonOf(streamed.status), FailureReason::kLimit);
  EXPECT_FALSE(streamed.refetched_after.has_value());
  EXPECT_EQ(streamed.visits.size(), 50u);
  EXPECT_EQ(streamed.status, decoder.DecodeQuery(body).status());
}

}  // namespace
}  // namespace promfeed::upstream
