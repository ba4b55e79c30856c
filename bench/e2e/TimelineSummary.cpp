// resa-bench e2e --timeline's arithmetic: see TimelineSummary.h.
#include "TimelineSummary.h"

#include "JsonObject.h"

#include <algorithm>
#include <map>
#include <utility>

namespace resa::bench {

namespace {

// Per-kernel figures summed over the steps: launches, durations, and the
// running time each adds to its step (below).
struct KernelTotal {
  int64_t launches = 0;
  double ns = 0, ownNs = 0;
};

} // namespace

Timeline summariseTimeline(const std::vector<std::vector<KernelSpan>> &steps,
                           const std::vector<uint64_t> &stepStarts,
                           const std::vector<uint64_t> &stepEnds) {
  const double n = static_cast<double>(steps.size());
  std::map<std::string, KernelTotal> byName;
  std::map<std::pair<std::string, std::string>, double> gapsByPair; // ns over all steps
  double span = 0, busy = 0, kernelNs = 0, launch = 0, gaps = 0, tail = 0, kernels = 0;
  for (size_t s = 0; s < steps.size(); ++s) {
    const std::vector<KernelSpan> &ks = steps[s];
    if (ks.empty())
      continue;
    kernels += static_cast<double>(ks.size());
    launch += static_cast<double>(ks.front().start - std::min(ks.front().start, stepStarts[s]));
    uint64_t reach = ks.front().start; // the latest end so far
    const std::string *last = &ks.front().name;
    for (const KernelSpan &k : ks) {
      KernelTotal &t = byName[k.name];
      ++t.launches;
      t.ns += static_cast<double>(k.end - k.start);
      kernelNs += static_cast<double>(k.end - k.start);
      if (k.start > reach) { // idle: nothing ran between `last` and k
        gaps += static_cast<double>(k.start - reach);
        gapsByPair[{*last, k.name}] += static_cast<double>(k.start - reach);
      }
      // The running time k adds: from the end of what ran before it (or its
      // start, if later) to its own end. A kernel started early under
      // programmatic dependent launch spends the time up to the kernel
      // before's end waiting, which its duration counts and this does not.
      const double own = static_cast<double>(k.end - std::max(k.start, std::min(reach, k.end)));
      t.ownNs += own;
      busy += own;
      if (k.end >= reach) {
        reach = k.end;
        last = &k.name;
      }
    }
    span += static_cast<double>(reach - std::min(ks.front().start, stepStarts[s]));
    tail += static_cast<double>(std::max(stepEnds[s], reach) - reach);
  }
  std::vector<std::pair<std::string, KernelTotal>> names(byName.begin(), byName.end());
  std::sort(names.begin(), names.end(),
            [](const auto &a, const auto &b) { return a.second.ownNs > b.second.ownNs; });
  std::vector<std::pair<std::pair<std::string, std::string>, double>> pairs(gapsByPair.begin(),
                                                                            gapsByPair.end());
  std::sort(pairs.begin(), pairs.end(),
            [](const auto &a, const auto &b) { return a.second > b.second; });
  if (pairs.size() > 12)
    pairs.resize(12);

  auto us = [&](double ns) { return ns / n / 1e3; }; // per step
  JsonObject j;
  j.integer("steps", static_cast<int64_t>(steps.size())).num("kernels_per_step", kernels / n);
  j.num("span_us", us(span)).num("busy_us", us(busy)).num("kernel_us", us(kernelNs));
  j.num("launch_us", us(launch)).num("gap_us", us(gaps)).num("tail_us", us(tail));
  std::string list = "[";
  for (size_t i = 0; i < names.size(); ++i) {
    JsonObject k;
    k.text("name", names[i].first)
        .num("per_step", static_cast<double>(names[i].second.launches) / n)
        .num("us_per_step", us(names[i].second.ns))
        .num("own_us_per_step", us(names[i].second.ownNs));
    list += (i ? ", " : "") + k.str();
  }
  j.raw("kernels", list + "]");
  std::string gapList = "[";
  for (size_t i = 0; i < pairs.size(); ++i) {
    JsonObject g;
    g.text("after", pairs[i].first.first).text("before", pairs[i].first.second);
    g.num("us_per_step", us(pairs[i].second));
    gapList += (i ? ", " : "") + g.str();
  }
  j.raw("largest_gaps", gapList + "]");
  // The last step's kernels as they ran, in us from the step's start on the
  // host: where each kernel of a layer starts and ends against its
  // neighbours (what the per-name sums above cannot show).
  std::string lastList = "[";
  if (!steps.empty()) {
    const uint64_t t0 = stepStarts.back();
    for (size_t i = 0; i < steps.back().size(); ++i) {
      const KernelSpan &k = steps.back()[i];
      JsonObject e;
      e.text("name", k.name)
          .num("start_us", (static_cast<double>(k.start) - static_cast<double>(t0)) / 1e3)
          .num("end_us", (static_cast<double>(k.end) - static_cast<double>(t0)) / 1e3);
      lastList += (i ? ", " : "") + e.str();
    }
  }
  j.raw("last_step", lastList + "]");

  std::string t = "per step: span " + fmt("%.1f us", us(span)) + " = launch " +
                  fmt("%.1f", us(launch)) + " + kernels running " + fmt("%.1f", us(busy)) +
                  " + idle gaps " + fmt("%.1f", us(gaps)) + ", then " + fmt("%.1f us", us(tail)) +
                  " until the host has the step's results; " + fmt("%.0f kernels", kernels / n) +
                  ", their durations summed " + fmt("%.1f us", us(kernelNs)) + "\n";
  t += "| kernel | per step | us per step | own us per step |\n|---|---|---|---|\n";
  for (const auto &[name, total] : names)
    t += "| " + name + " | " + fmt("%.1f", static_cast<double>(total.launches) / n) + " | " +
         fmt("%.1f", us(total.ns)) + " | " + fmt("%.1f", us(total.ownNs)) + " |\n";
  t += "| idle after | before | us per step |\n|---|---|---|\n";
  for (const auto &[pair, ns] : pairs)
    t += "| " + pair.first + " | " + pair.second + " | " + fmt("%.1f", us(ns)) + " |\n";
  return {j.str(), t};
}

} // namespace resa::bench
