// The arithmetic of resa-bench e2e --timeline (KernelTimeline.h), apart from
// CUPTI so that it builds and is tested everywhere: from the kernels each
// decode step ran, where the step's time went.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace resa::bench {

// One kernel (or copy, or memset) as the device ran it (a common clock, ns).
struct KernelSpan {
  uint64_t start, end;
  std::string name;
};

// A JSON object for resa-bench's results and a text table for its output.
struct Timeline {
  std::string json, table;
};

// steps[s]: the kernels (copies and memsets among them, by their names:
// KernelTimeline.cpp) of step s sorted by start; stepStarts[s] and
// stepEnds[s]: when step s began and returned on the host. Per step
// (averaged over the steps): the span from the host's start to the last
// kernel's end, the launch latency before the first kernel, the time some
// kernel was running (overlaps counted once), the idle gaps between kernels
// (span = launch + running + gaps), the tail from the last kernel's end to
// the step's return on the host (the wait's wake-up and what the host does
// after: span + tail = the step's wall time), the kernels' durations summed; per kernel name, launches, microseconds, and its own
// microseconds: the running time it adds after what ran before it ended (a
// kernel that starts early and waits for the one before adds only what
// follows that one's end; the names are sorted by it, and the own times sum
// to the running time); the pairs of consecutive kernels with the most idle
// time between them (the 12 largest); the last step's kernels, each with its
// start and end in us from the step's start on the host ("last_step").
Timeline summariseTimeline(const std::vector<std::vector<KernelSpan>> &steps,
                           const std::vector<uint64_t> &stepStarts,
                           const std::vector<uint64_t> &stepEnds);

} // namespace resa::bench
