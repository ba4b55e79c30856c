// resa-bench e2e: end-to-end benchmarks of compiled packages on a CUDA device
// (bench/ResaBench.cpp dispatches to it).
//
//   resa-bench e2e [--package DENSE_PKG] [--package-sparse PKG] [--package-resa PKG]
//                  [--shapes 1x4096,1x16384,1x65536,1x131072,1x262144,8x65536]
//                  [--gsr-fork 4@16384,...] [--steps 32] [--warmup 4] [--windows 3]
//                  [--prefill-max 32768] [--prefill-reps 2] [--timeline N]
//                  [--prefill-timeline]
//                  [--budget-seconds S] [--json OUT.json]
//
// For every package (dense, then ReSA, then sparse; each checked to be the
// policy its flag names) and every BATCHxCONTEXT shape, the batch's
// sequences are given CONTEXT tokens of KV without running a prefill: one
// forward per sequence writes every layer from one random device buffer
// (the cache's own writeLayer, so pages, tables and key summaries are what a
// prefill would leave). Then:
//   dense, sparse: `--warmup` decode steps, then `--steps` timed ones in
//     runs of `--chain` (the whole batch per step; cudaDeviceSynchronize
//     before and after each run; ms per step = the run's time / its steps).
//     The steps run as Generator::generate runs them: the next tokens chosen
//     on the device, each step queued (Generator::enqueueChainedDecode, its
//     token ids that choice, copied on the device) before the host takes the
//     tokens of the one before, so that the host's part of a step overlaps
//     the device's; --chain 1 times each step alone, host part included;
//   ReSA: one warm-up window, then `--windows` timed windows, each the
//     schedule's `interval` decode steps (chained) plus the rectification it
//     runs at their end (one per sequence, over the last `window` tokens, as
//     Generator::generate does); ms per step = the window's time / interval.
// GSR (--gsr-fork N@C): one sequence is given C tokens of KV as above and
// forked N + 1 times (KVCache::forkSequence: the forks hold its pages, shared,
// copy-on-write); then `--warmup` and `--steps` rounds, each one decode step
// of the N forks as one batch and one of the last fork alone (same context,
// same run, timed alternately), without rectification for ReSA. Reported:
// tokens/s of each and their ratio (the issue 7 target: N = 4 at >= 3.5x).
// Reported: median, p10 and p90 of ms per decode step (each step gives every
// sequence of the batch one token), and the byte floor of a step
// (PackageFacts.h: weights + KV read + summaries + the rectification's
// amortised read) over the copy ceiling measured at the start of the run
// (cudaMemcpy device to device of 2 GiB, bytes read + written / time, median
// of 10). Prefill: a real prefill of CONTEXT tokens for each context up to
// --prefill-max (one sequence, the median of --prefill-reps after a short
// warm-up prefill), timed as the generator runs it (logits to the host).
// --timeline N: after a decode shape's (or GSR fork's: the candidates')
// timing, N more decode steps (each alone, no rectification) with every
// kernel's, copy's and memset's start and end recorded (KernelTimeline.h):
// the step's kernels, their time and the idle gaps. --prefill-timeline: the
// same for one more prefill of each context after its timing (where a
// prefill's time goes besides attention and GEMMs).
// The JSON is rewritten after every measurement, so a run cut short keeps
// what it measured; --budget-seconds skips (and says so) what starts later.
//
// KV cache sizing: per measurement, not one cache for all shapes at once (a
// shape that does not fit fails alone). A Generator (weights and cache) is
// kept while its cache holds enough pages; otherwise it is replaced by one
// sized for this measurement and the later ones of the package that fit in
// the device memory with it (so the weights are loaded a few times per
// package, not per shape). Prefill gets its own, sized for the largest
// prefill, leaving the rest of the memory to activations.
// Per package: GSR forks (cheap; first, ahead of the budget), decode shapes,
// prefill.
#include "DeviceRandom.h"
#include "E2e.h"
#include "JsonObject.h"
#include "KernelTimeline.h"
#include "PackageFacts.h"
#include "Subcommand.h"

#include "cuda/CudaKVStorage.h"
#include "resa/cuda/DeviceKernel.h"
#include "resa/runtime/Generator.h"

#include <cuda_runtime_api.h>
#include <nvtx3/nvToolsExt.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace resa;
using bench::fmt;
using bench::JsonObject;
using bench::PackageFacts;
using bench::StepBytes;
using gpu::checkCuda;

const char *kUsage =
    "usage: resa-bench e2e [--package DENSE_PKG] [--package-sparse PKG] [--package-resa PKG]\n"
    "                      [--shapes BxL,...] [--gsr-fork N@C,...] [--steps N] [--warmup N]\n"
    "                      [--windows N] [--prefill-max L] [--prefill-reps N] [--timeline N]\n"
    "                      [--prefill-timeline]\n"
    "                      [--budget-seconds S] [--json OUT.json]\n"
    "\n"
    "Decode ms per step (dense, sparse, ReSA with its rectification amortised), GSR\n"
    "candidates' tokens/s against one sequence's, prefill time, and the byte floor per\n"
    "step over the copy ceiling measured in the same run. A KV cache is sized per\n"
    "measurement (a shape that does not fit fails alone).\n"
    "At least one package. The KV of each BATCHxCONTEXT shape is filled with random values\n"
    "directly (no long prefill).\n"
    "  --package P          a dense package (resa-compile --attention=dense)\n"
    "  --package-sparse P   a sparse package (--attention=sparse)\n"
    "  --package-resa P     a ReSA package (--attention=resa)\n"
    "  --shapes             batch x context list (default "
    "1x4096,1x16384,1x65536,1x131072,1x262144,8x65536)\n"
    "  --gsr-fork N@C,...   GSR candidates: one sequence of C tokens forked into N sharing\n"
    "                       its pages, decoded as one batch, against one sequence alone at\n"
    "                       the same context: tokens/s of each and the ratio (default: none;\n"
    "                       e.g. 4@16384)\n"
    "  --steps N            timed decode steps, dense, sparse and GSR (default 32)\n"
    "  --chain N            dense and sparse steps are timed in runs of N chained steps, as\n"
    "                       generate() runs them (default 8; 1: each step alone)\n"
    "  --warmup N           untimed decode steps first (default 4)\n"
    "  --windows N          timed ReSA windows of `interval` steps + rectification (default 3)\n"
    "  --prefill-max L      prefill is timed at the contexts up to L (default 32768; 0: none)\n"
    "  --prefill-reps N     timed prefills per context, median reported (default 2)\n"
    "  --timeline N         after each decode shape (and GSR fork: the candidates' steps),\n"
    "                       N more steps with every kernel's (and copy's) start and end\n"
    "                       recorded (CUPTI): kernels, their time and the running time each\n"
    "                       adds after the one before it ended, the idle gaps between them,\n"
    "                       the launch latency and the tail to the host's return, per step\n"
    "                       (default 0: none)\n"
    "  --prefill-timeline   the same for one more prefill after each prefill's timing\n"
    "  --budget-seconds S   start no measurement after S seconds (default 0: no limit)\n"
    "  --json OUT.json      results, rewritten after each measurement\n";

struct BatchContext {
  int64_t batch, context;
};

struct Options {
  std::vector<std::pair<std::string, std::string>> packages; // (policy, path), in run order
  std::vector<BatchContext> shapes;
  std::vector<BatchContext> gsrForks; // batch = N candidates
  int64_t steps = 32, warmup = 4, windows = 3, prefillMax = 32768, prefillReps = 2;
  int64_t timelineSteps = 0;
  bool prefillTimeline = false;
  int64_t chain = 8; // decode steps a timed run chains
  double budgetSeconds = 0;
  std::string json;
};

int64_t positive(const std::string &flag, const std::string &text, bool zeroAllowed = false) {
  size_t used = 0;
  long long v = -1;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception &) {
    used = 0;
  }
  if (used != text.size() || v < 0 || (v == 0 && !zeroAllowed))
    throw Error(flag + " takes a " + (zeroAllowed ? "non-negative" : "positive") +
                " integer, got '" + text + "'");
  return v;
}

// A comma-separated list of BATCH<sep>CONTEXT items, e.g. 1x4096,8x65536
// (--shapes) or 4@16384 (--gsr-fork: N candidates of a CONTEXT prompt).
std::vector<BatchContext> parsePairs(const std::string &flag, const std::string &text, char sep,
                                     const std::string &example) {
  std::vector<BatchContext> pairs;
  size_t at = 0;
  while (at <= text.size()) {
    size_t comma = text.find(',', at);
    std::string item = text.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    size_t x = item.find(sep);
    if (x == std::string::npos)
      throw Error(flag + " takes items like " + example + ", got '" + item + "'");
    pairs.push_back({positive(flag, item.substr(0, x)), positive(flag, item.substr(x + 1))});
    if (comma == std::string::npos)
      break;
    at = comma + 1;
  }
  return pairs;
}

std::vector<BatchContext> parseShapes(const std::string &text) {
  return parsePairs("--shapes", text, 'x', "1x4096,8x65536 (BATCHxCONTEXT)");
}

Options parseOptions(int argc, char **argv) {
  Options o;
  o.shapes = parseShapes("1x4096,1x16384,1x65536,1x131072,1x262144,8x65536");
  std::map<std::string, std::string> byPolicy;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        throw Error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--package")
      byPolicy["dense"] = value();
    else if (a == "--package-sparse")
      byPolicy["sparse"] = value();
    else if (a == "--package-resa")
      byPolicy["resa"] = value();
    else if (a == "--shapes")
      o.shapes = parseShapes(value());
    else if (a == "--gsr-fork")
      o.gsrForks = parsePairs(a, value(), '@', "4@16384 (N@CONTEXT)");
    else if (a == "--steps")
      o.steps = positive(a, value());
    else if (a == "--chain")
      o.chain = positive(a, value());
    else if (a == "--warmup")
      o.warmup = positive(a, value(), true);
    else if (a == "--windows")
      o.windows = positive(a, value());
    else if (a == "--prefill-max")
      o.prefillMax = positive(a, value(), true);
    else if (a == "--prefill-reps")
      o.prefillReps = positive(a, value());
    else if (a == "--timeline")
      o.timelineSteps = positive(a, value(), true);
    else if (a == "--prefill-timeline")
      o.prefillTimeline = true;
    else if (a == "--budget-seconds")
      o.budgetSeconds = static_cast<double>(positive(a, value(), true));
    else if (a == "--json")
      o.json = value();
    else
      throw Error("unknown option '" + a + "' (resa-bench e2e --help)");
  }
  // Dense first (the reference), then ReSA (the issue's target), sparse last.
  for (const char *policy : {"dense", "resa", "sparse"})
    if (byPolicy.count(policy))
      o.packages.emplace_back(policy, byPolicy[policy]);
  if (o.packages.empty())
    throw Error("no package given (--package, --package-sparse or --package-resa)");
  if ((o.timelineSteps > 0 || o.prefillTimeline) && !bench::timelineAvailable())
    throw Error(std::string(o.timelineSteps > 0 ? "--timeline" : "--prefill-timeline") +
                ": this resa-bench was built without CUPTI");
  return o;
}

// --- Statistics and timing.

struct Summary {
  double median = NAN, p10 = NAN, p90 = NAN, min = NAN;
  int64_t samples = 0;
};

// Linear interpolation between order statistics.
double quantile(const std::vector<double> &sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

Summary summarize(std::vector<double> v) {
  Summary s;
  if (v.empty())
    return s;
  std::sort(v.begin(), v.end());
  s.median = quantile(v, 0.5);
  s.p10 = quantile(v, 0.1);
  s.p90 = quantile(v, 0.9);
  s.min = v.front();
  s.samples = static_cast<int64_t>(v.size());
  return s;
}

double elapsedMs(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
      .count();
}

// Wall time of f() with the device idle before and finished after.
// Times f between device synchronisations, inside an NVTX range named
// `range` (nearly free without a tool attached): Nsight Compute can then
// profile the kernels of one kind of call only (bench/e2e/device_profile.sh).
double timedMs(const char *range, const std::function<void()> &f) {
  checkCuda(cudaDeviceSynchronize(), "synchronising before a timed call");
  nvtxRangePushA(range);
  const auto t0 = std::chrono::steady_clock::now();
  f();
  checkCuda(cudaDeviceSynchronize(), "synchronising after a timed call");
  const double ms = elapsedMs(t0);
  nvtxRangePop();
  return ms;
}

// Device-to-device copy bandwidth, bytes read + written per second.
double copyCeiling() {
  const size_t bytes = size_t(2) << 30;
  void *a = nullptr, *b = nullptr;
  checkCuda(cudaMalloc(&a, bytes), "allocating the copy-ceiling source (2 GiB)");
  checkCuda(cudaMalloc(&b, bytes), "allocating the copy-ceiling destination (2 GiB)");
  checkCuda(bench::fillRandom16(a, bytes / 2, false, 7, nullptr), "filling the copy source");
  cudaEvent_t e0, e1;
  checkCuda(cudaEventCreate(&e0), "cudaEventCreate");
  checkCuda(cudaEventCreate(&e1), "cudaEventCreate");
  std::vector<double> seconds;
  for (int i = 0; i < 13; ++i) {
    checkCuda(cudaEventRecord(e0, nullptr), "cudaEventRecord");
    checkCuda(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, nullptr), "cudaMemcpyAsync");
    checkCuda(cudaEventRecord(e1, nullptr), "cudaEventRecord");
    checkCuda(cudaEventSynchronize(e1), "cudaEventSynchronize");
    float ms = 0;
    checkCuda(cudaEventElapsedTime(&ms, e0, e1), "cudaEventElapsedTime");
    if (i >= 3) // three warm-up copies
      seconds.push_back(ms * 1e-3);
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  cudaFree(a);
  cudaFree(b);
  return 2.0 * static_cast<double>(bytes) / summarize(seconds).median;
}

// --- Results.

struct Row {
  std::string policy, kind; // kind: "decode", "gsr-fork", "prefill" or "load"
  int64_t batch = 0, context = 0; // gsr-fork: batch = N candidates
  std::string status = "ok"; // or "error: ...", "skipped: ..."
  Summary ms;                // per decode step (ReSA: amortised over windows), or per prefill
  StepBytes bytes;           // decode, gsr-fork
  double stepMs = NAN;       // ReSA: median decode step alone
  double rectifyMs = NAN;    // ReSA: median of one window's rectifications (all sequences)
  Summary single;            // gsr-fork: per decode step of one sequence alone
  int64_t kvPages = 0;       // pages of the KV cache it ran with
  bench::Timeline timeline;  // --timeline, --prefill-timeline: JSON and table (empty: none)
  // Tokens per second of the median step: one per sequence of the batch.
  double tokensPerS() const { return batch * 1e3 / ms.median; }
  // gsr-fork: the same for the single sequence, and the ratio.
  double singleTokensPerS() const { return 1e3 / single.median; }
  double gsrRatio() const { return tokensPerS() / singleTokensPerS(); }
};

class Report {
public:
  Report(const Options &o, double ceiling) : o_(o), ceiling_(ceiling) {}
  void addPackage(const JsonObject &p) {
    packages_.push_back(p.str());
    write();
  }
  void add(Row r) {
    std::fprintf(stderr, "resa-bench: %s\n", line(r).c_str());
    rows_.push_back(std::move(r));
    write();
  }
  double floorMs(const StepBytes &b) const { return b.total() / ceiling_ * 1e3; }
  void printTable() const {
    std::printf("copy ceiling %.3f TB/s (read + write)\n", ceiling_ / 1e12);
    std::printf("| policy | kind | batch | context | median ms | p10-p90 ms | tokens/s | floor ms |"
                " %% of ceiling | status |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for (const Row &r : rows_) {
      if (r.status != "ok") {
        std::printf("| %s | %s | %lld | %lld | - | - | - | - | - | %s |\n", r.policy.c_str(),
                    r.kind.c_str(), (long long)r.batch, (long long)r.context, r.status.c_str());
        continue;
      }
      const bool decode = r.kind != "prefill";
      const double perS =
          r.ms.median > 0 ? (decode ? r.tokensPerS() : r.context * 1e3 / r.ms.median) : NAN;
      std::printf("| %s | %s | %lld | %lld | %.3f | %.3f-%.3f | %.1f | %s | %s | ok |\n",
                  r.policy.c_str(), r.kind.c_str(), (long long)r.batch, (long long)r.context,
                  r.ms.median, r.ms.p10, r.ms.p90, perS,
                  decode ? fmt("%.3f", floorMs(r.bytes)).c_str() : "-",
                  decode ? fmt("%.0f%%", 100 * floorMs(r.bytes) / r.ms.median).c_str() : "-");
    }
    bool gsrHeader = false;
    for (const Row &r : rows_) {
      if (r.kind != "gsr-fork" || r.status != "ok")
        continue;
      if (!gsrHeader)
        std::printf("\nGSR: N forks of one context decoded as one batch vs one sequence alone\n"
                    "| policy | N | context | ms/step N | tokens/s N | ms/step 1 | tokens/s 1 |"
                    " ratio |\n|---|---|---|---|---|---|---|---|\n");
      gsrHeader = true;
      std::printf("| %s | %lld | %lld | %.3f | %.1f | %.3f | %.1f | %.2fx |\n", r.policy.c_str(),
                  (long long)r.batch, (long long)r.context, r.ms.median, r.tokensPerS(),
                  r.single.median, r.singleTokensPerS(), r.gsrRatio());
    }
    for (const Row &r : rows_)
      if (!r.timeline.table.empty())
        std::printf("\nTimeline, %s %s %lldx%lld (CUPTI, kernels as they ran)\n%s",
                    r.policy.c_str(), r.kind.c_str(), (long long)r.batch, (long long)r.context,
                    r.timeline.table.c_str());
  }

private:
  std::string line(const Row &r) const {
    std::string s = r.policy + " " + r.kind + " " + std::to_string(r.batch) + "x" +
                    std::to_string(r.context) + ": ";
    if (r.status != "ok")
      return s + r.status;
    s += fmt("%.3f ms", r.ms.median) + fmt(" (p10 %.3f", r.ms.p10) + fmt(", p90 %.3f)", r.ms.p90);
    if (r.kind != "prefill")
      s += fmt(", floor %.3f ms", floorMs(r.bytes)) +
           fmt(" (%.0f%% of the ceiling)", 100 * floorMs(r.bytes) / r.ms.median);
    if (r.kind == "gsr-fork")
      s += fmt("; one sequence alone %.3f ms", r.single.median) +
           fmt(", tokens/s %.1f", r.tokensPerS()) + fmt(" vs %.1f", r.singleTokensPerS()) +
           fmt(": %.2fx", r.gsrRatio());
    return s;
  }
  std::string rowJson(const Row &r) const {
    JsonObject j;
    j.text("policy", r.policy).text("kind", r.kind).integer("batch", r.batch);
    j.integer("context", r.context).text("status", r.status);
    if (r.status != "ok")
      return j.str();
    j.num("median_ms", r.ms.median).num("p10_ms", r.ms.p10).num("p90_ms", r.ms.p90);
    j.num("min_ms", r.ms.min).integer("samples", r.ms.samples).integer("kv_pages", r.kvPages);
    if (r.kind == "prefill")
      return j.num("tokens_per_s", r.context * 1e3 / r.ms.median).str();
    const double floor = floorMs(r.bytes);
    j.num("tokens_per_s", r.tokensPerS());
    if (r.kind == "gsr-fork") {
      j.integer("n", r.batch).num("single_median_ms", r.single.median);
      j.num("single_p10_ms", r.single.p10).num("single_p90_ms", r.single.p90);
      j.num("single_tokens_per_s", r.singleTokensPerS()).num("ratio", r.gsrRatio());
    }
    j.num("bytes", r.bytes.total()).num("bytes_weights", r.bytes.weights);
    j.num("bytes_kv", r.bytes.kv).num("bytes_summaries", r.bytes.summaries);
    j.num("bytes_rectify", r.bytes.rectify).num("floor_ms", floor);
    j.num("fraction_of_ceiling", floor / r.ms.median);
    if (std::isfinite(r.stepMs))
      j.num("decode_step_median_ms", r.stepMs).num("rectify_ms_per_window", r.rectifyMs);
    if (!r.timeline.json.empty())
      j.raw("timeline", r.timeline.json);
    return j.str();
  }
  void write() const {
    if (o_.json.empty())
      return;
    char date[16];
    const std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%d", std::localtime(&now));
    cudaDeviceProp prop{};
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&prop, dev) != cudaSuccess)
      std::snprintf(prop.name, sizeof prop.name, "unknown");
    JsonObject head;
    head.text("tool", "resa-bench e2e").text("date", date).text("device", prop.name);
    head.num("copy_ceiling_tbps", ceiling_ / 1e12);
    head.integer("steps", o_.steps).integer("warmup", o_.warmup).integer("chain", o_.chain);
    head.integer("windows", o_.windows).integer("prefill_max", o_.prefillMax);
    std::string forks;
    for (const BatchContext &f : o_.gsrForks)
      forks += (forks.empty() ? "" : ",") + std::to_string(f.batch) + "@" +
               std::to_string(f.context);
    head.text("gsr_fork", forks);
    head.text("method",
              "KV filled directly (random bf16/f16, one forward per sequence writing every "
              "layer); decode: wall time of runs of `chain` steps with cudaDeviceSynchronize around "
              "each, after warm-up, ms per step = run / steps, tokens chosen on the device "
              "(greedy) and each step queued before the host reads the one before (its token ids "
              "copied on the device), as generate() does; ReSA: windows of `interval` such steps "
              "+ their rectification (the batch in one call), ms per step = window / interval; floor = (weights read + KV "
              "read + key summaries + rectification's full KV read / interval) / copy ceiling, the "
              "weights read being those decode reads whole once and a row a sequence of those it reads "
              "by token or position (the embedding table, rotary caches); ceiling = "
              "cudaMemcpy D2D 2 GiB, read + write bytes, median of 10, same run; prefill: "
              "Generator::prefill, logits to the host included; gsr-fork: one sequence's KV "
              "filled, forked into N sharing its pages (copy-on-write) plus one more, decode "
              "steps of the N as one batch and of the one alone timed alternately (no "
              "rectification), floor = weights + the shared context's KV (and summaries) read "
              "once");
    std::string packages = "[", rows = "[";
    for (size_t i = 0; i < packages_.size(); ++i)
      packages += (i ? ",\n  " : "\n  ") + packages_[i];
    for (size_t i = 0; i < rows_.size(); ++i)
      rows += (i ? ",\n  " : "\n  ") + rowJson(rows_[i]);
    head.raw("packages", packages + "]").raw("results", rows + "]");
    bench::writeJsonFile(o_.json, head.str());
  }

  const Options &o_;
  double ceiling_;
  std::vector<std::string> packages_;
  std::vector<Row> rows_;
};

// --- One package.

class PackageBench {
public:
  PackageBench(const Options &o, Report &report, std::chrono::steady_clock::time_point start)
      : o_(o), report_(report), start_(start) {}

  void run(const std::string &policy, const std::string &path) {
    JsonObject info;
    info.text("policy", policy).text("path", path);
    if (overBudget()) // loading alone takes a while: weights and pools
      return notLoaded(policy, info, budgetStatus());
    try {
      package_ = Package::load(path);
      facts_ = bench::readPackageFacts(*package_);
      if (facts_.policy != policy)
        throw Error(path + " is a " + facts_.policy + " package, given as the " + policy + " one");
    } catch (const std::exception &e) {
      package_.reset();
      return notLoaded(policy, info, std::string("error: ") + e.what());
    }
    info.integer("layers", facts_.layers).integer("kv_heads", facts_.kvHeads);
    info.integer("head_dim", facts_.headDim).integer("block_size", facts_.blockSize);
    info.integer("weight_bytes", facts_.weightBytes).integer("kv_page_bytes", pageBytes());
    info.integer("decode_whole_weight_bytes", facts_.decodeWholeBytes)
        .integer("decode_row_weight_bytes", facts_.decodeRowBytes);
    if (facts_.selectsBlocks)
      info.num("kept_ratio", facts_.select.keptRatio)
          .integer("min_blocks", facts_.select.minBlocks)
          .integer("local_blocks", facts_.select.localBlocks);
    if (facts_.rectifyInterval > 0)
      info.integer("rectify_interval", facts_.rectifyInterval)
          .integer("rectify_window", facts_.rectifyWindow);
    report_.addPackage(info);
    policy_ = policy;

    // GSR forks and decode shapes: one cache while it is large enough.
    std::vector<int64_t> needs;
    for (const BatchContext &f : o_.gsrForks)
      needs.push_back(gsrPages(f));
    for (const BatchContext &s : o_.shapes)
      needs.push_back(s.batch * pagesFor(s.context + decodeExtra()));
    for (size_t i = 0; i < o_.gsrForks.size(); ++i)
      measure(policy, "gsr-fork", o_.gsrForks[i], [&](Row &r) {
        r.kvPages = generatorFor(needs, i);
        gsrFork(r);
      });
    for (size_t i = 0; i < o_.shapes.size(); ++i)
      measure(policy, "decode", o_.shapes[i], [&](Row &r) {
        r.kvPages = generatorFor(needs, o_.gsrForks.size() + i);
        decode(r);
      });
    releaseRows(); // prefill's activations may need the memory
    // Prefill: a cache for the largest prefill alone, the rest of the memory
    // left to activations.
    gen_.reset();
    const std::vector<int64_t> contexts = prefillContexts();
    const std::vector<int64_t> prefillNeed = {contexts.empty() ? 0 : pagesFor(contexts.back())};
    int64_t warmLoad = -1; // the load whose generator has run its warm-up prefill
    for (int64_t context : contexts)
      measure(policy, "prefill", {1, context}, [&](Row &r) {
        r.kvPages = generatorFor(prefillNeed, 0);
        if (warmLoad != loads_) { // the first prefill sets up what later ones reuse
          prefill(std::min<int64_t>(context, 128));
          warmLoad = loads_;
        }
        std::vector<double> ms;
        for (int64_t i = 0; i < o_.prefillReps; ++i)
          ms.push_back(timedMs("resa-prefill", [&] { prefill(context); }));
        r.ms = summarize(ms);
        if (o_.prefillTimeline)
          r.timeline = bench::recordTimeline(1, [&] { prefill(context); });
      });
    gen_.reset();
    package_.reset();
  }

private:
  // Device memory kept free of weights and cache when a cache is sized for
  // later measurements too: decode's activations, the allocator's cache,
  // cuBLASLt's workspace, the random KV rows.
  static constexpr double kReserveBytes = 16.0 * (1 << 30);

  // Bytes of one page: K and V of every slot, and kmin and kmax where the
  // package selects blocks (a dense package's cache keeps none), every
  // layer, 16-bit.
  int64_t pageBytes() const {
    const int64_t rows = 2 * facts_.blockSize + (facts_.selectsBlocks ? 2 : 0);
    return facts_.layers * facts_.kvHeads * facts_.headDim * 2 * rows;
  }
  int64_t pagesFor(int64_t tokens) const {
    return (tokens + facts_.blockSize - 1) / facts_.blockSize;
  }
  // Tokens a decode measurement appends to each sequence, plus one.
  int64_t decodeExtra() const {
    const int64_t windows = (o_.windows + 1) * std::max<int64_t>(facts_.rectifyInterval, 1);
    return std::max(o_.warmup + o_.steps, windows) + o_.timelineSteps + 1;
  }
  // The prompt's pages, and for each of the N + 1 forks its appended tokens'
  // pages plus the copy of a partial last page.
  int64_t gsrPages(BatchContext f) const {
    return pagesFor(f.context) + (f.batch + 1) * (pagesFor(o_.warmup + o_.steps) + 1);
  }

  // The generator for measurement i of a phase whose measurements need
  // needs[...] pages: the current one when its cache is large enough, else a
  // new one sized for measurement i and the largest later one of the phase
  // that fits in the device memory beside the weights (kReserveBytes kept
  // free). Returns its cache's pages.
  int64_t generatorFor(const std::vector<int64_t> &needs, size_t i) {
    if (gen_ && gen_->cache().numPages() >= needs[i])
      return gen_->cache().numPages();
    gen_.reset(); // its memory first
    size_t freeBytes = 0, total = 0;
    checkCuda(cudaMemGetInfo(&freeBytes, &total), "cudaMemGetInfo");
    const double room =
        static_cast<double>(freeBytes) - static_cast<double>(facts_.weightBytes) - kReserveBytes;
    int64_t pages = needs[i];
    for (size_t j = i + 1; j < needs.size(); ++j)
      if (needs[j] > pages && static_cast<double>(needs[j]) * pageBytes() <= room)
        pages = needs[j];
    const auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<Generator> gen;
    try {
      gen = std::make_unique<Generator>(*package_, pages, Device::Cuda);
      checkCuda(cudaDeviceSynchronize(), "loading " + package_->path());
    } catch (const std::exception &e) {
      cudaGetLastError(); // a failed allocation is not sticky: later launch checks must not see it
      throw Error("loading with a KV cache of " + std::to_string(pages) + " pages (" +
                  std::to_string(pages * pageBytes() >> 30) + " GiB): " + e.what());
    }
    auto *storage = dynamic_cast<CudaKVStorage *>(&gen->cache().storage());
    if (!storage)
      throw Error("the generator's KV cache is not on the CUDA device");
    f16_ = storage->dtype() == gpu::KVDType::F16; // one type per package (rows_ follow it)
    size_t freeAfter = 0;
    checkCuda(cudaMemGetInfo(&freeAfter, &total), "cudaMemGetInfo");
    std::fprintf(stderr,
                 "resa-bench: %s: loaded with a KV cache of %lld pages in %.1f s (%.1f GB of "
                 "device memory)\n",
                 policy_.c_str(), static_cast<long long>(pages), elapsedMs(t0) * 1e-3,
                 (static_cast<double>(freeBytes) - static_cast<double>(freeAfter)) * 1e-9);
    gen_ = std::move(gen);
    ++loads_;
    return pages;
  }

  std::vector<int64_t> prefillContexts() const {
    std::vector<int64_t> contexts;
    for (const BatchContext &s : o_.shapes)
      if (s.context <= o_.prefillMax)
        contexts.push_back(s.context);
    std::sort(contexts.begin(), contexts.end());
    contexts.erase(std::unique(contexts.begin(), contexts.end()), contexts.end());
    return contexts;
  }

  // A package that is not measured: said in its entry and as a "load" row.
  void notLoaded(const std::string &policy, JsonObject &info, const std::string &status) {
    report_.addPackage(info.text("error", status));
    Row r;
    r.policy = policy;
    r.kind = "load";
    r.status = status;
    report_.add(r);
  }

  bool overBudget() const {
    return o_.budgetSeconds > 0 && elapsedMs(start_) > o_.budgetSeconds * 1e3;
  }
  std::string budgetStatus() const {
    return "skipped: past --budget-seconds " + std::to_string(int64_t(o_.budgetSeconds));
  }

  // One measurement: skipped past the budget; failures recorded, not fatal.
  void measure(const std::string &policy, const char *kind, BatchContext s,
               const std::function<void(Row &)> &body) {
    Row r;
    r.policy = policy;
    r.kind = kind;
    r.batch = s.batch;
    r.context = s.context;
    if (overBudget()) {
      r.status = budgetStatus();
    } else {
      try {
        body(r);
      } catch (const std::exception &e) {
        r.status = std::string("error: ") + e.what();
      }
    }
    report_.add(r);
  }

  // A token id inside the vocabulary (0 until a call has shown its size).
  int64_t token(int64_t step, int64_t b) const {
    const int64_t v = gen_->vocabSize();
    return v > 0 ? (step * 7919 + b * 104729 + 1) % v : 0;
  }

  // The device rows every fill writes: [context][kvHeads][headDim] random
  // values in the pools' type, grown as contexts grow.
  const void *fillRows(int64_t context) {
    const size_t n = static_cast<size_t>(context * facts_.kvHeads * facts_.headDim);
    if (n > rowsElements_) {
      releaseRows();
      checkCuda(cudaMalloc(&rows_, n * 2),
                "allocating " + std::to_string(n * 2 >> 20) + " MiB of random KV rows");
      rowsElements_ = n;
      checkCuda(bench::fillRandom16(rows_, n, f16_, 2026, nullptr), "filling the KV rows");
      checkCuda(cudaDeviceSynchronize(), "filling the KV rows");
    }
    return rows_;
  }
  void releaseRows() {
    if (rows_) {
      cudaDeviceSynchronize(); // the cache's stream may still read them
      cudaFree(rows_);
    }
    rows_ = nullptr;
    rowsElements_ = 0;
  }

  // New sequences holding `context` tokens of random KV: one forward each,
  // every layer written (pages, tables and key summaries as after a prefill).
  std::vector<int64_t> filledSequences(BatchContext s) {
    const void *rows = fillRows(s.context);
    KVCache &cache = gen_->cache();
    std::vector<int64_t> ids;
    for (int64_t b = 0; b < s.batch; ++b) {
      const int64_t id = nextId_++;
      cache.addSequence(id);
      ids.push_back(id);
      try {
        cache.beginForward({id}, {0}, {s.context});
        for (int64_t l = 0; l < facts_.layers; ++l)
          cache.writeLayer(static_cast<int>(l), rows, rows);
      } catch (...) {
        try {
          if (cache.inForward())
            cache.endForward();
        } catch (const Error &) { // the layers left unwritten: the failure above is the one
        }
        removeAll(ids);
        throw;
      }
      cache.endForward();
    }
    checkCuda(cudaDeviceSynchronize(), "filling the KV cache");
    return ids;
  }

  void removeAll(const std::vector<int64_t> &ids) {
    for (int64_t id : ids)
      if (gen_->cache().hasSequence(id))
        gen_->cache().removeSequence(id);
  }

  // Greedy choice for `rows` sequences (their draws unused).
  static TokenRequest greedyFor(size_t rows) {
    TokenRequest greedy;
    greedy.draws.assign(rows, 0.0);
    return greedy;
  }

  // One decode step alone, as decodeAndChoose runs it (the bench feeds its
  // own tokens, so the choice is discarded).
  void greedyStep(const std::vector<int64_t> &ids, const std::vector<int64_t> &tokens) {
    gen_->decodeAndChoose(ids, tokens, greedyFor(ids.size()));
  }

  void decode(Row &r) {
    const std::vector<int64_t> ids = filledSequences({r.batch, r.context});
    std::vector<std::vector<int64_t>> history(ids.size()); // each step's tokens
    int64_t step = 0;
    // n decode steps as Generator::generate runs them: each sequence's next
    // token chosen (greedily) where the logits are, only the tokens coming
    // back, each step after the first queued (chained: its tokens the
    // choice of the step before, on the device) before the host takes the
    // tokens of the one before. The first step decodes the bench's tokens.
    const TokenRequest greedy = greedyFor(ids.size());
    auto decodeSteps = [&](int64_t n) {
      std::vector<int64_t> tokens;
      for (size_t b = 0; b < ids.size(); ++b)
        tokens.push_back(token(step, static_cast<int64_t>(b)));
      gen_->enqueueDecode(ids, tokens, greedy);
      for (int64_t i = 0; i < n; ++i) {
        if (i + 1 < n)
          gen_->enqueueChainedDecode(ids, greedy);
        const TokenChoice c = gen_->takeDecoded();
        for (size_t b = 0; b < ids.size(); ++b) {
          history[b].push_back(tokens[b]);
          tokens[b] = c.tokens[b];
        }
      }
      step += n;
    };
    try {
      r.bytes = bench::decodeStepBytes(facts_, r.batch, r.context);
      if (facts_.rectifyInterval > 0) {
        // As Generator::generate: each sequence rectifies its last `window`
        // tokens once it has decoded `interval` since the last time; the
        // batch's sequences (one length) in one call.
        auto rectifyAll = [&] {
          std::vector<std::vector<int64_t>> windows;
          for (size_t b = 0; b < ids.size(); ++b)
            windows.emplace_back(history[b].end() - facts_.rectifyWindow, history[b].end());
          gen_->rectify(ids, gen_->cache().length(ids[0]) - facts_.rectifyWindow, windows);
        };
        std::vector<double> perStep, steps, rectify;
        for (int64_t w = 0; w <= o_.windows; ++w) { // window 0 warms up
          const double windowMs =
              timedMs("resa-decode", [&] { decodeSteps(facts_.rectifyInterval); });
          const double rectifyMs = timedMs("resa-rectify", rectifyAll);
          if (w > 0) {
            steps.push_back(windowMs / static_cast<double>(facts_.rectifyInterval));
            rectify.push_back(rectifyMs);
            perStep.push_back((windowMs + rectifyMs) / static_cast<double>(facts_.rectifyInterval));
          }
        }
        r.ms = summarize(perStep);
        r.stepMs = summarize(steps).median;
        r.rectifyMs = summarize(rectify).median;
      } else {
        if (o_.warmup > 0)
          decodeSteps(o_.warmup);
        std::vector<double> ms;
        for (int64_t done = 0; done < o_.steps; done += o_.chain) {
          const int64_t n = std::min(o_.chain, o_.steps - done);
          ms.push_back(timedMs("resa-decode", [&] { decodeSteps(n); }) / static_cast<double>(n));
        }
        r.ms = summarize(ms);
      }
      if (o_.timelineSteps > 0)
        r.timeline =
            bench::recordTimeline(static_cast<int>(o_.timelineSteps), [&] { decodeSteps(1); });
    } catch (...) {
      removeAll(ids);
      throw;
    }
    removeAll(ids);
  }

  // GSR: N candidates forked from one prompt of r.context tokens (sharing its
  // pages) decoded as one batch, against one more fork decoded alone; the
  // steps alternate, so both see the same device state.
  void gsrFork(Row &r) {
    const std::vector<int64_t> prompt = filledSequences({1, r.context});
    std::vector<int64_t> ids = prompt; // every sequence made here, to remove
    try {
      KVCache &cache = gen_->cache();
      for (int64_t i = 0; i <= r.batch; ++i) {
        ids.push_back(nextId_++);
        cache.forkSequence(prompt[0], ids.back());
      }
      const std::vector<int64_t> candidates(ids.begin() + 1, ids.end() - 1);
      const std::vector<int64_t> single = {ids.back()};
      int64_t step = 0;
      auto decodeStep = [&](const std::vector<int64_t> &seqs) {
        std::vector<int64_t> tokens;
        for (size_t b = 0; b < seqs.size(); ++b)
          tokens.push_back(token(step, static_cast<int64_t>(b)));
        greedyStep(seqs, tokens);
        ++step;
      };
      for (int64_t i = 0; i < o_.warmup; ++i) {
        decodeStep(candidates);
        decodeStep(single);
      }
      std::vector<double> many, one;
      for (int64_t i = 0; i < o_.steps; ++i) {
        many.push_back(timedMs("resa-gsr-candidates", [&] { decodeStep(candidates); }));
        one.push_back(timedMs("resa-gsr-single", [&] { decodeStep(single); }));
      }
      r.ms = summarize(many);
      r.single = summarize(one);
      if (o_.timelineSteps > 0)
        r.timeline = bench::recordTimeline(static_cast<int>(o_.timelineSteps),
                                           [&] { decodeStep(candidates); });
      // The floor reads the shared prompt once (the candidates' own tokens
      // are a few pages); these steps do not rectify.
      r.bytes = bench::decodeStepBytes(facts_, 1, r.context);
      r.bytes.rectify = 0;
    } catch (...) {
      removeAll(ids);
      throw;
    }
    removeAll(ids);
  }

  void prefill(int64_t context) {
    const int64_t id = nextId_++;
    std::vector<int64_t> tokens;
    for (int64_t i = 0; i < context; ++i)
      tokens.push_back(token(i, 0));
    try {
      gen_->prefill(id, tokens);
    } catch (...) {
      removeAll({id});
      throw;
    }
    removeAll({id});
  }

  const Options &o_;
  Report &report_;
  std::chrono::steady_clock::time_point start_;
  std::unique_ptr<Package> package_;
  std::string policy_;
  PackageFacts facts_;
  std::unique_ptr<Generator> gen_; // after package_: destroyed first
  int64_t loads_ = 0;              // generators made so far
  bool f16_ = false;
  void *rows_ = nullptr;
  size_t rowsElements_ = 0;
  int64_t nextId_ = 1;
};

} // namespace

namespace resa::bench {

int e2e(int argc, char **argv) {
  return runSubcommand("e2e", kUsage, argc, argv, parseOptions, [](const Options &o) {
    const auto start = std::chrono::steady_clock::now();
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0)
      throw Error("no CUDA device");
    Report report(o, copyCeiling());
    for (const auto &p : o.packages)
      PackageBench(o, report, start).run(p.first, p.second);
    report.printTable();
    return 0;
  });
}

} // namespace resa::bench
