// Logging set-up: spdlog's default logger writing logfmt or JSON lines to stderr.
// Call sites log "event key=value ..." (e.g. "poll failed url=http://x error=timeout");
// the formatter turns the leading words into msg= and keeps the pairs as fields.
#ifndef PROMFEED_LOGGING_LOGGING_H_
#define PROMFEED_LOGGING_LOGGING_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace promfeed::logging {

// level: debug, info, warn, error. format: logfmt or json. INVALID_ARGUMENT otherwise.
absl::Status Configure(std::string_view level, std::string_view format);

// Formats one line; exposed for tests. `ts` is RFC 3339 UTC with milliseconds.
std::string FormatLine(std::string_view format, std::string_view ts, std::string_view level,
                       std::string_view payload);

// Quotes a value for logfmt when it needs it (spaces, quotes, '=' or empty).
std::string Quote(std::string_view value);

}  // namespace promfeed::logging

#endif  // PROMFEED_LOGGING_LOGGING_H_
