// Where a generated trace first leaves the reference solution, line by line:
// the quality benchmark's accuracy against the number of generated tokens
// (the fraction of problems whose trace is still right after t tokens shows
// where a decoding policy starts to drift).
#pragma once

#include "resa/runtime/Tokenizer.h"

#include <cstdint>
#include <string>
#include <vector>

namespace resa::bench {

struct TraceCheck {
  int64_t referenceLines = 0; // the reference's lines (its final newline ends the last)
  int64_t linesRight = 0;     // reference lines the trace reproduces exactly, from the first
  // The index of the first generated token of the first wrong line (tokens
  // 0 .. firstWrongToken - 1 wrote only right lines); -1 when every reference
  // line is reproduced. A trace that ends before the reference does is wrong
  // from its stop token (or from its end, when it has none).
  int64_t firstWrongToken = -1;
};

// `text` is what `tokens` decode to without special tokens (cut at the
// pipeline's stop strings: GsrSample::text); `reference` the problem's
// solution. A line is right when it is written exactly, newline included
// where the reference has one.
TraceCheck checkTrace(const std::vector<int64_t> &tokens, const std::string &text,
                      const std::string &reference, const Tokenizer &tokenizer);

} // namespace resa::bench
