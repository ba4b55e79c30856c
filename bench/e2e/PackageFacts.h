// What resa-bench reads off a package's plan: its attention policy, KV
// geometry, selection rule, rectification schedule and weight bytes, and
// from them the byte floor of one decode step.
#pragma once

#include "resa/kernels/BlockSparse.h"
#include "resa/runtime/Package.h"

#include <cstdint>
#include <string>

namespace resa::bench {

struct PackageFacts {
  std::string policy; // "dense", "sparse" (decode selects blocks) or "resa" (and rectifies)
  int64_t layers = 0, kvHeads = 0, headDim = 0, blockSize = 0;
  // The weights as the CUDA backend stores them: float weights in the 16-bit
  // storage type, integer weights at their own size; each weight once (what
  // the device holds).
  int64_t weightBytes = 0;
  // What a decode step reads of them (the same sizes): the weights the decode
  // function reads whole, and the row size of those it reads only by rows
  // that its tokens or positions pick (the embedding table, rotary caches:
  // one row a sequence). A weight decode does not read counts in neither.
  int64_t decodeWholeBytes = 0, decodeRowBytes = 0;
  bool selectsBlocks = false;
  BlockSelectParams select;                       // the decode function's first resa.block_select
  int64_t rectifyInterval = 0, rectifyWindow = 0; // 0: never rectifies
};

// Throws resa::Error when the package has no KV-cache program.
PackageFacts readPackageFacts(const Package &package);
// The same from a plan and its decode function (what the former reads).
PackageFacts readPlanFacts(const plan::Plan &plan, const plan::Function &decode);

// Bytes one decode step of `batch` sequences holding `context` tokens each
// must move at least (the KV pools are 16-bit):
//   weights   every weight decode reads whole, once, and a row a sequence of
//             those it reads by rows (decodeRowBytes);
//   kv        dense: all K and V; selecting: the selected blocks' K and V
//             (selectedBlockCount of the context's blocks, per sequence,
//             layer and KV head);
//   summaries selecting: kmin and kmax of every block;
//   rectify   rectifying: all K and V once per interval (the dense
//             rectification's read of the cache), divided by the interval.
struct StepBytes {
  double weights = 0, kv = 0, summaries = 0, rectify = 0;
  double total() const { return weights + kv + summaries + rectify; }
};
StepBytes decodeStepBytes(const PackageFacts &facts, int64_t batch, int64_t context);

} // namespace resa::bench
