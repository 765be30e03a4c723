// Shared by the fuzz targets: a contract check that aborts (libFuzzer then saves the input).
#ifndef PROMFEED_FUZZ_FUZZ_CHECK_H_
#define PROMFEED_FUZZ_FUZZ_CHECK_H_

#include <cstdlib>

namespace promfeed::fuzz {

inline void Check(bool ok, const char* what) {
  if (!ok) {
    __builtin_printf("contract violated: %s\n", what);
    std::abort();
  }
}

}  // namespace promfeed::fuzz

#endif  // PROMFEED_FUZZ_FUZZ_CHECK_H_
