// The held-out problems of the quality benchmark: JSON lines as
// `tools/train/task.py --split test` prints them, one
// {"problem": TEXT, "answer": A, "solution": TRACE, ...} per line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace resa::bench {

struct Problem {
  int64_t index = 0;    // the line's position among the file's problems, from 0
  std::string problem;  // the prompt text, as the pipeline is given it
  std::string answer;   // the reference answer (a number is kept as written)
  std::string solution; // the reference trace; "" when the line has none
};

// The first `count` problems of the file (all of them when count < 0). Throws
// resa::Error naming the file and line of anything malformed.
std::vector<Problem> readProblems(const std::string &path, int64_t count);

} // namespace resa::bench
