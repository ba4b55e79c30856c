// resa-bench: end-to-end benchmarks of compiled packages on a CUDA device.
//
//   resa-bench e2e [--package DENSE_PKG] [--package-sparse PKG] [--package-resa PKG]
//                  [--shapes 1x4096,1x16384,1x65536,1x131072,1x262144,8x65536]
//                  [--steps 32] [--warmup 4] [--windows 3]
//                  [--prefill-max 32768] [--prefill-reps 2]
//                  [--budget-seconds S] [--json OUT.json]
//
// For every package (dense, then ReSA, then sparse; each checked to be the
// policy its flag names) and every BATCHxCONTEXT shape, the batch's
// sequences are given CONTEXT tokens of KV without running a prefill: one
// forward per sequence writes every layer from one random device buffer
// (the cache's own writeLayer, so pages, tables and key summaries are what a
// prefill would leave). Then:
//   dense, sparse: `--warmup` decode steps, then `--steps` timed ones (the
//     whole batch per step, cudaDeviceSynchronize before and after each);
//   ReSA: one warm-up window, then `--windows` timed windows, each the
//     schedule's `interval` decode steps plus the rectification it runs at
//     their end (one per sequence, over the last `window` tokens, as
//     Generator::generate does); ms per step = the window's time / interval.
// Reported: median, p10 and p90 of ms per decode step (each step gives every
// sequence of the batch one token), and the byte floor of a step
// (PackageFacts.h: weights + KV read + summaries + the rectification's
// amortised read) over the copy ceiling measured at the start of the run
// (cudaMemcpy device to device of 2 GiB, bytes read + written / time, median
// of 10). Prefill: a real prefill of CONTEXT tokens for each context up to
// --prefill-max (one sequence, the median of --prefill-reps after a short
// warm-up prefill), timed as the generator runs it (logits to the host).
// The JSON is rewritten after every measurement, so a run cut short keeps
// what it measured; --budget-seconds skips (and says so) what starts later.
#include "DeviceRandom.h"
#include "PackageFacts.h"

#include "cuda/CudaKVStorage.h"
#include "resa/cuda/DeviceKernel.h"
#include "resa/runtime/Generator.h"

#include <cuda_runtime_api.h>

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
using bench::PackageFacts;
using bench::StepBytes;
using gpu::checkCuda;

const char *kUsage =
    "usage: resa-bench e2e [--package DENSE_PKG] [--package-sparse PKG] [--package-resa PKG]\n"
    "                      [--shapes BxL,...] [--steps N] [--warmup N] [--windows N]\n"
    "                      [--prefill-max L] [--prefill-reps N] [--budget-seconds S]\n"
    "                      [--json OUT.json]\n"
    "\n"
    "Decode ms per step (dense, sparse, ReSA with its rectification amortised), prefill\n"
    "time, and the byte floor per step over the copy ceiling measured in the same run.\n"
    "At least one package. The KV of each BATCHxCONTEXT shape is filled with random values\n"
    "directly (no long prefill).\n"
    "  --package P          a dense package (resa-compile --attention=dense)\n"
    "  --package-sparse P   a sparse package (--attention=sparse)\n"
    "  --package-resa P     a ReSA package (--attention=resa)\n"
    "  --shapes             batch x context list (default "
    "1x4096,1x16384,1x65536,1x131072,1x262144,8x65536)\n"
    "  --steps N            timed decode steps, dense and sparse (default 32)\n"
    "  --warmup N           untimed decode steps first (default 4)\n"
    "  --windows N          timed ReSA windows of `interval` steps + rectification (default 3)\n"
    "  --prefill-max L      prefill is timed at the contexts up to L (default 32768; 0: none)\n"
    "  --prefill-reps N     timed prefills per context, median reported (default 2)\n"
    "  --budget-seconds S   start no measurement after S seconds (default 0: no limit)\n"
    "  --json OUT.json      results, rewritten after each measurement\n";

struct BatchContext {
  int64_t batch, context;
};

struct Options {
  std::vector<std::pair<std::string, std::string>> packages; // (policy, path), in run order
  std::vector<BatchContext> shapes;
  int64_t steps = 32, warmup = 4, windows = 3, prefillMax = 32768, prefillReps = 2;
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

std::vector<BatchContext> parseShapes(const std::string &text) {
  std::vector<BatchContext> shapes;
  size_t at = 0;
  while (at <= text.size()) {
    size_t comma = text.find(',', at);
    std::string item = text.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    size_t x = item.find('x');
    if (x == std::string::npos)
      throw Error("--shapes takes BATCHxCONTEXT items (e.g. 1x4096,8x65536), got '" + item + "'");
    shapes.push_back(
        {positive("--shapes", item.substr(0, x)), positive("--shapes", item.substr(x + 1))});
    if (comma == std::string::npos)
      break;
    at = comma + 1;
  }
  return shapes;
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
    else if (a == "--steps")
      o.steps = positive(a, value());
    else if (a == "--warmup")
      o.warmup = positive(a, value(), true);
    else if (a == "--windows")
      o.windows = positive(a, value());
    else if (a == "--prefill-max")
      o.prefillMax = positive(a, value(), true);
    else if (a == "--prefill-reps")
      o.prefillReps = positive(a, value());
    else if (a == "--budget-seconds")
      o.budgetSeconds = static_cast<double>(positive(a, value(), true));
    else if (a == "--json")
      o.json = value();
    else
      throw Error("unknown option '" + a + "' (resa-bench e2e --help)");
  }
  // Dense first (the reference), then ReSA (the target), sparse last.
  for (const char *policy : {"dense", "resa", "sparse"})
    if (byPolicy.count(policy))
      o.packages.emplace_back(policy, byPolicy[policy]);
  if (o.packages.empty())
    throw Error("no package given (--package, --package-sparse or --package-resa)");
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
double timedMs(const std::function<void()> &f) {
  checkCuda(cudaDeviceSynchronize(), "synchronising before a timed call");
  const auto t0 = std::chrono::steady_clock::now();
  f();
  checkCuda(cudaDeviceSynchronize(), "synchronising after a timed call");
  return elapsedMs(t0);
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
  std::string policy, kind; // kind: "decode", "prefill" or "load"
  int64_t batch = 0, context = 0;
  std::string status = "ok"; // or "error: ...", "skipped: ..."
  Summary ms;                // per decode step (ReSA: amortised over windows), or per prefill
  StepBytes bytes;           // decode
  double stepMs = NAN;       // ReSA: median decode step alone
  double rectifyMs = NAN;    // ReSA: median of one window's rectifications (all sequences)
};

std::string escape(const std::string &s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char u[8];
      std::snprintf(u, sizeof u, "\\u%04x", c);
      out += u;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// A JSON object built field by field (numbers that are not finite: null).
class JsonObject {
public:
  JsonObject &num(const std::string &k, double v) {
    char text[40];
    std::snprintf(text, sizeof text, "%.10g", v);
    return raw(k, std::isfinite(v) ? text : "null");
  }
  JsonObject &integer(const std::string &k, int64_t v) { return raw(k, std::to_string(v)); }
  JsonObject &text(const std::string &k, const std::string &v) {
    return raw(k, "\"" + escape(v) + "\"");
  }
  JsonObject &raw(const std::string &k, const std::string &json) {
    fields_.emplace_back(k, json);
    return *this;
  }
  std::string str() const {
    std::string s = "{";
    for (size_t i = 0; i < fields_.size(); ++i)
      s += (i ? ", \"" : "\"") + escape(fields_[i].first) + "\": " + fields_[i].second;
    return s + "}";
  }

private:
  std::vector<std::pair<std::string, std::string>> fields_;
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
      const bool decode = r.kind == "decode";
      const double perS =
          r.ms.median > 0 ? (decode ? r.batch : r.context) * 1e3 / r.ms.median : NAN;
      std::printf("| %s | %s | %lld | %lld | %.3f | %.3f-%.3f | %.1f | %s | %s | ok |\n",
                  r.policy.c_str(), r.kind.c_str(), (long long)r.batch, (long long)r.context,
                  r.ms.median, r.ms.p10, r.ms.p90, perS,
                  decode ? fmt("%.3f", floorMs(r.bytes)).c_str() : "-",
                  decode ? fmt("%.0f%%", 100 * floorMs(r.bytes) / r.ms.median).c_str() : "-");
    }
  }

private:
  static std::string fmt(const char *spec, double v) {
    char text[40];
    std::snprintf(text, sizeof text, spec, v);
    return text;
  }
  std::string line(const Row &r) const {
    std::string s = r.policy + " " + r.kind + " " + std::to_string(r.batch) + "x" +
                    std::to_string(r.context) + ": ";
    if (r.status != "ok")
      return s + r.status;
    s += fmt("%.3f ms", r.ms.median) + fmt(" (p10 %.3f", r.ms.p10) + fmt(", p90 %.3f)", r.ms.p90);
    if (r.kind == "decode")
      s += fmt(", floor %.3f ms", floorMs(r.bytes)) +
           fmt(" (%.0f%% of the ceiling)", 100 * floorMs(r.bytes) / r.ms.median);
    return s;
  }
  std::string rowJson(const Row &r) const {
    JsonObject j;
    j.text("policy", r.policy).text("kind", r.kind).integer("batch", r.batch);
    j.integer("context", r.context).text("status", r.status);
    if (r.status != "ok")
      return j.str();
    j.num("median_ms", r.ms.median).num("p10_ms", r.ms.p10).num("p90_ms", r.ms.p90);
    j.num("min_ms", r.ms.min).integer("samples", r.ms.samples);
    if (r.kind == "prefill")
      return j.num("tokens_per_s", r.context * 1e3 / r.ms.median).str();
    const double floor = floorMs(r.bytes);
    j.num("tokens_per_s", r.batch * 1e3 / r.ms.median);
    j.num("bytes", r.bytes.total()).num("bytes_weights", r.bytes.weights);
    j.num("bytes_kv", r.bytes.kv).num("bytes_summaries", r.bytes.summaries);
    j.num("bytes_rectify", r.bytes.rectify).num("floor_ms", floor);
    j.num("fraction_of_ceiling", floor / r.ms.median);
    if (std::isfinite(r.stepMs))
      j.num("decode_step_median_ms", r.stepMs).num("rectify_ms_per_window", r.rectifyMs);
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
    head.integer("steps", o_.steps).integer("warmup", o_.warmup);
    head.integer("windows", o_.windows).integer("prefill_max", o_.prefillMax);
    head.text("method",
              "KV filled directly (random bf16/f16, one forward per sequence writing every "
              "layer); decode: wall time per step with cudaDeviceSynchronize around it, after "
              "warm-up; ReSA: windows of `interval` steps + their rectification (one per "
              "sequence), ms per step = window / interval; floor = (weights + KV read + key "
              "summaries + rectification's full KV read / interval) / copy ceiling; ceiling = "
              "cudaMemcpy D2D 2 GiB, read + write bytes, median of 10, same run; prefill: "
              "Generator::prefill, logits to the host included");
    std::string packages = "[", rows = "[";
    for (size_t i = 0; i < packages_.size(); ++i)
      packages += (i ? ",\n  " : "\n  ") + packages_[i];
    for (size_t i = 0; i < rows_.size(); ++i)
      rows += (i ? ",\n  " : "\n  ") + rowJson(rows_[i]);
    head.raw("packages", packages + "]").raw("results", rows + "]");
    // Written aside and renamed: a run killed mid-write leaves the last file.
    const std::string tmp = o_.json + ".tmp";
    FILE *f = std::fopen(tmp.c_str(), "w");
    if (!f)
      throw Error("cannot write " + tmp);
    const std::string text = head.str() + "\n";
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    if (std::fclose(f) != 0 || !ok || std::rename(tmp.c_str(), o_.json.c_str()) != 0)
      throw Error("cannot write " + o_.json);
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
    std::unique_ptr<Package> package;
    std::unique_ptr<Generator> gen;
    PackageFacts facts;
    JsonObject info;
    info.text("policy", policy).text("path", path);
    if (overBudget()) // loading alone takes a while: weights and pools
      return notLoaded(policy, info, budgetStatus());
    try {
      package = Package::load(path);
      facts = bench::readPackageFacts(*package);
      if (facts.policy != policy)
        throw Error(path + " is a " + facts.policy + " package, given as the " + policy + " one");
      size_t freeBefore = 0, freeAfter = 0, total = 0;
      checkCuda(cudaMemGetInfo(&freeBefore, &total), "cudaMemGetInfo");
      const int64_t pages = pagesNeeded(facts);
      gen = std::make_unique<Generator>(*package, pages, Device::Cuda);
      checkCuda(cudaDeviceSynchronize(), "loading " + path);
      checkCuda(cudaMemGetInfo(&freeAfter, &total), "cudaMemGetInfo");
      info.integer("layers", facts.layers).integer("kv_heads", facts.kvHeads);
      info.integer("head_dim", facts.headDim).integer("block_size", facts.blockSize);
      info.integer("weight_bytes", facts.weightBytes).integer("kv_pages", pages);
      // K and V of every slot, kmin and kmax of every page, 16-bit.
      info.integer("kv_pool_bytes", pages * facts.layers * facts.kvHeads * facts.headDim * 2 *
                                        (2 * facts.blockSize + 2));
      info.integer("device_bytes_after_load",
                   static_cast<int64_t>(freeBefore) - static_cast<int64_t>(freeAfter));
      if (facts.selectsBlocks)
        info.num("kept_ratio", facts.select.keptRatio)
            .integer("min_blocks", facts.select.minBlocks)
            .integer("local_blocks", facts.select.localBlocks);
      if (facts.rectifyInterval > 0)
        info.integer("rectify_interval", facts.rectifyInterval)
            .integer("rectify_window", facts.rectifyWindow);
      report_.addPackage(info);
    } catch (const std::exception &e) {
      return notLoaded(policy, info, std::string("error: ") + e.what());
    }
    auto *storage = dynamic_cast<CudaKVStorage *>(&gen->cache().storage());
    if (!storage)
      throw Error("the generator's KV cache is not on the CUDA device");
    gen_ = gen.get();
    facts_ = facts;
    f16_ = storage->dtype() == gpu::KVDType::F16;
    for (const BatchContext &s : o_.shapes)
      measure(policy, "decode", s, [&](Row &r) { decode(r); });
    releaseRows(); // prefill's activations may need the memory
    bool warm = false;
    for (int64_t context : prefillContexts())
      measure(policy, "prefill", {1, context}, [&](Row &r) {
        if (!warm) { // the first prefill sets up what later ones reuse
          prefill(std::min<int64_t>(context, 128));
          warm = true;
        }
        std::vector<double> ms;
        for (int64_t i = 0; i < o_.prefillReps; ++i)
          ms.push_back(timedMs([&] { prefill(context); }));
        r.ms = summarize(ms);
      });
    releaseRows();
    gen_ = nullptr;
  }

private:
  // Pages for the largest shape (each sequence's context plus the steps it
  // decodes) and for the largest prefill.
  int64_t pagesNeeded(const PackageFacts &f) const {
    const int64_t windows = (o_.windows + 1) * std::max<int64_t>(f.rectifyInterval, 1);
    const int64_t extra = std::max(o_.warmup + o_.steps, windows) + 1;
    int64_t pages = 1;
    for (const BatchContext &s : o_.shapes)
      pages = std::max(pages, s.batch * ((s.context + extra + f.blockSize - 1) / f.blockSize));
    for (int64_t context : prefillContexts())
      pages = std::max(pages, (context + f.blockSize - 1) / f.blockSize);
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

  void decode(Row &r) {
    const std::vector<int64_t> ids = filledSequences({r.batch, r.context});
    std::vector<std::vector<int64_t>> history(ids.size());
    int64_t step = 0;
    auto decodeStep = [&] {
      std::vector<int64_t> tokens;
      for (size_t b = 0; b < ids.size(); ++b) {
        tokens.push_back(token(step, static_cast<int64_t>(b)));
        history[b].push_back(tokens.back());
      }
      gen_->decode(ids, tokens);
      ++step;
    };
    try {
      r.bytes = bench::decodeStepBytes(facts_, r.batch, r.context);
      if (facts_.rectifyInterval > 0) {
        // As Generator::generate: each sequence rectifies its last `window`
        // tokens once it has decoded `interval` since the last time.
        auto rectifyAll = [&] {
          for (size_t b = 0; b < ids.size(); ++b) {
            const int64_t len = gen_->cache().length(ids[b]);
            gen_->rectify(
                ids[b], len - facts_.rectifyWindow,
                std::vector<int64_t>(history[b].end() - facts_.rectifyWindow, history[b].end()));
          }
        };
        std::vector<double> perStep, steps, rectify;
        for (int64_t w = 0; w <= o_.windows; ++w) { // window 0 warms up
          double windowMs = 0;
          for (int64_t i = 0; i < facts_.rectifyInterval; ++i) {
            const double ms = timedMs(decodeStep);
            windowMs += ms;
            if (w > 0)
              steps.push_back(ms);
          }
          const double rectifyMs = timedMs(rectifyAll);
          if (w > 0) {
            rectify.push_back(rectifyMs);
            perStep.push_back((windowMs + rectifyMs) / static_cast<double>(facts_.rectifyInterval));
          }
        }
        r.ms = summarize(perStep);
        r.stepMs = summarize(steps).median;
        r.rectifyMs = summarize(rectify).median;
      } else {
        for (int64_t i = 0; i < o_.warmup; ++i)
          decodeStep();
        std::vector<double> ms;
        for (int64_t i = 0; i < o_.steps; ++i)
          ms.push_back(timedMs(decodeStep));
        r.ms = summarize(ms);
      }
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
  Generator *gen_ = nullptr;
  PackageFacts facts_;
  bool f16_ = false;
  void *rows_ = nullptr;
  size_t rowsElements_ = 0;
  int64_t nextId_ = 1;
};

int e2e(int argc, char **argv) {
  for (int i = 2; i < argc; ++i)
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  Options o;
  try {
    o = parseOptions(argc, argv);
  } catch (const Error &e) {
    std::fprintf(stderr, "resa-bench e2e: %s\n", e.what());
    return 2;
  }
  try {
    const auto start = std::chrono::steady_clock::now();
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0)
      throw Error("no CUDA device");
    Report report(o, copyCeiling());
    for (const auto &p : o.packages)
      PackageBench(o, report, start).run(p.first, p.second);
    report.printTable();
    return 0;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "resa-bench e2e: error: %s\n", e.what());
    return 1;
  }
}

} // namespace

int main(int argc, char **argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  if (command == "e2e")
    return e2e(argc, argv);
  if (command == "--help" || command == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::fprintf(stderr, "%s", kUsage);
  return 2;
}
