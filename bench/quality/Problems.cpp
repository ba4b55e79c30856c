// Reads the quality benchmark's problems: see Problems.h.
#include "Problems.h"

#include "resa/kernels/Tensor.h"
#include "tokenizer/Json.h"

#include <fstream>

namespace resa::bench {

std::vector<Problem> readProblems(const std::string &path, int64_t count) {
  std::ifstream in(path);
  if (!in)
    throw Error(path + ": cannot open the problems file");
  std::vector<Problem> problems;
  std::string line;
  for (int64_t lineNo = 1; (count < 0 || int64_t(problems.size()) < count) &&
                           std::getline(in, line);
       ++lineNo) {
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    const std::string where = path + ":" + std::to_string(lineNo);
    try {
      json::Value v = json::parse(line);
      const json::Value *text = v.get("problem"), *answer = v.get("answer");
      if (!text || !answer)
        throw Error("a problem needs \"problem\" and \"answer\"");
      Problem p;
      p.index = static_cast<int64_t>(problems.size());
      p.problem = text->asString("problem");
      // task.py writes the answer as a string; a number is read as its integer.
      p.answer = answer->isNumber() ? std::to_string(answer->asInt("answer"))
                                    : answer->asString("answer");
      if (const json::Value *s = v.get("solution"))
        p.solution = s->asString("solution");
      problems.push_back(std::move(p));
    } catch (const Error &e) {
      throw Error(where + ": " + e.what());
    }
  }
  if (problems.empty())
    throw Error(path + ": no problems");
  return problems;
}

} // namespace resa::bench
