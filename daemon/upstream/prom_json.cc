#include "daemon/upstream/prom_json.h"

#include <simdjson.h>
#include <yaml-cpp/yaml.h>

#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <optional>

#include "absl/status/status.h"
#include "daemon/model/duration.h"
#include "daemon/model/str_cat.h"
#include "daemon/upstream/errors.h"

namespace promfeed::upstream {
namespace {

namespace od = simdjson::ondemand;

constexpr int64_t kDefaultScrapeIntervalMs = 60'000;  // Prometheus's global default.

std::string_view Sv(absl::string_view s) { return std::string_view(s.data(), s.size()); }

std::string_view TrimJsonSpace(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string_view JsonTypeName(od::json_type t) {
  switch (t) {
    case od::json_type::array:
      return "an array";
    case od::json_type::object:
      return "an object";
    case od::json_type::number:
      return "a number";
    case od::json_type::string:
      return "a string";
    case od::json_type::boolean:
      return "a boolean";
    case od::json_type::null:
      return "null";
  }
  return "an unknown value";
}

// The text of a JSON string without escapes (Prometheus's label names, label values and sample
// values have none, in practice), read where it is in the body instead of from simdjson's
// unescaped copy; false when it has escapes. `p` points just past the opening quote; stage 1
// has checked that every string is closed.
bool RawString(const char* p, std::string_view& out) {
  const char* q = p;
  while (*q != '"' && *q != '\\') ++q;
  if (*q == '\\') return false;
  out = std::string_view(p, static_cast<size_t>(q - p));
  return true;
}

// The same for a string value given by its raw token (quotes and trailing space included).
bool RawString(std::string_view token, std::string_view& out) {
  if (token.size() < 2 || token.front() != '"') return false;
  return RawString(token.data() + 1, out);
}

bool IsShapeError(simdjson::error_code e) {
  return e == simdjson::INCORRECT_TYPE || e == simdjson::NUMBER_ERROR ||
         e == simdjson::NO_SUCH_FIELD || e == simdjson::NUMBER_OUT_OF_RANGE;
}

// Decoding state shared by the helpers: where the buffer starts (for byte offsets) and the
// sample budget.
struct Ctx {
  const char* base = nullptr;
  od::document* doc = nullptr;
  size_t samples = 0;
  size_t max_samples = 0;
  LabelsBuilder labels;  // Reused for every series.
  // When set, series go here instead of into QueryResult::series.
  const SeriesVisitor* visit = nullptr;
  std::vector<Sample> visit_samples;  // Reused for every visited series.

  std::string At() const {
    const char* p = nullptr;
    if (doc != nullptr && doc->current_location().get(p) == simdjson::SUCCESS && p >= base) {
      return Cat(" at byte ", p - base);
    }
    return "";
  }

  // A simdjson error while reading `path`.
  absl::Status Json(simdjson::error_code e, std::string_view path) const {
    if (IsShapeError(e)) {
      return WithReason(absl::InvalidArgumentError(Cat(path, ": wrong type or value (",
                                                       simdjson::error_message(e), ")", At())),
                        FailureReason::kDecode);
    }
    return WithReason(absl::DataLossError(
                          Cat("malformed JSON in ", path, At(), ": ", simdjson::error_message(e))),
                      FailureReason::kDecode);
  }

  absl::Status Shape(std::string_view path, std::string_view what) const {
    return WithReason(absl::InvalidArgumentError(Cat(path, ": ", what, At())),
                      FailureReason::kDecode);
  }

  absl::Status Expected(std::string_view path, std::string_view expected, od::json_type got) const {
    return Shape(path, Cat("expected ", expected, ", got ", JsonTypeName(got)));
  }
};

// Evaluates `expr` (a simdjson error_code); on error returns ctx.Json(error, path). `path` is
// evaluated only on error.
#define PF_JSON(expr, path)                                                  \
  do {                                                                       \
    if (simdjson::error_code pf_err_ = (expr); pf_err_ != simdjson::SUCCESS) \
      return ctx.Json(pf_err_, path);                                        \
  } while (0)

#define PF_RETURN_IF_ERROR(expr)                                   \
  do {                                                             \
    if (absl::Status pf_st_ = (expr); !pf_st_.ok()) return pf_st_; \
  } while (0)

absl::Status ExpectType(Ctx& ctx, od::value& v, od::json_type want, std::string_view want_name,
                        const std::string& path) {
  od::json_type t;
  PF_JSON(v.type().get(t), path);
  if (t != want) return ctx.Expected(path, want_name, t);
  return absl::OkStatus();
}

absl::Status ReadString(Ctx& ctx, od::value v, std::string_view path, std::string& out) {
  od::json_type t;
  PF_JSON(v.type().get(t), path);
  if (t != od::json_type::string) return ctx.Expected(path, "a string", t);
  std::string_view s;
  PF_JSON(v.get_string().get(s), path);
  out.assign(s);
  return absl::OkStatus();
}

absl::Status ReadStringArray(Ctx& ctx, od::value v, std::string_view path,
                             std::vector<std::string>& out) {
  od::json_type t;
  PF_JSON(v.type().get(t), path);
  if (t == od::json_type::null) return absl::OkStatus();
  if (t != od::json_type::array) return ctx.Expected(path, "an array of strings", t);
  od::array a;
  PF_JSON(v.get_array().get(a), path);
  size_t i = 0;
  for (auto er : a) {
    od::value e;
    PF_JSON(er.get(e), Cat(path, "[", i, "]"));
    std::string s;
    PF_RETURN_IF_ERROR(ReadString(ctx, e, Cat(path, "[", i, "]"), s));
    out.push_back(std::move(s));
    ++i;
  }
  return absl::OkStatus();
}

// Reads `[<time>, "<value>"]`. `path` yields the path for messages (called only on error).
// With `text` non-null the value is kept as text (string results) and the sample value is NaN.
template <typename PathFn>
absl::Status ReadPair(Ctx& ctx, od::value v, PathFn path, Sample& sample, std::string* text) {
  od::json_type t;
  PF_JSON(v.type().get(t), path());
  if (t != od::json_type::array) return ctx.Expected(path(), "[time, \"value\"]", t);
  od::array a;
  PF_JSON(v.get_array().get(a), path());
  size_t i = 0;
  for (auto er : a) {
    od::value e;
    PF_JSON(er.get(e), path());
    PF_JSON(e.type().get(t), Cat(path(), "[", i, "]"));
    if (i == 0) {
      if (t != od::json_type::number) {
        return ctx.Expected(Cat(path(), "[0]"), "a number (time in seconds)", t);
      }
      absl::StatusOr<int64_t> ms = ParseTimestampMs(TrimJsonSpace(e.raw_json_token()));
      if (!ms.ok()) return ctx.Shape(Cat(path(), "[0]"), Sv(ms.status().message()));
      sample.time_ms = *ms;
    } else if (i == 1) {
      if (t != od::json_type::string) {
        return ctx.Expected(Cat(path(), "[1]"), "a string (sample value)", t);
      }
      std::string_view s;
      if (text != nullptr || !RawString(e.raw_json_token(), s)) {
        PF_JSON(e.get_string().get(s), Cat(path(), "[1]"));
      }
      if (text != nullptr) {
        text->assign(s);
        sample.value = std::numeric_limits<double>::quiet_NaN();
      } else {
        absl::StatusOr<double> value = ParseSampleValue(s);
        if (!value.ok()) return ctx.Shape(Cat(path(), "[1]"), Sv(value.status().message()));
        sample.value = *value;
      }
    } else {
      return ctx.Shape(path(), "expected [time, \"value\"], got more than 2 elements");
    }
    ++i;
  }
  if (i != 2) return ctx.Shape(path(), "expected [time, \"value\"], got fewer than 2 elements");
  return absl::OkStatus();
}

absl::Status TooManySamples(size_t max_samples) {
  return WithReason(absl::ResourceExhaustedError(
                        Cat("response holds more than ", max_samples,
                            " samples (max samples per response); query a shorter range")),
                    FailureReason::kLimit);
}

absl::Status CountSample(Ctx& ctx) {
  if (++ctx.samples > ctx.max_samples) return TooManySamples(ctx.max_samples);
  return absl::OkStatus();
}

// `path` yields the path for messages; called only on error (this runs once per series).
// Leaves the labels in ctx.labels.
template <typename PathFn>
absl::Status ReadLabels(Ctx& ctx, od::value v, PathFn path) {
  od::json_type t;
  PF_JSON(v.type().get(t), path());
  if (t != od::json_type::object) return ctx.Expected(path(), "an object of labels", t);
  od::object o;
  PF_JSON(v.get_object().get(o), path());
  LabelsBuilder& labels = ctx.labels;
  labels.Clear();
  for (auto fr : o) {
    od::field f;
    PF_JSON(std::move(fr).get(f), path());
    std::string_view key;
    if (!RawString(f.key().raw(), key)) PF_JSON(f.unescaped_key().get(key), path());
    od::value fv = f.value();
    PF_JSON(fv.type().get(t), Cat(path(), ".", key));
    if (t != od::json_type::string) return ctx.Expected(Cat(path(), ".", key), "a string", t);
    std::string_view value;
    if (!RawString(fv.raw_json_token(), value)) {
      PF_JSON(fv.get_string().get(value), Cat(path(), ".", key));
    }
    labels.Add(key, value);
  }
  return absl::OkStatus();
}

struct ShapeSeen {
  bool value = false;   // A series with "value" (vector).
  bool values = false;  // A series with "values" (matrix).
  bool pair = false;    // The result itself is [time, value] (scalar, string).
  size_t histograms = 0;
};

absl::Status ReadSeries(Ctx& ctx, od::value v, size_t index, QueryResult& out, ShapeSeen& seen) {
  // Paths are built only for error messages: this runs once per series.
  auto path = [index] { return Cat("data.result[", index, "]"); };
  {
    od::json_type t;
    PF_JSON(v.type().get(t), path());
    if (t != od::json_type::object) return ctx.Expected(path(), "a series object", t);
  }
  od::object o;
  PF_JSON(v.get_object().get(o), path());
  SeriesData series;
  // Visited series collect their samples in the reused ctx.samples.
  std::vector<Sample>& samples = ctx.visit != nullptr ? ctx.visit_samples : series.samples;
  samples.clear();
  bool has_metric = false, has_samples = false;
  for (auto fr : o) {
    od::field f;
    PF_JSON(std::move(fr).get(f), path());
    std::string_view key;
    PF_JSON(f.unescaped_key().get(key), path());
    if (key == "metric") {
      has_metric = true;
      PF_RETURN_IF_ERROR(ReadLabels(ctx, f.value(), [&] { return path() + ".metric"; }));
    } else if (key == "value") {
      has_samples = seen.value = true;
      Sample s;
      PF_RETURN_IF_ERROR(ReadPair(
          ctx, f.value(), [&] { return path() + ".value"; }, s, nullptr));
      PF_RETURN_IF_ERROR(CountSample(ctx));
      samples.push_back(s);
    } else if (key == "values") {
      has_samples = seen.values = true;
      od::value vals = f.value();
      od::json_type t;
      PF_JSON(vals.type().get(t), path() + ".values");
      if (t != od::json_type::array) {
        return ctx.Expected(path() + ".values", "an array of samples", t);
      }
      od::array a;
      PF_JSON(vals.get_array().get(a), path() + ".values");
      size_t i = 0;
      for (auto er : a) {
        auto sample_path = [&] { return Cat(path(), ".values[", i, "]"); };
        od::value e;
        PF_JSON(er.get(e), sample_path());
        Sample s;
        PF_RETURN_IF_ERROR(ReadPair(ctx, e, sample_path, s, nullptr));
        PF_RETURN_IF_ERROR(CountSample(ctx));
        if (!samples.empty() && s.time_ms <= samples.back().time_ms) {
          return ctx.Shape(sample_path(), "samples are not in ascending time order");
        }
        samples.push_back(s);
        ++i;
      }
    } else if (key == "histogram" || key == "histograms") {
      // Native histograms: the store holds floats only. Counted and reported as a warning.
      has_samples = true;
      od::value h = f.value();
      if (key == "histograms") {
        // An error leaves the parser unusable: stop here rather than read on (found by
        // fuzz/prom_json_fuzzer, regression input in fuzz/regressions/prom_json).
        size_t n = 0;
        PF_JSON(h.count_elements().get(n), path() + ".histograms");
        seen.histograms += n;
      } else {
        ++seen.histograms;
      }
    }
    // Unknown keys are skipped: newer Prometheus versions may add fields.
  }
  if (!has_metric) return ctx.Shape(path(), "missing field \"metric\"");
  if (!has_samples) return ctx.Shape(path(), "missing field \"value\" or \"values\"");
  if (samples.empty()) return absl::OkStatus();
  if (ctx.visit != nullptr) {
    (*ctx.visit)(ctx.labels.Encode(), samples);
  } else {
    series.labels = ctx.labels.Build();
    out.series.push_back(std::move(series));
  }
  return absl::OkStatus();
}

absl::Status ReadResult(Ctx& ctx, od::value v, QueryResult& out, ShapeSeen& seen) {
  PF_RETURN_IF_ERROR(ExpectType(ctx, v, od::json_type::array, "an array", "data.result"));
  od::array a;
  PF_JSON(v.get_array().get(a), "data.result");
  size_t i = 0;
  Sample pair;
  for (auto er : a) {
    od::value e;
    PF_JSON(er.get(e), Cat("data.result[", i, "]"));
    if (i == 0) {
      od::json_type t;
      PF_JSON(e.type().get(t), "data.result[0]");
      seen.pair = t != od::json_type::object;
    }
    if (!seen.pair) {
      PF_RETURN_IF_ERROR(ReadSeries(ctx, e, i, out, seen));
    } else if (i == 0) {
      // The result is itself [time, value]: a scalar or a string. Decode it as a pair later,
      // once; here only its first element arrives.
      od::json_type t;
      PF_JSON(e.type().get(t), "data.result[0]");
      if (t != od::json_type::number) {
        return ctx.Expected("data.result[0]", "a series object or a number (time)", t);
      }
      absl::StatusOr<int64_t> ms = ParseTimestampMs(TrimJsonSpace(e.raw_json_token()));
      if (!ms.ok()) return ctx.Shape("data.result[0]", Sv(ms.status().message()));
      pair.time_ms = *ms;
    } else if (i == 1) {
      PF_RETURN_IF_ERROR(ReadString(ctx, e, "data.result[1]", out.string_value));
    } else {
      return ctx.Shape("data.result", "expected [time, \"value\"], got more than 2 elements");
    }
    ++i;
  }
  if (seen.pair) {
    if (i != 2) return ctx.Shape("data.result", "expected [time, \"value\"]");
    PF_RETURN_IF_ERROR(CountSample(ctx));
    out.series.push_back(SeriesData{Labels(), {pair}});
  }
  return absl::OkStatus();
}

absl::Status ReadQueryData(Ctx& ctx, od::value v, QueryResult& out) {
  PF_RETURN_IF_ERROR(ExpectType(ctx, v, od::json_type::object, "an object", "data"));
  od::object o;
  PF_JSON(v.get_object().get(o), "data");
  std::optional<ResultType> type;
  bool has_result = false;
  ShapeSeen seen;
  for (auto fr : o) {
    od::field f;
    PF_JSON(std::move(fr).get(f), "data");
    std::string_view key;
    PF_JSON(f.unescaped_key().get(key), "data");
    if (key == "resultType") {
      std::string name;
      PF_RETURN_IF_ERROR(ReadString(ctx, f.value(), "data.resultType", name));
      for (ResultType t :
           {ResultType::kMatrix, ResultType::kVector, ResultType::kScalar, ResultType::kString}) {
        if (name == ResultTypeName(t)) type = t;
      }
      if (!type) {
        return ctx.Shape("data.resultType", Cat("unknown result type \"", name,
                                                "\" (want matrix, vector, scalar or string)"));
      }
    } else if (key == "result") {
      has_result = true;
      PF_RETURN_IF_ERROR(ReadResult(ctx, f.value(), out, seen));
    }
  }
  if (!type) return ctx.Shape("data", "missing field \"resultType\"");
  if (!has_result) return ctx.Shape("data", "missing field \"result\"");
  out.type = *type;
  const bool scalar_like = *type == ResultType::kScalar || *type == ResultType::kString;
  if (scalar_like != seen.pair || (*type == ResultType::kMatrix && seen.value) ||
      (*type == ResultType::kVector && seen.values) || (scalar_like && out.series.empty())) {
    return ctx.Shape("data.result", Cat("does not have the shape of a ", ResultTypeName(*type)));
  }
  if (*type == ResultType::kScalar) {
    absl::StatusOr<double> value = ParseSampleValue(out.string_value);
    if (!value.ok()) return ctx.Shape("data.result[1]", Sv(value.status().message()));
    out.series[0].samples[0].value = *value;
    out.string_value.clear();
  }
  if (seen.histograms > 0) {
    out.warnings.push_back(Cat("promfeed: skipped ", seen.histograms,
                               " native histogram samples (only floats are stored)"));
  }
  return absl::OkStatus();
}

absl::StatusCode CodeForErrorType(std::string_view error_type) {
  if (error_type == "bad_data") return absl::StatusCode::kInvalidArgument;
  if (error_type == "timeout" || error_type == "canceled") {
    return absl::StatusCode::kDeadlineExceeded;
  }
  if (error_type == "execution" || error_type == "internal") return absl::StatusCode::kInternal;
  if (error_type == "unavailable") return absl::StatusCode::kUnavailable;
  if (error_type == "not_found") return absl::StatusCode::kNotFound;
  return absl::StatusCode::kUnknown;
}

// Decodes the envelope; `read_data` decodes "data" when the status is "success".
template <typename ReadData>
absl::Status DecodeEnvelope(simdjson::ondemand::parser& parser, const std::string& body,
                            size_t max_samples, std::vector<std::string>& warnings,
                            ReadData read_data, const SeriesVisitor* visit = nullptr) {
  simdjson::padded_string copy;
  simdjson::padded_string_view view;
  if (body.capacity() - body.size() >= simdjson::SIMDJSON_PADDING) {
    view = simdjson::padded_string_view(body.data(), body.size(), body.capacity());
  } else {
    copy = simdjson::padded_string(body);
    view = copy;
  }
  od::document doc;
  Ctx ctx;
  ctx.base = view.data();
  ctx.max_samples = max_samples;
  ctx.visit = visit;
  if (simdjson::error_code e = parser.iterate(view).get(doc); e != simdjson::SUCCESS) {
    return ctx.Json(e, "response");
  }
  ctx.doc = &doc;
  od::object root;
  {
    od::json_type t;
    PF_JSON(doc.type().get(t), "response");
    if (t != od::json_type::object) return ctx.Expected("response", "a JSON object", t);
  }
  PF_JSON(doc.get_object().get(root), "response");
  std::optional<std::string> status;
  std::string error_type, error;
  bool has_data = false;
  for (auto fr : root) {
    od::field f;
    PF_JSON(std::move(fr).get(f), "response");
    std::string_view key;
    PF_JSON(f.unescaped_key().get(key), "response");
    if (key == "status") {
      status.emplace();
      PF_RETURN_IF_ERROR(ReadString(ctx, f.value(), "status", *status));
      if (*status != "success" && *status != "error") {
        return ctx.Shape("status", Cat("expected \"success\" or \"error\", got \"", *status, "\""));
      }
    } else if (key == "data") {
      od::value data = f.value();
      od::json_type t;
      PF_JSON(data.type().get(t), "data");
      // An error envelope may carry "data": null (or nothing); skip it there.
      if (status && *status == "error") continue;
      if (t == od::json_type::null) continue;
      has_data = true;
      PF_RETURN_IF_ERROR(read_data(ctx, data));
    } else if (key == "errorType") {
      PF_RETURN_IF_ERROR(ReadString(ctx, f.value(), "errorType", error_type));
    } else if (key == "error") {
      PF_RETURN_IF_ERROR(ReadString(ctx, f.value(), "error", error));
    } else if (key == "warnings" || key == "infos") {
      PF_RETURN_IF_ERROR(ReadStringArray(ctx, f.value(), key, warnings));
    }
  }
  if (const char* rest = nullptr; doc.current_location().get(rest) == simdjson::SUCCESS) {
    return WithReason(absl::DataLossError(Cat("malformed JSON: trailing content after "
                                              "the response object",
                                              ctx.At())),
                      FailureReason::kDecode);
  }
  if (!status) return ctx.Shape("response", "missing field \"status\"");
  if (*status == "error") {
    std::string msg = Cat("prometheus ", error_type.empty() ? "error" : error_type, ": ",
                          error.empty() ? "(no message)" : error);
    if (!warnings.empty()) Append(&msg, " (warnings: ", Join(warnings, "; "), ")");
    return WithReason(absl::Status(CodeForErrorType(error_type), msg), FailureReason::kApiError);
  }
  if (!has_data) return ctx.Shape("response", "missing field \"data\"");
  return absl::OkStatus();
}

absl::Status ToStatus(const std::exception& e, std::string_view what) {
  return WithReason(absl::DataLossError(Cat("decoding ", what, ": ", e.what())),
                    FailureReason::kDecode);
}

// The shape Prometheus writes timestamps in: [-]digits[.d{1,3}], at most 15 integer digits.
// Exact in integer arithmetic without the general path's digit string. Reads the longest
// such prefix of [p, end) into `ms` and returns where it stopped, or nullptr when [p, end) does
// not start with one. A number that goes on past the returned pointer (sub-millisecond
// digits, an exponent) is not of this shape: callers check what follows.
const char* ScanTimestampMs(const char* p, const char* const end, int64_t& ms) {
  const bool negative = p < end && *p == '-';
  if (negative) ++p;
  const char* const int_begin = p;
  uint64_t v = 0;
  while (p < end && static_cast<unsigned>(*p - '0') < 10) v = v * 10 + (*p++ - '0');
  const ptrdiff_t int_digits = p - int_begin;
  if (int_digits == 0 || int_digits > 15 || (int_digits > 1 && *int_begin == '0')) {
    return nullptr;
  }
  int frac_digits = 0;
  if (p < end && *p == '.') {
    ++p;
    while (p < end && frac_digits < 3 && static_cast<unsigned>(*p - '0') < 10) {
      v = v * 10 + (*p++ - '0');
      ++frac_digits;
    }
    if (frac_digits == 0) return nullptr;
  }
  for (; frac_digits < 3; ++frac_digits) v *= 10;
  ms = negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
  return p;
}

// The shape Prometheus writes most sample values in: [-]digits[.digits], at most 19 digits
// whose integer m (the digits without the point) is at most 2^53. m and 10^k (k fraction
// digits, at most 22) are then exact doubles and their quotient is correctly rounded: the
// double std::from_chars gives (Clinger's fast path). Reads the longest such prefix of
// [p, end) into `out` and returns where it stopped, or nullptr when [p, end) does not start
// with one; callers check what follows.
const char* ScanDecimal(const char* p, const char* const end, double& out) {
  static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const bool negative = p < end && *p == '-';
  if (negative) ++p;
  uint64_t m = 0;
  int digits = 0, frac_digits = 0;
  const char* const int_begin = p;
  for (; p < end && static_cast<unsigned>(*p - '0') < 10; ++p, ++digits) m = m * 10 + (*p - '0');
  if (p == int_begin) return nullptr;
  if (p < end && *p == '.') {
    const char* const frac_begin = ++p;
    for (; p < end && static_cast<unsigned>(*p - '0') < 10; ++p, ++digits) {
      m = m * 10 + (*p - '0');
    }
    frac_digits = static_cast<int>(p - frac_begin);
    if (frac_digits == 0) return nullptr;
  }
  if (digits > 19 || m > (uint64_t{1} << 53) || frac_digits > 22) return nullptr;
  const double v = static_cast<double>(m) / kPow10[frac_digits];
  out = negative ? -v : v;
  return p;
}

// The bytes at `p` that end a plain string: '"', '\\', below 0x20 or above 0x7f. Returns
// how many of the 8 bytes at p come before the first such byte (8 if none). The bit tricks
// ("has a zero byte", "has a byte less than n") flag the lowest such byte exactly.
size_t PlainPrefix8(const char* p) {
  uint64_t x;
  std::memcpy(&x, p, 8);
  if constexpr (std::endian::native == std::endian::big) x = __builtin_bswap64(x);
  constexpr uint64_t kOnes = 0x0101010101010101, kHigh = 0x8080808080808080;
  auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v; };
  const uint64_t quote = has_zero(x ^ (kOnes * '"'));
  const uint64_t backslash = has_zero(x ^ (kOnes * '\\'));
  const uint64_t control = (x - kOnes * 0x20) & ~x;
  const uint64_t stop = (quote | backslash | control | x) & kHigh;
  return stop == 0 ? 8 : static_cast<size_t>(std::countr_zero(stop)) / 8;
}

// The bytes PlainPrefix8 looks for, as a table for the byte loop.
constexpr std::array<bool, 256> kStringStop = [] {
  std::array<bool, 256> stop{};
  for (int c = 0; c < 256; ++c) stop[c] = c == '"' || c == '\\' || c < 0x20 || c >= 0x80;
  return stop;
}();

// Buffers of the fast path, reused across series and documents.
struct FastScratch {
  LabelsBuilder labels;
  std::vector<Sample> samples;
  // Strings with escapes, decoded; a deque so that a string_view into one stays valid while
  // more are added.
  std::deque<std::string> unescaped;
};

// The start of a body in the fast path's shape, up to the '[' that opens data.result.
constexpr char kFastHead[] = R"({"status":"success","data":{"resultType":")";
constexpr char kFastMatrix[] = R"(matrix","result":[)";
constexpr char kFastVector[] = R"(vector","result":[)";
static_assert(sizeof(kFastMatrix) == sizeof(kFastVector));
constexpr size_t kFastHeadSize = sizeof(kFastHead) - 1 + sizeof(kFastMatrix) - 1;

// The fast path: a scanner for the one shape Prometheus writes query results in,
//   {"status":"success","data":{"resultType":"matrix","result":[
//     {"metric":{"name":"value",...},"values":[[<time>,"<value>"],...]},...]}}
// (vector: "value":[<time>,"<value>"]), optionally followed by "warnings" and "infos" arrays,
// with no whitespace and timestamps of ScanTimestampMs's shape. It reads labels and values
// where they are in the body (decoding only strings with escapes, such as the \u003c, \u003e
// and \u0026 Prometheus writes for <, > and &) and needs no structural index. It accepts
// only valid JSON and decodes it exactly as the general path does; at the first byte it does
// not expect (any other shape, whitespace, surrogate escape, number format, and every error)
// it gives up, and the caller decodes the body with the general path, which yields the result
// or the error.
class FastQueryScanner {
 public:
  // REQUIRES: body.data()[body.size()] is readable (std::string's terminating NUL).
  FastQueryScanner(std::string_view body, size_t max_samples, const SeriesVisitor* visit,
                   FastScratch& scratch)
      : p_(body.data()),
        end_(body.data() + body.size()),
        max_samples_(max_samples),
        visit_(visit),
        labels_(scratch.labels),
        samples_(scratch.samples),
        unescaped_(scratch.unescaped) {}

  // True when the whole body was decoded into `out` (series go to the visitor if any). False
  // when the general path must decode it; the first visited() series have then been visited.
  bool Decode(QueryResult& out) {
    if (!Head(out)) return false;
    if (!Char(']')) {
      do {
        if (!Series(out)) return false;
      } while (Char(','));
      if (!Char(']')) return false;
    }
    return Tail(out);
  }

  // The parts of Decode, for QueryStreamDecoder, which feeds them one at a time.
  // The envelope up to and including the '[' that opens data.result.
  bool Head(QueryResult& out) {
    if (!Literal(kFastHead)) return false;
    if (Literal(kFastMatrix)) {
      matrix_ = true;
      out.type = ResultType::kMatrix;
    } else if (Literal(kFastVector)) {
      matrix_ = false;
      out.type = ResultType::kVector;
    } else {
      return false;
    }
    return true;
  }
  // The rest after the ']' that closes data.result: to the end of the body.
  bool Tail(QueryResult& out) {
    if (!Char('}')) return false;
    // What Prometheus adds after "data": then the warnings and infos, in document order, as
    // the general path collects them.
    if (Literal(R"(,"warnings":[)") && !StringArray(out.warnings)) return false;
    if (Literal(R"(,"infos":[)") && !StringArray(out.warnings)) return false;
    if (!Char('}')) return false;
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
    return p_ == end_;
  }
  // One series object (matrix or vector as Head found). False also when the sample limit is
  // exceeded (over_limit()).
  bool Series(QueryResult& out) { return Series(matrix_, out); }

  // Moves the scanner to [p, end), keeping its counts. REQUIRES: *end is readable.
  void Reset(const char* p, const char* end) {
    p_ = p;
    end_ = end;
  }
  const char* position() const { return p_; }
  // Consumes a ',' if one is next.
  bool Comma() { return Char(','); }
  bool over_limit() const { return sample_count_ > max_samples_; }
  size_t visited() const { return visited_; }

 private:
  bool Char(char c) {
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }

  // A template on the literal's size, so that the compiler inlines the comparison.
  template <size_t N>
  bool Literal(const char (&text)[N]) {
    constexpr size_t kSize = N - 1;  // Without the terminating NUL.
    if (static_cast<size_t>(end_ - p_) < kSize || std::memcmp(p_, text, kSize) != 0) return false;
    p_ += kSize;
    return true;
  }

  // A string (p_ just past its opening quote) without escapes or control characters, in
  // valid UTF-8 (what simdjson's stage 1 checks); consumes the closing quote.
  bool String(std::string_view& out) {
    const char* const begin = p_;
    // Plain ASCII: eight bytes at a time while eight are left, then byte by byte. The NUL
    // past end_ stops the byte loops like any control character.
    while (end_ - p_ >= 8) {
      const size_t plain = PlainPrefix8(p_);
      p_ += plain;
      if (plain < 8) break;
    }
    while (!kStringStop[static_cast<unsigned char>(*p_)]) ++p_;
    bool non_ascii = false;
    if (static_cast<unsigned char>(*p_) >= 0x80) {
      non_ascii = true;
      while (*p_ != '"' && *p_ != '\\' && static_cast<unsigned char>(*p_) >= 0x20) ++p_;
    }
    if (*p_ == '\\' && p_ != end_) return Unescape(begin, non_ascii, out);
    if (p_ == end_ || *p_ != '"') return false;
    out = std::string_view(begin, static_cast<size_t>(p_ - begin));
    ++p_;
    return !non_ascii || simdjson::validate_utf8(out.data(), out.size());
  }

  // The rest of a string from its first backslash (p_), decoded into a buffer that stays
  // valid until the next series; `begin` is where the string starts. Decodes what simdjson
  // decodes alike: \", \\, \/, \b, \f, \n, \r, \t and \uXXXX outside the surrogates (which, and
  // any other escape, are left to the general path).
  bool Unescape(const char* const begin, bool non_ascii, std::string_view& out) {
    if (unescaped_used_ == unescaped_.size()) unescaped_.emplace_back();
    std::string& buf = unescaped_[unescaped_used_++];
    buf.assign(begin, p_);
    for (;;) {
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') break;  // Not the NUL past end_: p_ < end_.
      if (c < 0x20) return false;
      if (c != '\\') {
        non_ascii |= c >= 0x80;
        buf.push_back(static_cast<char>(c));
        ++p_;
        continue;
      }
      if (end_ - p_ < 2) return false;
      const char e = p_[1];
      p_ += 2;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          buf.push_back(e);
          break;
        case 'b':
          buf.push_back('\b');
          break;
        case 'f':
          buf.push_back('\f');
          break;
        case 'n':
          buf.push_back('\n');
          break;
        case 'r':
          buf.push_back('\r');
          break;
        case 't':
          buf.push_back('\t');
          break;
        case 'u': {
          if (end_ - p_ < 4) return false;
          uint32_t cp = 0;
          for (int i = 0; i < 4; ++i, ++p_) {
            const char h = *p_;
            const int digit = h >= '0' && h <= '9'   ? h - '0'
                              : h >= 'a' && h <= 'f' ? h - 'a' + 10
                              : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                                     : -1;
            if (digit < 0) return false;
            cp = cp << 4 | static_cast<uint32_t>(digit);
          }
          if (cp >= 0xd800 && cp <= 0xdfff) return false;
          if (cp < 0x80) {
            buf.push_back(static_cast<char>(cp));
          } else if (cp < 0x800) {
            buf.push_back(static_cast<char>(0xc0 | cp >> 6));
            buf.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
          } else {
            buf.push_back(static_cast<char>(0xe0 | cp >> 12));
            buf.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3f)));
            buf.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
          }
          break;
        }
        default:
          return false;
      }
    }
    // simdjson's stage 1 checks the raw bytes.
    if (non_ascii && !simdjson::validate_utf8(begin, static_cast<size_t>(p_ - begin))) {
      return false;
    }
    ++p_;
    out = buf;
    return true;
  }

  // ["s1","s2",...] after the opening bracket, appended to `out`.
  bool StringArray(std::vector<std::string>& out) {
    if (Char(']')) return true;
    do {
      std::string_view s;
      if (!Char('"') || !String(s)) return false;
      out.emplace_back(s);
    } while (Char(','));
    return Char(']');
  }

  // [<time>,"<value>"]
  bool Pair(Sample& sample) {
    if (!Char('[')) return false;
    const char* const after = ScanTimestampMs(p_, end_, sample.time_ms);
    if (after == nullptr) return false;
    p_ = after;
    if (!Literal(",\"")) return false;
    // A plain decimal straight from the body (what ParseSampleValue does first); any other
    // value as a string through ParseSampleValue.
    if (const char* const end = ScanDecimal(p_, end_, sample.value);
        end != nullptr && *end == '"') {
      p_ = end + 1;
      return Char(']');
    }
    std::string_view text;
    if (!String(text)) return false;
    absl::StatusOr<double> value = ParseSampleValue(text);
    if (!value.ok()) return false;
    sample.value = *value;
    return Char(']');
  }

  bool Series(bool matrix, QueryResult& out) {
    if (!Literal(R"({"metric":{)")) return false;
    labels_.Clear();
    unescaped_used_ = 0;
    if (!Char('}')) {
      do {
        std::string_view name, value;
        if (!Char('"') || !String(name) || !Literal(":\"") || !String(value)) return false;
        labels_.Add(name, value);
      } while (Char(','));
      if (!Char('}')) return false;
    }
    samples_.clear();
    Sample sample;
    if (matrix) {
      if (!Literal(R"(,"values":[)")) return false;
      if (!Char(']')) {
        do {
          // Out of order: the general path reports it.
          if (!Pair(sample) || (!samples_.empty() && sample.time_ms <= samples_.back().time_ms)) {
            return false;
          }
          samples_.push_back(sample);
        } while (Char(','));
        if (!Char(']')) return false;
      }
    } else {
      if (!Literal(R"(,"value":)") || !Pair(sample)) return false;
      samples_.push_back(sample);
    }
    if (!Char('}')) return false;
    // Over the limit: the general path reports it, at the same sample.
    sample_count_ += samples_.size();
    if (sample_count_ > max_samples_) return false;
    if (samples_.empty()) return true;  // As the general path: a series without samples is dropped.
    if (visit_ != nullptr) {
      (*visit_)(labels_.Encode(), samples_);
      ++visited_;
    } else {
      out.series.push_back(
          SeriesData{labels_.Build(), std::vector<Sample>(samples_.begin(), samples_.end())});
    }
    return true;
  }

  const char* p_;
  const char* end_;
  const size_t max_samples_;
  const SeriesVisitor* const visit_;
  LabelsBuilder& labels_;         // Reused for every series.
  std::vector<Sample>& samples_;  // Reused for every series.
  std::deque<std::string>& unescaped_;
  size_t unescaped_used_ = 0;  // Buffers of unescaped_ in use for this series.
  size_t sample_count_ = 0;
  size_t visited_ = 0;
  bool matrix_ = false;  // Set by Head.
};

}  // namespace

std::string_view ResultTypeName(ResultType type) {
  switch (type) {
    case ResultType::kMatrix:
      return "matrix";
    case ResultType::kVector:
      return "vector";
    case ResultType::kScalar:
      return "scalar";
    case ResultType::kString:
      return "string";
  }
  return "unknown";
}

class PromJsonDecoder::Impl {
 public:
  explicit Impl(DecodeOptions options) : options(options) {}

  static constexpr size_t kKeepParserCapacity = 1 << 20;
  DecodeOptions options;
  od::parser parser;
  FastScratch fast;
};

PromJsonDecoder::PromJsonDecoder(DecodeOptions options) : impl_(std::make_unique<Impl>(options)) {}
PromJsonDecoder::~PromJsonDecoder() = default;

void PromJsonDecoder::ReleaseMemory() {
  if (impl_->parser.capacity() > Impl::kKeepParserCapacity) impl_->parser = od::parser();
  if (impl_->fast.samples.capacity() * sizeof(Sample) > Impl::kKeepParserCapacity) {
    impl_->fast = FastScratch();
  }
}

absl::StatusOr<QueryResult> PromJsonDecoder::DecodeQuery(const std::string& body) {
  return DecodeQueryImpl(body, nullptr);
}

absl::StatusOr<QueryResult> PromJsonDecoder::DecodeQuery(const std::string& body,
                                                         SeriesVisitor visit) {
  return DecodeQueryImpl(body, &visit);
}

absl::StatusOr<QueryResult> PromJsonDecoder::DecodeQueryImpl(const std::string& body,
                                                             const SeriesVisitor* visit) {
  if (!impl_->options.fast_path) return DecodeQueryGeneral(body, visit);
  QueryResult fast_result;
  FastQueryScanner fast(body, impl_->options.max_samples, visit, impl_->fast);
  try {
    if (fast.Decode(fast_result)) return fast_result;
  } catch (const std::exception& e) {  // std::bad_alloc, as on the general path.
    return ToStatus(e, "query response");
  }
  if (visit == nullptr || fast.visited() == 0) return DecodeQueryGeneral(body, visit);
  // The fast path gave up after visiting some series. The general path decodes those series
  // the same way: it skips their visits and goes on from there. (Should it fail before them,
  // on a byte simdjson checks up front such as invalid UTF-8 further on, the visits made
  // stand: they were well-formed series before the error.)
  size_t skip = fast.visited();
  auto visit_rest = [&](std::string_view labels, std::span<const Sample> samples) {
    if (skip > 0) {
      --skip;
    } else {
      (*visit)(labels, samples);
    }
  };
  const SeriesVisitor rest = visit_rest;
  return DecodeQueryGeneral(body, &rest);
}

absl::StatusOr<QueryResult> PromJsonDecoder::DecodeQueryGeneral(const std::string& body,
                                                                const SeriesVisitor* visit) {
  QueryResult result;
  try {
    std::vector<std::string> warnings;
    absl::Status st = DecodeEnvelope(
        impl_->parser, body, impl_->options.max_samples, warnings,
        [&](Ctx& ctx, od::value data) { return ReadQueryData(ctx, data, result); }, visit);
    if (!st.ok()) return st;
    warnings.insert(warnings.end(), std::make_move_iterator(result.warnings.begin()),
                    std::make_move_iterator(result.warnings.end()));
    result.warnings = std::move(warnings);
  } catch (const std::exception& e) {
    return ToStatus(e, "query response");
  }
  return result;
}

// The body is decoded in stages, in body order; pos_ is where the next stage starts.
//   1. buf_[0, pos_) is decoded; once a series has been visited it is dropped from buf_.
//   2. Before the first visit buf_ holds every byte fed, so that a body the fast path gives
//      up on can still be decoded whole (kWhole).
//   3. In kSeries, [pos_, pos_ + scanned_) has been scanned for the end of the series at pos_
//      (depth_, in_string_, escaped_ describe where that scan stopped); 0: not yet.
class QueryStreamDecoder::Impl {
 public:
  Impl(PromJsonDecoder& decoder, FastScratch& scratch, size_t max_samples, SeriesVisitor visit)
      : decoder_(decoder),
        max_samples_(max_samples),
        visit_(visit),
        scanner_({}, max_samples, &visit_, scratch) {}

  void Feed(std::string_view piece) {
    if (stage_ == Stage::kRefetch || stage_ == Stage::kFailed) return;
    buf_.append(piece);
    if (stage_ == Stage::kWhole) return;
    Advance(/*last=*/false);
    if (scanner_.visited() > 0 && pos_ > 0) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
  }

  size_t buffered_bytes() const { return buf_.size(); }

  std::optional<absl::StatusOr<QueryResult>> Finish() {
    if (stage_ != Stage::kWhole && stage_ != Stage::kRefetch && stage_ != Stage::kFailed) {
      Advance(/*last=*/true);
    }
    switch (stage_) {
      case Stage::kDone:
        return std::move(result_);
      case Stage::kFailed:
        return error_;
      case Stage::kRefetch:
        return std::nullopt;
      default:  // kWhole: Advance(true) ends in one of the three others or here.
        if (buf_.capacity() - buf_.size() < kJsonPadding) buf_.reserve(buf_.size() + kJsonPadding);
        return decoder_.DecodeQuery(buf_, visit_);
    }
  }

 private:
  enum class Stage {
    kHead,         // The envelope up to data.result's '['.
    kFirstSeries,  // A series or the ']' of an empty result.
    kSeries,       // A series object.
    kAfterSeries,  // ',' and the next series, or ']'.
    kTail,         // The rest, decoded once all of it is here.
    kDone,         // Decoded: result_.
    kFailed,       // Failed: error_.
    kWhole,        // Left to DecodeQuery on the whole body, which buf_ collects.
    kRefetch,      // Left to the caller, who fetches the body again.
  };

  // Decodes what the bytes from pos_ allow; `last`: the body ends there.
  void Advance(bool last) {
    try {
      while (Step(last)) {
      }
    } catch (const std::exception& e) {  // std::bad_alloc, as DecodeQuery reports it.
      Fail(ToStatus(e, "query response"));
    }
  }

  // One stage; false when it needs more bytes or the decoding has left the fast path.
  bool Step(bool last) {
    const char* const begin = buf_.data() + pos_;
    const char* const end = buf_.data() + buf_.size();
    scanner_.Reset(begin, end);
    switch (stage_) {
      case Stage::kHead:
        // The head is a literal: with all its bytes here, a mismatch is final.
        if (static_cast<size_t>(end - begin) < kFastHeadSize && !last) return false;
        if (!scanner_.Head(result_)) return GiveUp();
        pos_ = static_cast<size_t>(scanner_.position() - buf_.data());
        stage_ = Stage::kFirstSeries;
        return true;
      case Stage::kFirstSeries:
      case Stage::kAfterSeries:
        if (begin == end) return last ? GiveUp() : false;
        if (*begin == ']') {
          ++pos_;
          stage_ = Stage::kTail;
          return true;
        }
        if (stage_ == Stage::kAfterSeries) {
          if (*begin != ',') return GiveUp();
          ++pos_;
        }
        stage_ = Stage::kSeries;
        scanned_ = 0;
        return true;
      case Stage::kSeries:
        // Most series are here whole: decode first, and look for the series' end only when
        // that fails (so the bytes are scanned twice only at the end of a piece).
        if (scanned_ > 0 && !SeriesBytesHere()) return last ? GiveUp() : false;
        // Series after series while each is here whole and a ',' follows.
        while (scanner_.Series(result_)) {
          pos_ = static_cast<size_t>(scanner_.position() - buf_.data());
          scanned_ = 0;
          if (!scanner_.Comma()) {
            stage_ = Stage::kAfterSeries;
            return true;
          }
          ++pos_;
        }
        if (scanner_.over_limit()) return Fail(TooManySamples(max_samples_));
        // A series whose bytes are all here fails the same way on the whole body.
        if (scanned_ > 0 || SeriesBytesHere() || last) return GiveUp();
        return false;
      case Stage::kTail:
        if (!last) return false;
        if (!scanner_.Tail(result_)) return GiveUp();
        stage_ = Stage::kDone;
        return false;
      default:
        return false;
    }
  }

  // True when the bytes of the series at pos_ are all in buf_ (or it is not an object, which
  // the fast path rejects at once): a scan for the bracket that closes it, which goes on
  // where the last call stopped. Sets scanned_ > 0.
  bool SeriesBytesHere() {
    const char* const p = buf_.data() + pos_;
    const size_t n = buf_.size() - pos_;
    if (scanned_ == 0) {
      if (n == 0) return false;
      if (p[0] != '{') return true;
      depth_ = 0;
      in_string_ = escaped_ = false;
    }
    for (; scanned_ < n; ++scanned_) {
      const char c = p[scanned_];
      if (in_string_) {
        if (escaped_) {
          escaped_ = false;
        } else if (c == '\\') {
          escaped_ = true;
        } else if (c == '"') {
          in_string_ = false;
        }
      } else if (c == '"') {
        in_string_ = true;
      } else if (c == '{' || c == '[') {
        ++depth_;
      } else if ((c == '}' || c == ']') && --depth_ == 0) {
        ++scanned_;
        return true;
      }
    }
    return false;
  }

  // The fast path cannot decode this body: DecodeQuery decodes it at Finish if all of it is
  // still here (nothing was visited), else the caller fetches it again.
  bool GiveUp() {
    if (scanner_.visited() == 0) {
      stage_ = Stage::kWhole;
    } else {
      stage_ = Stage::kRefetch;
      buf_ = std::string();
    }
    return false;
  }

  bool Fail(absl::Status status) {
    stage_ = Stage::kFailed;
    error_ = std::move(status);
    buf_ = std::string();
    return false;
  }

  PromJsonDecoder& decoder_;
  const size_t max_samples_;
  const SeriesVisitor visit_;
  FastQueryScanner scanner_;
  Stage stage_ = Stage::kHead;
  std::string buf_;
  size_t pos_ = 0;
  size_t scanned_ = 0;
  int depth_ = 0;
  bool in_string_ = false;
  bool escaped_ = false;
  QueryResult result_;
  absl::Status error_;
};

QueryStreamDecoder::QueryStreamDecoder(PromJsonDecoder& decoder, SeriesVisitor visit)
    : impl_(std::make_unique<Impl>(decoder, decoder.impl_->fast, decoder.impl_->options.max_samples,
                                   visit)) {}
QueryStreamDecoder::~QueryStreamDecoder() = default;

void QueryStreamDecoder::Feed(std::string_view piece) { impl_->Feed(piece); }

std::optional<absl::StatusOr<QueryResult>> QueryStreamDecoder::Finish() { return impl_->Finish(); }

size_t QueryStreamDecoder::buffered_bytes() const { return impl_->buffered_bytes(); }

absl::StatusOr<int64_t> PromJsonDecoder::DecodeScrapeIntervalMs(const std::string& body) {
  std::string yaml;
  bool has_yaml = false;
  try {
    std::vector<std::string> warnings;
    absl::Status st = DecodeEnvelope(
        impl_->parser, body, impl_->options.max_samples, warnings,
        [&](Ctx& ctx, od::value data) -> absl::Status {
          PF_RETURN_IF_ERROR(ExpectType(ctx, data, od::json_type::object, "an object", "data"));
          od::object o;
          PF_JSON(data.get_object().get(o), "data");
          for (auto fr : o) {
            od::field f;
            PF_JSON(std::move(fr).get(f), "data");
            std::string_view key;
            PF_JSON(f.unescaped_key().get(key), "data");
            if (key == "yaml") {
              has_yaml = true;
              PF_RETURN_IF_ERROR(ReadString(ctx, f.value(), "data.yaml", yaml));
            }
          }
          if (!has_yaml) return ctx.Shape("data", "missing field \"yaml\"");
          return absl::OkStatus();
        });
    if (!st.ok()) return st;
  } catch (const std::exception& e) {
    return ToStatus(e, "status/config response");
  }
  try {
    YAML::Node root = YAML::Load(yaml);
    YAML::Node interval = root["global"]["scrape_interval"];
    if (!interval || interval.IsNull()) return kDefaultScrapeIntervalMs;
    const std::string text = interval.as<std::string>();
    absl::StatusOr<int64_t> ms = ParseDurationMs(text);
    if (!ms.ok()) {
      return WithReason(absl::InvalidArgumentError(Cat(
                            "data.yaml:", interval.Mark().line + 1, ":", interval.Mark().column + 1,
                            ": global.scrape_interval: ", Sv(ms.status().message()))),
                        FailureReason::kDecode);
    }
    if (*ms <= 0) {
      return WithReason(absl::InvalidArgumentError(
                            Cat("data.yaml: global.scrape_interval must be positive, got ", text)),
                        FailureReason::kDecode);
    }
    return *ms;
  } catch (const YAML::Exception& e) {
    return WithReason(absl::InvalidArgumentError(
                          Cat("data.yaml:", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg)),
                      FailureReason::kDecode);
  }
}

absl::StatusOr<int64_t> ParseTimestampMs(std::string_view text) {
  // The whole text in the fast shape (a null end means none: text.data() may be null too).
  int64_t fast_ms;
  const char* const text_end = text.data() + text.size();
  if (const char* stop = ScanTimestampMs(text.data(), text_end, fast_ms);
      stop != nullptr && stop == text_end) {
    return fast_ms;
  }
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(Cat("bad timestamp \"", text, "\": ", why));
  };
  size_t i = 0;
  const size_t n = text.size();
  const bool negative = i < n && text[i] == '-';
  if (negative) ++i;
  auto is_digit = [&](size_t k) { return k < n && text[k] >= '0' && text[k] <= '9'; };
  // Significant digits (integer part, then fraction) and the power of ten they are scaled by.
  std::string digits;
  int64_t exp10 = 0;
  if (!is_digit(i)) return bad("expected a number");
  if (text[i] == '0' && is_digit(i + 1)) return bad("leading zero");
  while (is_digit(i)) digits.push_back(text[i++]);
  if (i < n && text[i] == '.') {
    ++i;
    if (!is_digit(i)) return bad("expected a digit after '.'");
    while (is_digit(i)) {
      digits.push_back(text[i++]);
      --exp10;
    }
  }
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < n && (text[i] == '+' || text[i] == '-')) exp_negative = text[i++] == '-';
    if (!is_digit(i)) return bad("expected a digit in the exponent");
    int64_t e = 0;
    while (is_digit(i)) {
      if (e < 100'000) e = e * 10 + (text[i] - '0');
      ++i;
    }
    exp10 += exp_negative ? -e : e;
  }
  if (i != n) return bad("trailing characters");
  exp10 += 3;  // Seconds to milliseconds.
  const size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return 0;
  digits.erase(0, first);
  // value = digits * 10^exp10; keep the digits left of the decimal point.
  int64_t keep = static_cast<int64_t>(digits.size()) + exp10;
  if (keep > 19) return bad("out of range");
  bool round_up = false;
  if (exp10 < 0) {
    if (keep < 0) return 0;
    round_up = static_cast<size_t>(keep) < digits.size() && digits[keep] >= '5';
    digits.resize(keep);
    exp10 = 0;
  }
  unsigned __int128 v = 0;
  for (char c : digits) v = v * 10 + static_cast<unsigned>(c - '0');
  for (int64_t k = 0; k < exp10; ++k) v *= 10;
  if (round_up) v += 1;
  const unsigned __int128 limit =
      static_cast<unsigned __int128>(std::numeric_limits<int64_t>::max()) + (negative ? 1 : 0);
  if (v > limit) return bad("out of range");
  if (negative) return static_cast<int64_t>(-static_cast<__int128>(v));
  return static_cast<int64_t>(v);
}

absl::StatusOr<double> ParseSampleValue(std::string_view text) {
  // The whole text a plain decimal (a null end means none: text.data() may be null too).
  const char* const text_end = text.data() + text.size();
  double fast_value;
  if (const char* stop = ScanDecimal(text.data(), text_end, fast_value);
      stop != nullptr && stop == text_end) {
    return fast_value;
  }
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "+Inf" || text == "Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  std::string_view digits = text;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  // from_chars also takes "inf"/"nan" spellings; Prometheus writes only the ones above.
  if (digits.empty() || !(digits.front() == '-' || digits.front() == '.' ||
                          (digits.front() >= '0' && digits.front() <= '9'))) {
    return absl::InvalidArgumentError(
        Cat("bad sample value \"", text, "\": expected a number, NaN, +Inf or -Inf"));
  }
  double v = 0;
  auto [end, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), v, std::chars_format::general);
  if (ec == std::errc::result_out_of_range) {
    return absl::InvalidArgumentError(
        Cat("bad sample value \"", text, "\": out of the range of float64"));
  }
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    return absl::InvalidArgumentError(
        Cat("bad sample value \"", text, "\": expected a number, NaN, +Inf or -Inf"));
  }
  return v;
}

std::string FormatTimestampSeconds(int64_t ms) {
  const bool negative = ms < 0;
  // Work in unsigned to handle INT64_MIN.
  const uint64_t abs = negative ? 0 - static_cast<uint64_t>(ms) : static_cast<uint64_t>(ms);
  std::string out = Cat(negative ? "-" : "", abs / 1000);
  uint64_t frac = abs % 1000;
  if (frac != 0) {
    char buf[4] = {static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
                   static_cast<char>('0' + frac % 10), 0};
    std::string_view f(buf, 3);
    while (f.back() == '0') f.remove_suffix(1);
    Append(&out, ".", f);
  }
  return out;
}

}  // namespace promfeed::upstream
