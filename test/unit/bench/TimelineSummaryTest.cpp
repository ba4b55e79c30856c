// resa-bench e2e --timeline's arithmetic (bench/e2e/TimelineSummary.h) on two
// steps written by hand: overlapping kernels counted once, a kernel inside
// another, the launch latency, the idle gaps and the pairs they lie between,
// each kernel's own share of the running time.
#include "e2e/TimelineSummary.h"

#include <gtest/gtest.h>

namespace {

using resa::bench::KernelSpan;
using resa::bench::summariseTimeline;

TEST(TimelineSummary, SpanIsLaunchPlusRunningPlusGaps) {
  // Step 0 starts at 1000 ns: A and B overlap by 1000 ns, 3000 ns idle
  // between B and C, A again right after C; the host has it back at 12600.
  // Step 1 starts at 20000 ns: D lies inside A, 1000 ns idle between A and
  // C; back at 23200.
  const std::vector<std::vector<KernelSpan>> steps = {
      {{2000, 5000, "A"}, {4000, 6000, "B"}, {9000, 10000, "C"}, {10000, 12000, "A"}},
      {{20500, 21500, "A"}, {20600, 20700, "D"}, {22500, 23000, "C"}}};
  const std::string json = summariseTimeline(steps, {1000, 20000}, {12600, 23200}).json;
  // Per step: span (11000 + 3000) / 2 ns = launch (1000 + 500) / 2 + running
  // (7000 + 1500) / 2 + gaps (3000 + 1000) / 2; durations (8000 + 1600) / 2.
  EXPECT_NE(json.find("\"steps\": 2, \"kernels_per_step\": 3.5"), std::string::npos) << json;
  EXPECT_NE(json.find("\"span_us\": 7, \"busy_us\": 4.25, \"kernel_us\": 4.8"), std::string::npos)
      << json;
  // Tails: 600 and 200 ns.
  EXPECT_NE(json.find("\"launch_us\": 0.75, \"gap_us\": 2, \"tail_us\": 0.4"), std::string::npos)
      << json;
  // Kernels by the running time they add: A 6000 ns (3000 + 2000 + 1000,
  // its whole durations), C 1500 (1000 + 500), B 1000 of its 2000 (it
  // overlaps A's last 1000), D nothing (it lies inside A); their durations
  // A 6000 over 3 launches, B 2000, C 1500, D 100.
  EXPECT_NE(json.find("\"kernels\": [{\"name\": \"A\", \"per_step\": 1.5, \"us_per_step\": 3, "
                      "\"own_us_per_step\": 3}, "
                      "{\"name\": \"C\", \"per_step\": 1, \"us_per_step\": 0.75, "
                      "\"own_us_per_step\": 0.75}, "
                      "{\"name\": \"B\", \"per_step\": 0.5, \"us_per_step\": 1, "
                      "\"own_us_per_step\": 0.5}, "
                      "{\"name\": \"D\", \"per_step\": 0.5, \"us_per_step\": 0.05, "
                      "\"own_us_per_step\": 0}]"),
            std::string::npos)
      << json;
  // Idle time by the pair it lies between: B -> C 3000 ns, A -> C 1000 ns
  // (D ended inside A, so A is the kernel before the gap).
  EXPECT_NE(json.find("\"largest_gaps\": [{\"after\": \"B\", \"before\": \"C\", \"us_per_step\": "
                      "1.5}, {\"after\": \"A\", \"before\": \"C\", \"us_per_step\": 0.5}]"),
            std::string::npos)
      << json;
  // The last step's kernels as they ran, from its start on the host (20000).
  EXPECT_NE(json.find("\"last_step\": [{\"name\": \"A\", \"start_us\": 0.5, \"end_us\": 1.5}, "
                      "{\"name\": \"D\", \"start_us\": 0.6, \"end_us\": 0.7}, "
                      "{\"name\": \"C\", \"start_us\": 2.5, \"end_us\": 3}]"),
            std::string::npos)
      << json;
}

TEST(TimelineSummary, TableSaysTheSame) {
  const std::vector<std::vector<KernelSpan>> steps = {{{1500, 2500, "K"}, {4500, 5000, "L"}}};
  const std::string table = summariseTimeline(steps, {1000}, {5300}).table;
  EXPECT_NE(table.find("span 4.0 us = launch 0.5 + kernels running 1.5 + idle gaps 2.0, then "
                       "0.3 us until the host has the step's results"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("| K | 1.0 | 1.0 | 1.0 |"), std::string::npos) << table;
  EXPECT_NE(table.find("| K | L | 2.0 |"), std::string::npos) << table;
}

} // namespace
