#include "resa/runtime/Gsr.h"
#include "resa/runtime/GsrSteps.h"

#include "tokenizer/Json.h"

#include "plan.pb.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <sstream>

namespace resa {
namespace {

GenerationOptions samplingOf(float temperature, float topP, int64_t maxTokens) {
  GenerationOptions o;
  o.sampling.temperature = temperature;
  o.sampling.topP = topP;
  o.maxNewTokens = maxTokens;
  return o;
}

void replaceAll(std::string &s, const std::string &from, const std::string &to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

std::string trim(const std::string &s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

} // namespace

GsrConfig gsrConfig(const Package &package) {
  if (!package.plan().has_gsr())
    throw Error(package.path() + ": the package has no GSR pipeline; compile it with "
                                 "--pipeline=gsr");
  const plan::GsrSpec &g = package.plan().gsr();
  GsrConfig c;
  c.candidates = g.candidates();
  c.refineTemplate = g.refine_template();
  c.candidate = samplingOf(g.candidate_temperature(), g.candidate_top_p(), g.candidate_max_tokens());
  c.refine = samplingOf(g.refine_temperature(), g.refine_top_p(), g.refine_max_tokens());
  c.stop.assign(g.stop().begin(), g.stop().end());
  c.answer = g.answer();
  return c;
}

int64_t gsrPagesFor(const Package &package, const GsrConfig &config, int64_t problemTokens,
                    int64_t templateTokens) {
  int64_t n = config.candidates, cand = config.candidate.maxNewTokens;
  std::vector<std::vector<int64_t>> candidates(n, std::vector<int64_t>(problemTokens));
  std::vector<std::vector<int64_t>> refine = {
      std::vector<int64_t>(problemTokens + n * cand + templateTokens)};
  // Candidates alive at once, then the refinement alone.
  return std::max(Generator::pagesFor(package, candidates, cand),
                  Generator::pagesFor(package, refine, config.refine.maxNewTokens));
}

std::string buildRefinePrompt(const std::string &tmpl, const std::string &problem,
                              const std::vector<std::string> &candidates) {
  std::string listed;
  for (size_t i = 0; i < candidates.size(); ++i)
    listed += (i ? "\n\n" : "") + ("Candidate " + std::to_string(i + 1) + ":\n") +
              trim(candidates[i]);
  // {candidates} last: candidate texts may themselves contain "{problem}".
  std::string out = tmpl;
  replaceAll(out, "{problem}", problem);
  replaceAll(out, "{n}", std::to_string(candidates.size()));
  replaceAll(out, "{candidates}", listed);
  return out;
}

std::string extractAnswer(const std::string &text, const std::string &rule) {
  if (rule == "last-number") {
    // The last run of digits, with a sign and one decimal point.
    std::string last;
    for (size_t i = 0; i < text.size();) {
      if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
        ++i;
        continue;
      }
      size_t b = i;
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])))
        ++i;
      if (i + 1 < text.size() && text[i] == '.' &&
          std::isdigit(static_cast<unsigned char>(text[i + 1]))) {
        ++i;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])))
          ++i;
      }
      bool negative = b > 0 && text[b - 1] == '-';
      last = (negative ? "-" : "") + text.substr(b, i - b);
    }
    return last;
  }
  if (rule == "boxed") {
    size_t at = text.rfind("\\boxed{");
    if (at == std::string::npos)
      return "";
    size_t i = at + 7, depth = 1;
    for (size_t j = i; j < text.size(); ++j) {
      if (text[j] == '{')
        ++depth;
      else if (text[j] == '}' && --depth == 0)
        return trim(text.substr(i, j - i));
    }
    return "";
  }
  if (rule.rfind("after:", 0) == 0) {
    std::string marker = rule.substr(6);
    size_t at = text.rfind(marker);
    if (at == std::string::npos)
      return "";
    size_t b = at + marker.size(), e = text.find('\n', b);
    return trim(text.substr(b, e == std::string::npos ? std::string::npos : e - b));
  }
  throw Error("unknown answer rule '" + rule + "' (last-number, boxed or after:<marker>)");
}

std::string majorityVote(const std::vector<std::string> &answers) {
  std::map<std::string, int> counts;
  for (const std::string &a : answers)
    if (!a.empty())
      ++counts[a];
  std::string best;
  int bestCount = 0;
  for (const std::string &a : answers) // earliest wins a tie
    if (!a.empty() && counts[a] > bestCount) {
      best = a;
      bestCount = counts[a];
    }
  return best;
}

GsrResult runGsr(Generator &generator, const Tokenizer &tokenizer, const std::string &problem,
                 const GsrConfig &config, uint64_t seed) {
  using Clock = std::chrono::steady_clock;
  GsrResult result;
  result.problem = problem;
  int64_t prefill0 = generator.prefillTokens(), decode0 = generator.decodeTokens();
  auto t0 = Clock::now();
  result.candidates =
      sampleGsrCandidates(generator, tokenizer, problem, config, config.candidates, seed);
  auto t1 = Clock::now();
  result.refinement = refineGsrCandidates(generator, tokenizer, problem, result.candidates,
                                          config, seed, &result.refinePrompt);
  auto t2 = Clock::now();

  std::vector<std::string> answers;
  for (const GsrSample &c : result.candidates)
    answers.push_back(c.answer);
  result.answer = result.refinement.answer;
  result.majorityAnswer = majorityVote(answers);
  auto best = std::max_element(result.candidates.begin(), result.candidates.end(),
                               [](const GsrSample &a, const GsrSample &b) {
                                 return a.meanLogProb < b.meanLogProb;
                               });
  result.bestOfNAnswer = best == result.candidates.end() ? "" : best->answer;
  result.prefillTokens = generator.prefillTokens() - prefill0;
  result.decodeTokens = generator.decodeTokens() - decode0;
  result.candidateSeconds = std::chrono::duration<double>(t1 - t0).count();
  result.refineSeconds = std::chrono::duration<double>(t2 - t1).count();
  return result;
}

std::string gsrResultJson(const GsrResult &r) {
  auto sample = [](const GsrSample &s) {
    std::ostringstream o;
    o << "{\"text\": " << json::quote(s.text) << ", \"answer\": " << json::quote(s.answer)
      << ", \"tokens\": " << s.tokens.size() << ", \"mean_logprob\": " << s.meanLogProb
      << ", \"stop\": " << json::quote(s.stopReason) << "}";
    return o.str();
  };
  std::ostringstream o;
  o << "{\n  \"problem\": " << json::quote(r.problem) << ",\n  \"candidates\": [";
  for (size_t i = 0; i < r.candidates.size(); ++i)
    o << (i ? ",\n    " : "\n    ") << sample(r.candidates[i]);
  o << "\n  ],\n  \"refine_prompt\": " << json::quote(r.refinePrompt)
    << ",\n  \"refinement\": " << sample(r.refinement) << ",\n  \"answer\": "
    << json::quote(r.answer) << ",\n  \"majority_answer\": " << json::quote(r.majorityAnswer)
    << ",\n  \"best_of_n_answer\": " << json::quote(r.bestOfNAnswer)
    << ",\n  \"prefill_tokens\": " << r.prefillTokens << ",\n  \"decode_tokens\": "
    << r.decodeTokens << ",\n  \"candidate_seconds\": " << r.candidateSeconds
    << ",\n  \"refine_seconds\": " << r.refineSeconds << "\n}\n";
  return o.str();
}

} // namespace resa
