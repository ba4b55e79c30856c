// Generative Self-Refinement (DESIGN.md, "GSR"), as a compiled package's
// resa.gsr_pipeline describes it: prefill the problem once, sample N
// candidates that share its KV pages and decode as one batch, build the
// refinement prompt from the template, generate the final answer. Beside it,
// on the same candidates: majority vote over their extracted answers and
// best-of-N by mean token log-probability.
#pragma once

#include "resa/runtime/Generator.h"
#include "resa/runtime/Tokenizer.h"

#include <string>
#include <vector>

namespace resa {

struct GsrConfig {
  int64_t candidates = 4;
  std::string refineTemplate; // placeholders {problem}, {n}, {candidates}
  GenerationOptions candidate, refine;
  std::vector<std::string> stop; // stop strings, cut from the text
  std::string answer = "last-number";
};

// The pipeline the package was compiled with; throws when it has none.
GsrConfig gsrConfig(const Package &package);

struct GsrSample {
  std::vector<int64_t> tokens;
  std::string text;
  std::string answer; // "" when the rule finds none
  double meanLogProb = 0;
  std::string stopReason;
};

struct GsrResult {
  std::string problem;
  std::vector<GsrSample> candidates;
  std::string refinePrompt;
  GsrSample refinement;
  std::string answer;         // the refinement's: GSR's output
  std::string majorityAnswer; // most frequent candidate answer (ties: the earliest)
  std::string bestOfNAnswer;  // the answer of the candidate with the best mean log-prob
  int64_t prefillTokens = 0, decodeTokens = 0;
  double candidateSeconds = 0, refineSeconds = 0;
};

// KV pages enough for the whole pipeline on a problem of that many tokens
// (the refinement prompt holds the problem, every candidate and the
// template's text, taken as at most `templateTokens`).
int64_t gsrPagesFor(const Package &package, const GsrConfig &config, int64_t problemTokens,
                    int64_t templateTokens = 512);

// Runs the pipeline; with the same seed the result is the same.
GsrResult runGsr(Generator &generator, const Tokenizer &tokenizer, const std::string &problem,
                 const GsrConfig &config, uint64_t seed);

// The pieces, exposed for tests.
std::string buildRefinePrompt(const std::string &tmpl, const std::string &problem,
                              const std::vector<std::string> &candidates);
// rule: "last-number", "boxed" (\boxed{...}) or "after:<marker>" (the rest of
// the line after the last marker, trimmed). "" when nothing matches.
std::string extractAnswer(const std::string &text, const std::string &rule);
std::string majorityVote(const std::vector<std::string> &answers);
std::string gsrResultJson(const GsrResult &result);

} // namespace resa
