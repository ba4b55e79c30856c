// resa-bench quality: answer accuracy of compiled packages on held-out task
// problems, through the runtime's own generator and GSR pipeline (issue 8).
//
// Every package is compiled from one model with --pipeline=gsr, so the
// candidate sampling, the refinement template, the answer rule, the stop
// strings and the token limit are the package's. For each problem:
//  - every policy decodes it greedily (temperature 0, the package's candidate
//    token limit and stops); --batch problems go to one Generator::generate
//    call (the task's prompts all have one length, so their decode steps run
//    as one batch). The answer is read by the package's rule, and the trace
//    is compared line by line with the reference solution (TraceCheck.h);
//  - the sampling policy (--sampling-policy) draws K = --samples candidates
//    as the pipeline does (sampleGsrCandidates: prefilled once, forked,
//    decoded as one batch), candidate i seeded seed + 1000 * index + i, where
//    index is the problem's position in the file. pass@1: the first sample;
//    majority@K: the most frequent non-empty answer (ties: the earliest);
//    best-of-K: the sample of highest mean token log-probability; GSR@N: the
//    package's refinement over the first N = min(K, the package's candidates)
//    samples, without sampling again (refineGsrCandidates, seeded
//    seed + 1000 * index + N: runGsr's seeds, so GSR@N is what
//    `resa-run --json --seed seed+1000*index` gives when K = N, and also when
//    K > N wherever a batch's rows do not depend on each other, as on the CPU).
// An answer is right when it equals the reference answer exactly.
//
// The JSON is rewritten after every problem, so a run cut short keeps what it
// finished; bench/quality/report.py turns one or more
// of them (--shard parts) into the tables (Wilson and paired intervals) and
// the plot of accuracy against generated tokens.
#include "Quality.h"

#include "Problems.h"
#include "TraceCheck.h"
#include "Subcommand.h"
#include "e2e/JsonObject.h"
#include "e2e/PackageFacts.h"

#include "resa/runtime/Generator.h"
#include "resa/runtime/Gsr.h"
#include "resa/runtime/GsrSteps.h"
#include "resa/runtime/KVCapacity.h"
#include "resa/runtime/Tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace resa::bench {
namespace {

using Clock = std::chrono::steady_clock;

const char *kUsage =
    "usage: resa-bench quality --problems FILE.jsonl --tokenizer tokenizer.json\n"
    "                          [--package-dense P] [--package-sparse P] [--package-resa P]\n"
    "                          [--sampling-policy resa] [--samples 5] [--count N] [--seed S]\n"
    "                          [--batch 8] [--shard I/N] [--device auto|cpu|cuda]\n"
    "                          [--budget-seconds S] [--json OUT.json]\n"
    "\n"
    "Answer accuracy of packages compiled with --pipeline=gsr (the pipeline's sampling,\n"
    "template, answer rule and token limit) on held-out problems: greedy accuracy and the\n"
    "greedy trace against the reference solution per policy; for the sampling policy K\n"
    "sampled candidates, pass@1, majority@K, best-of-K (mean token log-probability) and\n"
    "GSR@N (the package's refinement over the first N samples).\n"
    "  --problems FILE      JSON lines {\"problem\", \"answer\", \"solution\"} (tools/train/task.py\n"
    "                       --split test --count N --seed 0)\n"
    "  --tokenizer FILE     the model's tokenizer.json\n"
    "  --package-dense P    a dense package; --package-sparse, --package-resa likewise (at\n"
    "                       least one; each is checked to be the policy its flag names)\n"
    "  --sampling-policy X  dense, sparse or resa: the policy that samples (default resa,\n"
    "                       or the first package given when there is no ReSA package)\n"
    "  --samples K          sampled candidates per problem (default 5; 0: greedy only)\n"
    "  --count N            the file's first N problems (default: all)\n"
    "  --seed S             sampling seed (default 0); problem i uses S + 1000 i ..\n"
    "  --batch B            problems decoded greedily as one batch (default 8)\n"
    "  --shard I/N          only the problems whose index is I modulo N (one GPU each)\n"
    "  --device D           auto (default), cpu or cuda\n"
    "  --budget-seconds S   start no chunk of --batch problems that the last chunk's time\n"
    "                       says would end after S seconds (default 0: no limit)\n"
    "  --json OUT.json      results, rewritten after every problem\n";

const char *const kPolicies[] = {"dense", "sparse", "resa"};
constexpr uint64_t kSeedStride = 1000; // problem i's samples: seed + 1000 i + 0 .. K

struct Options {
  std::string problems, tokenizer, device = "auto", json, samplingPolicy;
  std::vector<std::pair<std::string, std::string>> packages; // (policy, path), in kPolicies order
  int64_t count = -1, samples = 5, batch = 8, shardIndex = 0, shardCount = 1;
  uint64_t seed = 0;
  double budgetSeconds = 0;
};

int64_t integerArg(const std::string &flag, const std::string &text, int64_t min) {
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception &) {
    used = 0;
  }
  if (used != text.size() || text.empty() || v < min)
    throw Error(flag + " takes an integer >= " + std::to_string(min) + ", got '" + text + "'");
  return v;
}

Options parseOptions(int argc, char **argv) {
  Options o;
  std::map<std::string, std::string> byPolicy;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i], inline_;
    bool hasInline = false;
    if (size_t eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_ = a.substr(eq + 1);
      a = a.substr(0, eq);
      hasInline = true;
    }
    auto value = [&]() -> std::string {
      if (hasInline)
        return inline_;
      if (i + 1 >= argc)
        throw Error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--problems")
      o.problems = value();
    else if (a == "--tokenizer")
      o.tokenizer = value();
    else if (a == "--package-dense" || a == "--package-sparse" || a == "--package-resa")
      byPolicy[a.substr(10)] = value();
    else if (a == "--sampling-policy")
      o.samplingPolicy = value();
    else if (a == "--samples")
      o.samples = integerArg(a, value(), 0);
    else if (a == "--count")
      o.count = integerArg(a, value(), 1);
    else if (a == "--seed")
      o.seed = static_cast<uint64_t>(integerArg(a, value(), 0));
    else if (a == "--batch")
      o.batch = integerArg(a, value(), 1);
    else if (a == "--shard") {
      std::string s = value();
      size_t slash = s.find('/');
      if (slash == std::string::npos)
        throw Error("--shard takes I/N, got '" + s + "'");
      o.shardIndex = integerArg(a, s.substr(0, slash), 0);
      o.shardCount = integerArg(a, s.substr(slash + 1), 1);
      if (o.shardIndex >= o.shardCount)
        throw Error("--shard I/N needs I < N, got '" + s + "'");
    } else if (a == "--device")
      o.device = value();
    else if (a == "--budget-seconds")
      o.budgetSeconds = static_cast<double>(integerArg(a, value(), 0));
    else if (a == "--json")
      o.json = value();
    else
      throw Error("unknown option '" + a + "' (resa-bench quality --help)");
  }
  if (o.problems.empty() || o.tokenizer.empty())
    throw Error("--problems and --tokenizer are required");
  for (const char *policy : kPolicies)
    if (byPolicy.count(policy))
      o.packages.emplace_back(policy, byPolicy[policy]);
  if (o.packages.empty())
    throw Error("no package given (--package-dense, --package-sparse or --package-resa)");
  if (o.samplingPolicy.empty())
    o.samplingPolicy = byPolicy.count("resa") ? "resa" : o.packages.front().first;
  if (o.samples > 0 && !byPolicy.count(o.samplingPolicy))
    throw Error("--sampling-policy " + o.samplingPolicy + ": no such package given");
  if (o.samples >= int64_t(kSeedStride))
    throw Error("--samples must be below " + std::to_string(kSeedStride));
  if (o.device != "auto" && o.device != "cpu" && o.device != "cuda")
    throw Error("--device must be auto, cpu or cuda, got '" + o.device + "'");
  return o;
}

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

const char *boolean(bool b) { return b ? "true" : "false"; }

bool isRight(const std::string &answer, const Problem &p) {
  return !answer.empty() && answer == p.answer;
}

// One package: its generator, and the time and tokens of its greedy runs.
struct PolicyRun {
  std::string name, path;
  std::unique_ptr<Package> package;
  PackageFacts facts;
  GsrConfig config;
  std::unique_ptr<Generator> generator;
  int64_t kvPages = 0;
  double greedySeconds = 0;
  int64_t greedyTokens = 0;
  int64_t greedyRight = 0;
};

// The sampling policy's results on one problem.
struct Sampled {
  std::vector<GsrSample> samples;
  GsrSample refined;
  std::string majority, best;
};

struct Totals {
  double samplingSeconds = 0, refineSeconds = 0;
  int64_t sampledTokens = 0, refineTokens = 0;
  int64_t pass1 = 0, majority = 0, best = 0, gsr = 0;
};

class Quality {
public:
  explicit Quality(const Options &o) : o_(o), start_(Clock::now()) {}

  int run() {
    tokenizer_ = loadTokenizer(o_.tokenizer);
    if (!tokenizer_->eosId())
      std::fprintf(stderr, "resa-bench quality: warning: %s names no EOS token (no "
                           "tokenizer_config.json beside it?): every generation runs to the "
                           "token limit\n",
                   o_.tokenizer.c_str());
    for (const Problem &p : readProblems(o_.problems, o_.count))
      if (p.index % o_.shardCount == o_.shardIndex)
        problems_.push_back(p);
    if (problems_.empty())
      throw Error("--shard " + std::to_string(o_.shardIndex) + "/" +
                  std::to_string(o_.shardCount) + " holds none of the problems");
    int64_t longest = 0;
    for (const Problem &p : problems_) {
      prompts_.push_back(tokenizer_->encode(p.problem, /*addSpecial=*/true));
      longest = std::max(longest, static_cast<int64_t>(prompts_.back().size()));
    }
    device_ = resolveDevice(o_.device);
    for (const auto &[policy, path] : o_.packages)
      load(policy, path, longest);
    std::printf("resa-bench quality: %zu problems (shard %lld/%lld), %zu packages on %s, "
                "%s samples %lld, GSR@%lld\n",
                problems_.size(), (long long)o_.shardIndex, (long long)o_.shardCount,
                runs_.size(), deviceName(device_), o_.samplingPolicy.c_str(),
                (long long)o_.samples, (long long)gsrCandidates());
    std::fflush(stdout);

    double lastChunk = 0;
    while (done_ < problems_.size()) {
      if (o_.budgetSeconds > 0 && secondsSince(start_) + lastChunk > o_.budgetSeconds) {
        stoppedByBudget_ = true;
        std::printf("budget: %zu of %zu problems done, the next chunk would end after %.0f s\n",
                    done_, problems_.size(), o_.budgetSeconds);
        break;
      }
      const auto t0 = Clock::now();
      runChunk(done_, std::min(problems_.size(), done_ + static_cast<size_t>(o_.batch)));
      lastChunk = secondsSince(t0);
    }
    write();
    printSummary();
    return 0;
  }

private:
  void load(const std::string &policy, const std::string &path, int64_t longest) {
    PolicyRun r;
    r.name = policy;
    r.path = path;
    r.package = Package::load(path);
    r.facts = readPackageFacts(*r.package);
    if (r.facts.policy != policy)
      throw Error(path + ": a " + r.facts.policy + " package, given as --package-" + policy);
    r.config = gsrConfig(*r.package);
    // A chunk's greedy sequences at once, or the samples and the refinement.
    const int64_t rows = std::min<int64_t>(o_.batch, static_cast<int64_t>(problems_.size()));
    r.kvPages = Generator::pagesFor(*r.package, std::vector<std::vector<int64_t>>(
                                                    rows, std::vector<int64_t>(longest)),
                                    r.config.candidate.maxNewTokens);
    if (samples(policy)) {
      GsrConfig c = r.config;
      c.candidates = std::max(o_.samples, c.candidates);
      r.kvPages = std::max(r.kvPages, gsrPagesFor(*r.package, c, longest));
    }
    r.generator = std::make_unique<Generator>(*r.package, r.kvPages, device_);
    requirePromptFits(r.generator->cache().config(), longest, "a problem is too long");
    runs_.push_back(std::move(r));
  }

  bool samples(const std::string &policy) const {
    return o_.samples > 0 && policy == o_.samplingPolicy;
  }

  const PolicyRun *samplingRun() const {
    for (const PolicyRun &r : runs_)
      if (samples(r.name))
        return &r;
    return nullptr;
  }

  int64_t gsrCandidates() const {
    const PolicyRun *r = samplingRun();
    return r ? std::min(o_.samples, r->config.candidates) : 0;
  }

  // Problems [begin, end): greedy on every policy, then problem by problem the
  // samples; each problem is written out once it is finished.
  void runChunk(size_t begin, size_t end) {
    std::vector<JsonObject> greedy(end - begin);
    std::vector<std::vector<bool>> right(runs_.size(), std::vector<bool>(end - begin));
    for (size_t k = 0; k < runs_.size(); ++k) {
      PolicyRun &r = runs_[k];
      GenerationOptions base = r.config.candidate;
      base.sampling.temperature = 0;
      const auto t0 = Clock::now();
      std::vector<Generation> out = r.generator->generate(
          std::vector<std::vector<int64_t>>(prompts_.begin() + begin, prompts_.begin() + end),
          gsrGenerationOptions(base, r.config, *tokenizer_, 0));
      r.greedySeconds += secondsSince(t0);
      for (size_t j = 0; j < out.size(); ++j) {
        const Problem &p = problems_[begin + j];
        GsrSample s = gsrSample(out[j], *tokenizer_, r.config);
        TraceCheck trace;
        if (!p.solution.empty())
          trace = checkTrace(s.tokens, s.text, p.solution, *tokenizer_);
        right[k][j] = isRight(s.answer, p);
        r.greedyTokens += static_cast<int64_t>(s.tokens.size());
        JsonObject g;
        g.text("answer", s.answer).raw("correct", boolean(right[k][j]));
        g.integer("tokens", static_cast<int64_t>(s.tokens.size())).text("stop", s.stopReason);
        g.integer("lines_right", trace.linesRight);
        g.raw("first_wrong_token", trace.firstWrongToken < 0 || p.solution.empty()
                                       ? "null"
                                       : std::to_string(trace.firstWrongToken));
        greedy[j].raw(r.name, g.str());
      }
    }
    for (size_t j = 0; j < greedy.size(); ++j) {
      const Problem &p = problems_[begin + j];
      JsonObject row;
      row.integer("index", p.index).text("answer", p.answer);
      // The reference trace's lines and tokens (</s> included): where a right
      // trace ends.
      int64_t lines = 0, tokens = 0;
      if (!p.solution.empty()) {
        lines = static_cast<int64_t>(std::count(p.solution.begin(), p.solution.end(), '\n')) +
                (p.solution.back() != '\n');
        tokens = static_cast<int64_t>(tokenizer_->encode(p.solution, false).size()) + 1;
      }
      row.integer("reference_lines", lines).integer("reference_tokens", tokens);
      row.raw("greedy", greedy[j].str());
      if (const PolicyRun *r = samplingRun())
        row.raw("sampled", sampledJson(p, sample(*r, begin + j)));
      for (size_t k = 0; k < runs_.size(); ++k)
        runs_[k].greedyRight += right[k][j];
      rows_.push_back(row.str());
      done_ = begin + j + 1;
      write();
    }
    std::printf("[%.0f s] %zu/%zu problems; greedy right:", secondsSince(start_), done_,
                problems_.size());
    for (const PolicyRun &r : runs_)
      std::printf(" %s %lld", r.name.c_str(), (long long)r.greedyRight);
    if (samplingRun())
      std::printf("; pass@1 %lld, majority@%lld %lld, best-of-%lld %lld, GSR@%lld %lld",
                  (long long)totals_.pass1, (long long)o_.samples, (long long)totals_.majority,
                  (long long)o_.samples, (long long)totals_.best, (long long)gsrCandidates(),
                  (long long)totals_.gsr);
    std::printf("\n");
    std::fflush(stdout);
  }

  Sampled sample(const PolicyRun &r, size_t at) {
    const Problem &p = problems_[at];
    const uint64_t seed = o_.seed + kSeedStride * static_cast<uint64_t>(p.index);
    Sampled s;
    auto t0 = Clock::now();
    s.samples = sampleGsrCandidates(*r.generator, *tokenizer_, p.problem, r.config, o_.samples, seed);
    auto t1 = Clock::now();
    s.refined = refineGsrCandidates(
        *r.generator, *tokenizer_, p.problem,
        std::vector<GsrSample>(s.samples.begin(), s.samples.begin() + gsrCandidates()), r.config,
        seed);
    totals_.samplingSeconds += std::chrono::duration<double>(t1 - t0).count();
    totals_.refineSeconds += secondsSince(t1);
    std::vector<std::string> answers;
    for (const GsrSample &c : s.samples) {
      answers.push_back(c.answer);
      totals_.sampledTokens += static_cast<int64_t>(c.tokens.size());
    }
    totals_.refineTokens += static_cast<int64_t>(s.refined.tokens.size());
    s.majority = majorityVote(answers);
    s.best = std::max_element(s.samples.begin(), s.samples.end(),
                              [](const GsrSample &a, const GsrSample &b) {
                                return a.meanLogProb < b.meanLogProb;
                              })
                 ->answer;
    totals_.pass1 += isRight(s.samples.front().answer, p);
    totals_.majority += isRight(s.majority, p);
    totals_.best += isRight(s.best, p);
    totals_.gsr += isRight(s.refined.answer, p);
    return s;
  }

  std::string sampledJson(const Problem &p, const Sampled &s) const {
    std::string list = "[";
    for (size_t i = 0; i < s.samples.size(); ++i) {
      const GsrSample &c = s.samples[i];
      JsonObject j;
      j.text("answer", c.answer).raw("correct", boolean(isRight(c.answer, p)));
      j.integer("tokens", static_cast<int64_t>(c.tokens.size())).num("mean_logprob", c.meanLogProb);
      list += (i ? ", " : "") + j.str();
    }
    JsonObject j;
    j.raw("samples", list + "]").raw("pass1", boolean(isRight(s.samples.front().answer, p)));
    j.text("majority_answer", s.majority).raw("majority", boolean(isRight(s.majority, p)));
    j.text("best_of_n_answer", s.best).raw("best_of_n", boolean(isRight(s.best, p)));
    j.text("gsr_answer", s.refined.answer).raw("gsr", boolean(isRight(s.refined.answer, p)));
    j.integer("gsr_tokens", static_cast<int64_t>(s.refined.tokens.size()));
    j.num("gsr_mean_logprob", s.refined.meanLogProb);
    return j.str();
  }

  std::string pipelineJson() const {
    const PolicyRun *r = samplingRun();
    const GsrConfig &c = (r ? *r : runs_.front()).config;
    std::string stop = "[";
    for (size_t i = 0; i < c.stop.size(); ++i)
      stop += (i ? ", \"" : "\"") + escape(c.stop[i]) + "\"";
    JsonObject j;
    j.integer("candidates", c.candidates).num("candidate_temperature", c.candidate.sampling.temperature);
    j.num("candidate_top_p", c.candidate.sampling.topP);
    j.integer("max_tokens", c.candidate.maxNewTokens);
    j.num("refine_temperature", c.refine.sampling.temperature);
    j.num("refine_top_p", c.refine.sampling.topP).integer("refine_max_tokens", c.refine.maxNewTokens);
    j.text("answer_rule", c.answer).raw("stop", stop + "]");
    return j.str();
  }

  std::string policyJson(const PolicyRun &r) const {
    const PackageFacts &f = r.facts;
    JsonObject j;
    j.text("name", r.name).text("package", r.path).integer("block_size", f.blockSize);
    if (f.selectsBlocks) {
      j.num("kept_ratio", f.select.keptRatio).integer("min_blocks", f.select.minBlocks);
      j.integer("local_blocks", f.select.localBlocks);
    }
    j.integer("rectify_interval", f.rectifyInterval).integer("rectify_window", f.rectifyWindow);
    j.integer("kv_pages", r.kvPages).num("greedy_seconds", r.greedySeconds);
    j.integer("greedy_tokens", r.greedyTokens).integer("greedy_right", r.greedyRight);
    return j.str();
  }

  void write() const {
    if (o_.json.empty())
      return;
    char date[32];
    std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
    std::string policies = "[";
    for (size_t i = 0; i < runs_.size(); ++i)
      policies += (i ? ",\n  " : "\n  ") + policyJson(runs_[i]);
    std::string rows = "[";
    for (size_t i = 0; i < rows_.size(); ++i)
      rows += (i ? ",\n  " : "\n  ") + rows_[i];
    JsonObject head;
    head.text("benchmark", "resa-bench quality").text("date", date);
    head.text("problems_file", o_.problems).text("tokenizer", o_.tokenizer);
    head.raw("eos", tokenizer_->eosId() ? std::to_string(*tokenizer_->eosId()) : "null");
    head.text("device", deviceName(device_)).integer("seed", static_cast<int64_t>(o_.seed));
    head.integer("samples", o_.samples).integer("gsr_candidates", gsrCandidates());
    head.raw("sampling_policy", samplingRun() ? "\"" + o_.samplingPolicy + "\"" : "null");
    head.integer("batch", o_.batch);
    head.raw("shard", "[" + std::to_string(o_.shardIndex) + ", " + std::to_string(o_.shardCount) + "]");
    head.integer("problems_selected", static_cast<int64_t>(problems_.size()));
    head.integer("problems_done", static_cast<int64_t>(done_));
    head.num("budget_seconds", o_.budgetSeconds).raw("stopped_by_budget", boolean(stoppedByBudget_));
    head.num("seconds", secondsSince(start_));
    head.num("sampling_seconds", totals_.samplingSeconds).num("refine_seconds", totals_.refineSeconds);
    head.integer("sampled_tokens", totals_.sampledTokens).integer("refine_tokens", totals_.refineTokens);
    head.raw("pipeline", pipelineJson()).raw("policies", policies + "]");
    head.raw("problems", rows + "]");
    writeJsonFile(o_.json, head.str());
  }

  void printSummary() const {
    const double n = static_cast<double>(done_);
    auto line = [&](const std::string &what, int64_t right) {
      std::printf("  %-22s %5lld / %zu  %.3f\n", what.c_str(), (long long)right, done_,
                  n > 0 ? static_cast<double>(right) / n : 0.0);
    };
    std::printf("accuracy (%zu problems, %.0f s):\n", done_, secondsSince(start_));
    for (const PolicyRun &r : runs_)
      line("greedy " + r.name, r.greedyRight);
    if (samplingRun()) {
      const std::string k = std::to_string(o_.samples);
      line(o_.samplingPolicy + " pass@1", totals_.pass1);
      line(o_.samplingPolicy + " majority@" + k, totals_.majority);
      line(o_.samplingPolicy + " best-of-" + k, totals_.best);
      line(o_.samplingPolicy + " GSR@" + std::to_string(gsrCandidates()), totals_.gsr);
    }
  }

  const Options &o_;
  const Clock::time_point start_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::vector<Problem> problems_;
  std::vector<std::vector<int64_t>> prompts_;
  Device device_ = Device::Cpu;
  std::vector<PolicyRun> runs_;
  std::vector<std::string> rows_; // one JSON object per finished problem
  Totals totals_;
  size_t done_ = 0;
  bool stoppedByBudget_ = false;
};

} // namespace

int quality(int argc, char **argv) {
  return runSubcommand("quality", kUsage, argc, argv, parseOptions,
                       [](const Options &o) { return Quality(o).run(); });
}

} // namespace resa::bench
