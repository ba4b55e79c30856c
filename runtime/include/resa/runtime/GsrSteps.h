// The GSR pipeline's steps one at a time (runGsr in Gsr.h runs them in one
// go), for evaluations that need them apart: sample any number of candidates
// the way the package samples its own, then refine a chosen few of them
// without sampling again (bench/quality: pass@1, majority and best-of-K over K
// samples, and GSR over the first N of the same samples). With n equal to
// the package's candidate count and the same seed, sampleGsrCandidates and
// refineGsrCandidates give runGsr's candidates and refinement.
#pragma once

#include "resa/runtime/Gsr.h"

#include <string>
#include <vector>

namespace resa {

// `base` (a config's candidate or refine options) with the pipeline's stops,
// the tokenizer's EOS and the config's stop strings, sampling from `seed`.
GenerationOptions gsrGenerationOptions(const GenerationOptions &base, const GsrConfig &config,
                                       const Tokenizer &tokenizer, uint64_t seed);

// A generation as the pipeline reports it: the text without special tokens,
// cut at the first stop string; the config's answer; the mean token
// log-probability.
GsrSample gsrSample(const Generation &generation, const Tokenizer &tokenizer,
                    const GsrConfig &config);

// n candidates for `problem`: prefilled once, forked, decoded as one batch,
// candidate i sampling with seed + i.
std::vector<GsrSample> sampleGsrCandidates(Generator &generator, const Tokenizer &tokenizer,
                                           const std::string &problem, const GsrConfig &config,
                                           int64_t n, uint64_t seed);

// The refinement over `candidates` (their texts, in this order), sampling
// with seed + candidates.size() as runGsr does; `refinePrompt`, when given,
// receives the prompt it was generated from.
GsrSample refineGsrCandidates(Generator &generator, const Tokenizer &tokenizer,
                              const std::string &problem, const std::vector<GsrSample> &candidates,
                              const GsrConfig &config, uint64_t seed,
                              std::string *refinePrompt = nullptr);

} // namespace resa
