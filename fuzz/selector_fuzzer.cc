// Fuzzes Selector::Parse (selectors come from config files and from every gRPC request).
// Checks: an error's offset points into the text; a parsed selector's text parses again to
// the same matchers; matching arbitrary labels never crashes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "daemon/model/labels.h"
#include "daemon/model/selector.h"
#include "fuzz/fuzz_check.h"

using promfeed::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t offset = 0;
  absl::StatusOr<promfeed::Selector> sel = promfeed::Selector::Parse(text, &offset);
  if (!sel.ok()) {
    Check(offset <= text.size(), "error offset past the end of the text");
    Check(!sel.status().message().empty(), "error without a message");
    return 0;
  }
  absl::StatusOr<promfeed::Selector> again = promfeed::Selector::Parse(sel->text());
  Check(again.ok(), "text() of a parsed selector does not parse");
  Check(again->matchers().size() == sel->matchers().size(), "re-parse changed the matchers");
  for (size_t i = 0; i < sel->matchers().size(); ++i) {
    const auto& a = sel->matchers()[i];
    const auto& b = again->matchers()[i];
    Check(a.name == b.name && a.op == b.op && a.value == b.value, "re-parse changed a matcher");
  }
  // Labels built from the input itself: half name, half value.
  const std::string half(text.substr(0, size / 2));
  promfeed::Labels labels =
      promfeed::Labels().With("__name__", half).With("job", std::string(text));
  (void)sel->Matches(labels);
  (void)sel->Matches(promfeed::Labels());
  return 0;
}
