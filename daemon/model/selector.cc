#include "daemon/model/selector.h"

#include <re2/re2.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "daemon/model/str_cat.h"

namespace promfeed {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsLabelStart(char c) { return IsAlpha(c); }
bool IsLabelChar(char c) { return IsAlpha(c) || IsDigit(c); }
bool IsMetricStart(char c) { return IsAlpha(c) || c == ':'; }
bool IsMetricChar(char c) { return IsLabelChar(c) || c == ':'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendUtf8(uint32_t r, std::string* out) {
  if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (r >> 6)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (r >> 12)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (r >> 18)));
    out->push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

// Describes the character at `pos` for "got ..." in error messages.
std::string Describe(std::string_view text, size_t pos) {
  if (pos >= text.size()) return "end of selector";
  char c = text[pos];
  if (c == '\n') return "a newline";
  if (c == '\t') return "a tab";
  if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
    char hex[8];
    std::snprintf(hex, sizeof(hex), "0x%02x", static_cast<unsigned char>(c));
    return Cat("control character ", std::string_view(hex));
  }
  return Cat("'", c, "'");
}

std::string_view OpString(Matcher::Op op) {
  switch (op) {
    case Matcher::Op::kEqual:
      return "=";
    case Matcher::Op::kNotEqual:
      return "!=";
    case Matcher::Op::kRegexMatch:
      return "=~";
    case Matcher::Op::kRegexNoMatch:
      return "!~";
  }
  return "?";
}

// Recursive-descent parser over one selector. On error, `error_offset_` holds the byte
// offset the message refers to.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  absl::StatusOr<std::vector<Matcher>> Run() {
    std::vector<Matcher> matchers;
    SkipSpace();
    if (pos_ >= text_.size()) {
      return Error(pos_, "expected a metric name or '{', got an empty selector");
    }
    std::optional<size_t> name_pos;
    if (IsMetricStart(text_[pos_])) {
      name_pos = pos_;
      size_t start = pos_;
      while (pos_ < text_.size() && IsMetricChar(text_[pos_])) ++pos_;
      Matcher m;
      m.name = std::string(kMetricNameLabel);
      m.op = Matcher::Op::kEqual;
      m.value = std::string(text_.substr(start, pos_ - start));
      matchers.push_back(std::move(m));
      SkipSpace();
      if (pos_ >= text_.size()) return matchers;
      if (text_[pos_] != '{') {
        return Error(pos_, Cat("expected '{' or end of selector after metric name \"",
                               matchers[0].value, "\", got ", Describe(text_, pos_)));
      }
    } else if (text_[pos_] != '{') {
      return Error(pos_, Cat("expected a metric name or '{', got ", Describe(text_, pos_)));
    }
    size_t open_brace = pos_;
    ++pos_;  // '{'
    while (true) {
      SkipSpace();
      if (pos_ >= text_.size()) {
        return Error(pos_, Cat("expected a label name or '}' to close the '{' at column ",
                               open_brace + 1, ", got end of selector"));
      }
      if (text_[pos_] == '}') {
        ++pos_;
        break;
      }
      absl::StatusOr<Matcher> m = ParseMatcher();
      if (!m.ok()) return m.status();
      if (m->name == kMetricNameLabel && name_pos.has_value()) {
        return Error(*name_pos,
                     Cat("metric name is set twice: \"", matchers[0].value, "\" and __name__ ",
                         OpString(m->op), " \"", m->value, "\"; keep only one of them"));
      }
      matchers.push_back(*std::move(m));
      SkipSpace();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == '}') {
        ++pos_;
        break;
      }
      return Error(pos_, Cat("expected ',' or '}' after a matcher, got ", Describe(text_, pos_)));
    }
    SkipSpace();
    if (pos_ < text_.size()) {
      return Error(pos_, Cat("expected end of selector after '}', got ", Describe(text_, pos_),
                             " (only series selectors are accepted here, not range "
                             "vectors, offsets or functions)"));
    }
    return matchers;
  }

  absl::Status Error(size_t offset, std::string_view message) {
    error_offset_ = offset;
    return absl::InvalidArgumentError(Cat("column ", offset + 1, ": ", message));
  }

  size_t error_offset() const { return error_offset_; }

 private:
  void SkipSpace() {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
  }

  absl::StatusOr<Matcher> ParseMatcher() {
    Matcher m;
    if (!IsLabelStart(text_[pos_])) {
      return Error(
          pos_, Cat("expected a label name ([a-zA-Z_][a-zA-Z0-9_]*), got ", Describe(text_, pos_)));
    }
    size_t start = pos_;
    while (pos_ < text_.size() && IsLabelChar(text_[pos_])) ++pos_;
    m.name = std::string(text_.substr(start, pos_ - start));
    SkipSpace();
    std::string_view rest = text_.substr(pos_);
    if (rest.starts_with("=~")) {
      m.op = Matcher::Op::kRegexMatch;
      pos_ += 2;
    } else if (rest.starts_with("!~")) {
      m.op = Matcher::Op::kRegexNoMatch;
      pos_ += 2;
    } else if (rest.starts_with("!=")) {
      m.op = Matcher::Op::kNotEqual;
      pos_ += 2;
    } else if (rest.starts_with("=")) {
      m.op = Matcher::Op::kEqual;
      pos_ += 1;
    } else {
      return Error(pos_, Cat("expected '=', '!=', '=~' or '!~' after label name \"", m.name,
                             "\", got ", Describe(text_, pos_)));
    }
    SkipSpace();
    size_t value_pos = pos_;
    absl::StatusOr<std::string> value = ParseString();
    if (!value.ok()) return value.status();
    m.value = *std::move(value);
    if (m.op == Matcher::Op::kRegexMatch || m.op == Matcher::Op::kRegexNoMatch) {
      RE2::Options options;
      options.set_log_errors(false);
      // Prometheus compiles "^(?s:re)$": '.' also matches a newline.
      options.set_dot_nl(true);
      auto re = std::make_shared<const RE2>(Cat("^(?:", m.value, ")$"), options);
      if (!re->ok()) {
        // Report the error against the pattern as written, not the anchored one.
        RE2 bare(m.value, options);
        const std::string& why = bare.ok() ? re->error() : bare.error();
        return Error(value_pos, Cat("invalid regular expression \"", m.value, "\" for label \"",
                                    m.name, "\": ", why, " (RE2 syntax)"));
      }
      m.regex = std::move(re);
    }
    return m;
  }

  // A double-, single- or back-quoted string starting at pos_.
  absl::StatusOr<std::string> ParseString() {
    if (pos_ >= text_.size() || (text_[pos_] != '"' && text_[pos_] != '\'' && text_[pos_] != '`')) {
      return Error(pos_, Cat("expected a quoted label value (\"...\", '...' or `...`), "
                             "got ",
                             Describe(text_, pos_)));
    }
    const char quote = text_[pos_];
    const size_t open = pos_;
    ++pos_;
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) {
        return Error(open, Cat("unterminated string: add the closing ", quote));
      }
      char c = text_[pos_];
      if (c == quote) {
        ++pos_;
        return out;
      }
      if (quote == '`') {
        out.push_back(c);
        ++pos_;
        continue;
      }
      if (c == '\n') {
        return Error(pos_, Cat("newline in string: write \\n, or add the closing ", quote,
                               " before the line ends"));
      }
      if (c != '\\') {
        out.push_back(c);
        ++pos_;
        continue;
      }
      absl::Status s = ParseEscape(quote, &out);
      if (!s.ok()) return s;
    }
  }

  // Go escapes, as PromQL: \a \b \f \n \r \t \v \\ \<quote> \NNN \xNN \uNNNN \UNNNNNNNN.
  absl::Status ParseEscape(char quote, std::string* out) {
    const size_t start = pos_;
    ++pos_;  // '\\'
    if (pos_ >= text_.size()) return Error(start, "escape sequence not terminated");
    char c = text_[pos_++];
    switch (c) {
      case 'a':
        out->push_back('\a');
        return absl::OkStatus();
      case 'b':
        out->push_back('\b');
        return absl::OkStatus();
      case 'f':
        out->push_back('\f');
        return absl::OkStatus();
      case 'n':
        out->push_back('\n');
        return absl::OkStatus();
      case 'r':
        out->push_back('\r');
        return absl::OkStatus();
      case 't':
        out->push_back('\t');
        return absl::OkStatus();
      case 'v':
        out->push_back('\v');
        return absl::OkStatus();
      case '\\':
        out->push_back('\\');
        return absl::OkStatus();
      default:
        break;
    }
    if (c == quote) {
      out->push_back(c);
      return absl::OkStatus();
    }
    int digits = 0;
    int base = 0;
    uint32_t max = 0;
    bool is_byte = false;
    if (c >= '0' && c <= '7') {
      --pos_;  // The first digit is part of the value.
      digits = 3;
      base = 8;
      max = 255;
      is_byte = true;
    } else if (c == 'x') {
      digits = 2;
      base = 16;
      max = 255;
      is_byte = true;
    } else if (c == 'u') {
      digits = 4;
      base = 16;
      max = 0x10FFFF;
    } else if (c == 'U') {
      digits = 8;
      base = 16;
      max = 0x10FFFF;
    } else {
      return Error(start, Cat("unknown escape sequence \\", c,
                              "; write \\\\ for a backslash, or use a `raw string`"));
    }
    uint32_t value = 0;
    for (int i = 0; i < digits; ++i) {
      int d = pos_ < text_.size() ? HexValue(text_[pos_]) : -1;
      if (d < 0 || d >= base) {
        return Error(
            start, Cat("escape sequence needs ", digits, base == 8 ? " octal" : " hex", " digits"));
      }
      value = value * base + d;
      ++pos_;
    }
    if (value > max || (value >= 0xD800 && value < 0xE000)) {
      return Error(start, "escape sequence is an invalid Unicode code point");
    }
    if (is_byte) {
      out->push_back(static_cast<char>(value));
    } else {
      AppendUtf8(value, out);
    }
    return absl::OkStatus();
  }

  std::string_view text_;
  size_t pos_ = 0;
  size_t error_offset_ = 0;
};

}  // namespace

bool Matcher::Matches(std::string_view label_value) const {
  switch (op) {
    case Op::kEqual:
      return label_value == value;
    case Op::kNotEqual:
      return label_value != value;
    case Op::kRegexMatch:
      return regex != nullptr && RE2::FullMatch(label_value, *regex);
    case Op::kRegexNoMatch:
      return regex != nullptr && !RE2::FullMatch(label_value, *regex);
  }
  return false;
}

absl::StatusOr<Selector> Selector::Parse(std::string_view text) {
  size_t ignored;
  return Parse(text, &ignored);
}

absl::StatusOr<Selector> Selector::Parse(std::string_view text, size_t* error_offset) {
  *error_offset = 0;
  Parser parser(text);
  absl::StatusOr<std::vector<Matcher>> matchers = parser.Run();
  if (!matchers.ok()) {
    *error_offset = parser.error_offset();
    return matchers.status();
  }
  if (matchers->empty()) {
    return absl::InvalidArgumentError(
        "column 1: empty selector {} would select every series; add a metric name or a matcher, "
        "e.g. up or {job=\"node\"}");
  }
  bool has_non_empty = false;
  for (const Matcher& m : *matchers) {
    if (!m.Matches("")) has_non_empty = true;
  }
  if (!has_non_empty) {
    return absl::InvalidArgumentError(
        Cat("column 1: selector ", text,
            " matches the empty string in every matcher, so it would select every series; "
            "add a metric name or at least one matcher that does not match \"\" (e.g. "
            "job=\"node\" or job=~\".+\")"));
  }
  Selector s;
  s.text_ = std::string(text);
  s.matchers_ = *std::move(matchers);
  return s;
}

bool Selector::Matches(const Labels& labels) const {
  for (const Matcher& m : matchers_) {
    if (!m.Matches(labels.Get(m.name))) return false;
  }
  return true;
}

std::string_view Selector::metric_name() const {
  for (const Matcher& m : matchers_) {
    if (m.name == kMetricNameLabel && m.op == Matcher::Op::kEqual) return m.value;
  }
  return "";
}

}  // namespace promfeed
