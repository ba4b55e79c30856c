// A generated trace against the reference solution: see TraceCheck.h.
#include "TraceCheck.h"

namespace resa::bench {

TraceCheck checkTrace(const std::vector<int64_t> &tokens, const std::string &text,
                      const std::string &reference, const Tokenizer &tokenizer) {
  TraceCheck c;
  size_t right = 0; // characters of `text` that are right lines
  for (size_t at = 0; at < reference.size();) {
    size_t nl = reference.find('\n', at);
    size_t end = nl == std::string::npos ? reference.size() : nl + 1;
    ++c.referenceLines;
    if (c.linesRight + 1 == c.referenceLines &&
        text.compare(right, end - at, reference, at, end - at) == 0) {
      right += end - at;
      ++c.linesRight;
    }
    at = end;
  }
  if (c.linesRight == c.referenceLines)
    return c;
  // The fewest tokens whose text goes past the right lines: the decoded text
  // of a prefix only grows with it, so a binary search over prefix lengths.
  auto decodedLength = [&](size_t n) {
    return tokenizer.decode(std::vector<int64_t>(tokens.begin(), tokens.begin() + n), true).size();
  };
  size_t lo = 1, hi = tokens.size() + 1; // answer in [lo, hi]; hi: no prefix goes past
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (decodedLength(mid) > right)
      hi = mid;
    else
      lo = mid + 1;
  }
  if (lo <= tokens.size()) {
    c.firstWrongToken = static_cast<int64_t>(lo) - 1;
  } else {
    // The trace ended early: wrong from its stop token, or from its end.
    bool stopped = !tokens.empty() && tokenizer.isSpecial(tokens.back());
    c.firstWrongToken = static_cast<int64_t>(tokens.size()) - (stopped ? 1 : 0);
  }
  return c;
}

} // namespace resa::bench
