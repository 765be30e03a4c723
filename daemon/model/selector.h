// Selector: a parsed PromQL series selector (`metric{label op "value", ...}`) and matching.
// Immutable after Parse; safe to share across threads.
#ifndef PROMFEED_MODEL_SELECTOR_H_
#define PROMFEED_MODEL_SELECTOR_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/model/labels.h"

namespace re2 {
class RE2;
}

namespace promfeed {

struct Matcher {
  enum class Op { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };

  std::string name;
  Op op = Op::kEqual;
  std::string value;
  // Compiled `^(?:value)$` for the regex ops (RE2 syntax, as Prometheus); null otherwise.
  std::shared_ptr<const re2::RE2> regex;

  // An absent label matches as the empty string, as in Prometheus.
  bool Matches(std::string_view label_value) const;
};

class Selector {
 public:
  // Parses `name`, `name{...}` or `{...}` with =, !=, =~, !~ and double-, single- or
  // back-quoted values (Go escapes in double quotes). Fails with INVALID_ARGUMENT naming the
  // column (1-based) and what was expected, e.g. "column 7: expected '=', '!=', '=~' or '!~'".
  // Like Prometheus, a selector must have at least one matcher that does not match "".
  static absl::StatusOr<Selector> Parse(std::string_view text);
  // As Parse; on failure also sets *error_offset to the 0-based byte offset in `text` that the
  // message's column refers to (0 for errors about the whole selector), so that callers can
  // point into the file the selector came from. REQUIRES: error_offset != nullptr.
  static absl::StatusOr<Selector> Parse(std::string_view text, size_t* error_offset);

  bool Matches(const Labels& labels) const;

  const std::string& text() const { return text_; }
  // All matchers, the metric name (if given) first as __name__="name".
  const std::vector<Matcher>& matchers() const { return matchers_; }
  // The metric name when the selector pins it with `name` or __name__="name"; else "".
  std::string_view metric_name() const;

 private:
  std::string text_;
  std::vector<Matcher> matchers_;
};

}  // namespace promfeed

#endif  // PROMFEED_MODEL_SELECTOR_H_
