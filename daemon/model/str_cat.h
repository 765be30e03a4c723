// String building for error messages and log fields. Debian's abseil has its own
// string_view, so absl::StrCat does not take std::string_view; Cat takes both, characters and
// numbers (via fmt). Stateless and thread-safe.
#ifndef PROMFEED_MODEL_STR_CAT_H_
#define PROMFEED_MODEL_STR_CAT_H_

#include <fmt/format.h>

#include <iterator>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/string_view.h"

namespace promfeed {

template <typename T>
void AppendOne(std::string& out, const T& piece) {
  if constexpr (std::is_same_v<T, absl::string_view>) {
    out.append(piece.data(), piece.size());
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    out.append(std::string_view(piece));
  } else {
    fmt::format_to(std::back_inserter(out), "{}", piece);
  }
}

template <typename... T>
std::string Cat(const T&... pieces) {
  std::string out;
  (AppendOne(out, pieces), ...);
  return out;
}

template <typename... T>
void Append(std::string* out, const T&... pieces) {
  (AppendOne(*out, pieces), ...);
}

template <typename Range>
std::string Join(const Range& range, std::string_view sep) {
  std::string out;
  bool first = true;
  for (const auto& piece : range) {
    if (!first) out.append(sep);
    first = false;
    AppendOne(out, piece);
  }
  return out;
}

}  // namespace promfeed

#endif  // PROMFEED_MODEL_STR_CAT_H_
