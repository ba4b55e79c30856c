// ReSA's block-sparse decode (DESIGN.md, "ReSA"): block selection from the
// per-page key summaries, and attention over the selected blocks only.
// Plain C++17 usable from CUDA code too; the CPU functions are the exact
// references the CUDA kernels are checked against.
#pragma once

#include "resa/kernels/PagedKV.h"

#include <cstdint>

namespace resa {

// The selection rule. A block is one page of the cache (pageSize tokens).
struct BlockSelectParams {
  float keptRatio = 0.1f;  // fraction of the blocks kept, in [0, 1]
  int32_t minBlocks = 16;  // n_min
  int32_t localBlocks = 1; // the most recent blocks, always kept
};

// n = max(n_min, ceil(M * keptRatio)), at least the local blocks, at most M.
// The product is taken in double and shrunk by one part in a million, so
// that a decimal ratio stored as a float (0.1f is 0.100000001...) does not
// round 160 * 0.1 up to 17.
RESA_HOST_DEVICE inline int32_t selectedBlockCount(int32_t numBlocks, const BlockSelectParams &p) {
  double want = static_cast<double>(p.keptRatio) * numBlocks * (1.0 - 1e-6);
  int32_t n = static_cast<int32_t>(want); // ceil without <cmath> on the device
  if (static_cast<double>(n) < want)
    ++n;
  if (n < p.minBlocks)
    n = p.minBlocks;
  if (n < p.localBlocks)
    n = p.localBlocks;
  return n < numBlocks ? n : numBlocks;
}

// For every sequence b and KV head g: the query heads of g are averaged into
// one query (times `scale`, 0 meaning 1/sqrt(headDim)); block m of the
// sequence scores sum_j max(q_j * kmax[m]_j, q_j * kmin[m]_j); the
// localBlocks most recent blocks score +inf; the top n (ties to the lower
// block index) are written ascending to selected[b][g][0..n), n to
// counts[b]. q is [batch][numQHeads][headDim]; `maxSelected` is the row
// stride of `selected` and must be >= every n.
void selectBlocksCpu(const PagedAttentionShape &shape, const float *q, const float *kmin,
                     const float *kmax, const int32_t *pageTable, const int32_t *seqLens,
                     const BlockSelectParams &params, float scale, int32_t *selected,
                     int32_t maxSelected, int32_t *counts);

// Exact fp32 reference of decode attention over the selected blocks of each
// sequence (as selectBlocksCpu writes them; the partial last block is cut at
// seqLen). With every block selected it adds the same terms in the same
// order as pagedDecodeAttentionCpu, so the results are identical.
void pagedSparseAttentionCpu(const PagedAttentionShape &shape, const float *q,
                             const float *kCache, const float *vCache,
                             const int32_t *pageTable, const int32_t *seqLens,
                             const int32_t *selected, int32_t maxSelected,
                             const int32_t *counts, float scale, float *out);

} // namespace resa
