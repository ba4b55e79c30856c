// Fuzzes the GSR refinement template and answer extraction: the input is cut
// at NUL bytes into a template, a problem, candidates and an answer rule.
#include "resa/kernels/Tensor.h"
#include "resa/runtime/Gsr.h"

#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0)
      parts.emplace_back();
    else
      parts.back().push_back(static_cast<char>(data[i]));
  }
  std::string tmpl = parts[0];
  std::string problem = parts.size() > 1 ? parts[1] : "";
  std::string rule = parts.size() > 2 ? parts[2] : "last-number";
  std::vector<std::string> candidates(parts.begin() + std::min<size_t>(parts.size(), 3),
                                      parts.end());
  try {
    std::string prompt = resa::buildRefinePrompt(tmpl, problem, candidates);
    (void)resa::extractAnswer(prompt, rule);
    for (const char *r : {"last-number", "boxed", "after:Answer:", "after:"})
      (void)resa::extractAnswer(prompt, r);
    std::vector<std::string> answers;
    for (const std::string &c : candidates)
      answers.push_back(resa::extractAnswer(c, rule));
    (void)resa::majorityVote(answers);
  } catch (const resa::Error &) {
  }
  return 0;
}
