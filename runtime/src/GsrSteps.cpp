// The GSR pipeline's steps one at a time: see GsrSteps.h. runGsr (Gsr.cpp)
// is made of them.
#include "resa/runtime/GsrSteps.h"

#include <algorithm>

namespace resa {
namespace {

// The text up to the first stop string.
std::string cutAtStops(const std::string &text, const std::vector<std::string> &stop) {
  size_t end = text.size();
  for (const std::string &s : stop)
    if (!s.empty())
      end = std::min(end, text.find(s));
  return text.substr(0, end);
}

} // namespace

GenerationOptions gsrGenerationOptions(const GenerationOptions &base, const GsrConfig &config,
                                       const Tokenizer &tokenizer, uint64_t seed) {
  GenerationOptions o = base;
  o.sampling.seed = seed;
  if (auto eos = tokenizer.eosId())
    o.stopTokens.push_back(*eos);
  if (!config.stop.empty()) {
    const std::vector<std::string> stop = config.stop;
    o.stopWhen = [stop, &tokenizer](const std::vector<int64_t> &tokens) {
      std::string text = tokenizer.decode(tokens, true);
      return cutAtStops(text, stop).size() != text.size();
    };
  }
  return o;
}

GsrSample gsrSample(const Generation &g, const Tokenizer &tokenizer, const GsrConfig &config) {
  GsrSample s;
  s.tokens = g.tokens;
  s.stopReason = g.stopReason;
  s.text = cutAtStops(tokenizer.decode(g.tokens, /*skipSpecial=*/true), config.stop);
  s.answer = extractAnswer(s.text, config.answer);
  double total = 0;
  for (float lp : g.logProbs)
    total += lp;
  s.meanLogProb = g.logProbs.empty() ? 0 : total / double(g.logProbs.size());
  return s;
}

std::vector<GsrSample> sampleGsrCandidates(Generator &generator, const Tokenizer &tokenizer,
                                           const std::string &problem, const GsrConfig &config,
                                           int64_t n, uint64_t seed) {
  std::vector<int64_t> prompt = tokenizer.encode(problem, /*addSpecial=*/true);
  std::vector<GsrSample> samples;
  for (const Generation &g : generator.generateShared(
           prompt, n, gsrGenerationOptions(config.candidate, config, tokenizer, seed)))
    samples.push_back(gsrSample(g, tokenizer, config));
  return samples;
}

GsrSample refineGsrCandidates(Generator &generator, const Tokenizer &tokenizer,
                              const std::string &problem, const std::vector<GsrSample> &candidates,
                              const GsrConfig &config, uint64_t seed, std::string *refinePrompt) {
  std::vector<std::string> texts;
  for (const GsrSample &c : candidates)
    texts.push_back(c.text);
  std::string prompt = buildRefinePrompt(config.refineTemplate, problem, texts);
  GenerationOptions options =
      gsrGenerationOptions(config.refine, config, tokenizer, seed + candidates.size());
  GsrSample refined =
      gsrSample(generator.generate({tokenizer.encode(prompt, true)}, options)[0], tokenizer, config);
  if (refinePrompt)
    *refinePrompt = std::move(prompt);
  return refined;
}

} // namespace resa
