// Where a decode step's (or a prefill's) time goes on the device, kernel by kernel, without
// serialising it: CUPTI's activity records give every kernel's start and end
// as the step runs (CUDA-graph replays included), so the kernels' own time
// and the idle gaps between them are measured together (Nsight Compute's
// census, bench/e2e/device_profile.sh, runs one kernel at a time and cannot
// see the gaps). Used by `resa-bench e2e --timeline N` and `--prefill-timeline`.
#pragma once

#include "TimelineSummary.h"

#include <functional>

namespace resa::bench {

// Whether this build has CUPTI (the timeline is unavailable without it).
bool timelineAvailable();

// Runs step() `steps` times, each between device synchronisations, with
// kernel, copy and memset activity recording on, and summarises what each
// step ran (summariseTimeline: copies and memsets are rows beside the
// kernels, "memcpy HtoD" and so on). Throws without CUPTI, when CUPTI fails,
// or when it recorded nothing.
Timeline recordTimeline(int steps, const std::function<void()> &step);

} // namespace resa::bench
