// Host side of the decode-attention kernel: the split plan and the launch.
#include "resa/cuda/DecodeAttention.h"

#include "DecodeAttentionKernel.cuh"

#include <algorithm>
#include <cmath>

namespace resa::gpu {

namespace {

using detail::KernelEntry;

constexpr int kMinTokensPerSplit = 128;   // below this the fixed costs dominate
constexpr int kMaxPagesPerSplit = 8192;   // page ids held in shared memory (32 KiB)
constexpr size_t kAlign = 256;
// The grid is (sequence, split, KV head x head chunk): CUDA allows at most
// 65535 along y and z (and 2^31 - 1 along x, more than an int32 batch).
constexpr int kMaxGridYZ = 65535;

size_t alignUp(size_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

bool findKernel(KVDType dtype, int headDim, int group, int variant, KernelEntry *e) {
  return dtype == KVDType::BF16 ? detail::findKernelBf16(headDim, group, variant, e)
                                : detail::findKernelF16(headDim, group, variant, e);
}

// Pages a range of `stages` stages (starting at a stage boundary) can touch.
int pagesSpanned(int stages, int stageTokens, int pageSize) {
  const int64_t tokens = static_cast<int64_t>(stages) * stageTokens;
  const int64_t pages = (tokens + pageSize - 1) / pageSize + (pageSize > stageTokens ? 1 : 0);
  return static_cast<int>(std::min<int64_t>(pages, 1 << 30));
}

// The grid: (sequence, split, KV head x head chunk). Sequence fastest: the
// blocks of every sequence for one (split, head) run together, so pages the
// sequences share are read from HBM once.
dim3 gridOf(const PagedAttentionShape &s, int splits, int headChunks) {
  return dim3(static_cast<unsigned>(s.batch), static_cast<unsigned>(splits),
              static_cast<unsigned>(s.numKvHeads * headChunks));
}

size_t workspaceFor(int64_t pairs, int splits, int hg, int headDim) {
  if (splits <= 1)
    return 0;
  return alignUp(static_cast<size_t>(pairs) * 4) +
         alignUp(static_cast<size_t>(pairs) * splits * hg * sizeof(float2)) +
         static_cast<size_t>(pairs) * splits * hg * headDim * sizeof(float);
}

} // namespace

const char *decodeAttentionVariantName(int32_t variant) {
  // tcSTxN[wW][-nopdl]: tensor cores, ST-token stages, N per warp, W warps
  // per block (4 when absent), programmatic dependent launch unless -nopdl.
  static const char *names[] = {"tc32x2",     "tc32x2-nopdl", "tc16x3-nopdl", "tc32x3w2",
                                "tc32x2w2",   "tc64x2w2",     "simt32x2-nopdl"};
  if (variant < 0 || variant >= static_cast<int32_t>(sizeof(names) / sizeof(names[0])))
    return nullptr;
  return names[variant];
}

cudaError_t planDecodeAttention(const PagedAttentionShape &s, KVDType dtype, int32_t maxSeqLen,
                                DecodeAttentionPlan *plan, const DecodeAttentionOptions &opt) {
  if (!plan || s.batch < 0 || s.numQHeads <= 0 || s.numKvHeads <= 0 ||
      s.numQHeads % s.numKvHeads != 0 || s.pageSize <= 0 || maxSeqLen < 0 ||
      static_cast<int64_t>(maxSeqLen) > static_cast<int64_t>(s.maxPagesPerSeq) * s.pageSize)
    return cudaErrorInvalidValue;
  const int group = s.group();
  KernelEntry e;
  if (!findKernel(dtype, s.headDim, group, opt.variant, &e))
    return cudaErrorInvalidValue;
  const int hg = e.headsPerCta;
  const int st = e.stageTokens;
  if (s.pageSize % st != 0 && st % s.pageSize != 0)
    return cudaErrorInvalidValue;

  int device = opt.device;
  cudaError_t err;
  if (device < 0 && (err = cudaGetDevice(&device)) != cudaSuccess)
    return err;
  int numSms = 0;
  if ((err = cudaDeviceGetAttribute(&numSms, cudaDevAttrMultiProcessorCount, device)) !=
      cudaSuccess)
    return err;

  DecodeAttentionPlan p;
  p.shape = s;
  p.dtype = dtype;
  p.maxSeqLen = maxSeqLen;
  p.variant = opt.variant;
  p.headsPerCta = hg;
  p.headChunks = (group + hg - 1) / hg;
  if (static_cast<int64_t>(s.numKvHeads) * p.headChunks > kMaxGridYZ)
    return cudaErrorInvalidValue;
  p.stageTokens = st;
  p.numSms = numSms;

  const int64_t pairs = static_cast<int64_t>(s.batch) * s.numKvHeads * p.headChunks;
  const int nStages = std::max(1, (maxSeqLen + st - 1) / st);
  const int maxSplitsByPages = std::max(
      1, static_cast<int>((static_cast<int64_t>(nStages) * st + static_cast<int64_t>(kMaxPagesPerSplit) * s.pageSize - 1) /
                          (static_cast<int64_t>(kMaxPagesPerSplit) * s.pageSize)));

  // Fill the device: splits ~ (resident blocks) / (pairs), at least
  // kMinStagesPerSplit stages each; the shared-memory size depends on the
  // split (the page ids), so iterate until the occupancy stops changing.
  int blocks = 0;
  int splits = 1;
  int stagesPerSplit = nStages;
  size_t smem = e.smemBytes(pagesSpanned(std::min(nStages, 64), st, s.pageSize));
  for (int iter = 0; iter < 4; ++iter) {
    int b = 0;
    if ((err = e.occupancy(&b, smem)) != cudaSuccess)
      return err;
    if (b <= 0)
      return cudaErrorInvalidConfiguration;
    if (opt.forceSplits > 0) {
      splits = opt.forceSplits;
    } else {
      const int64_t slots = static_cast<int64_t>(numSms) * b;
      splits = static_cast<int>(std::max<int64_t>(1, slots / std::max<int64_t>(1, pairs)));
      splits = std::min(splits, std::max(1, nStages / std::max(1, kMinTokensPerSplit / st)));
      splits = std::max(splits, maxSplitsByPages);
    }
    splits = std::min({splits, nStages, e.maxSplits, kMaxGridYZ});
    stagesPerSplit = (nStages + splits - 1) / splits;
    splits = (nStages + stagesPerSplit - 1) / stagesPerSplit;
    const size_t newSmem = e.smemBytes(pagesSpanned(stagesPerSplit, st, s.pageSize));
    const bool stable = newSmem == smem && b == blocks;
    smem = newSmem;
    blocks = b;
    if (stable)
      break;
  }
  if ((err = e.occupancy(&blocks, smem)) != cudaSuccess)
    return err;
  if (blocks <= 0)
    return cudaErrorInvalidConfiguration;
  p.numSplits = splits;
  p.stagesPerSplit = stagesPerSplit;
  p.pageTableCapacity = pagesSpanned(stagesPerSplit, st, s.pageSize);
  p.blocksPerSm = blocks;
  p.smemBytes = smem;
  // The cluster merge where every cluster of the grid fits at once (a
  // second wave would wait for the whole first one).
  if (opt.clusterMerge && e.launchCluster && splits >= 2 && splits <= detail::kMaxClusterSplits &&
      pairs > 0) {
    const dim3 grid = gridOf(s, splits, p.headChunks);
    int clusters = 0;
    err = e.activeClusters(&clusters, grid, smem);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();  // (not sticky: the query's error only)
      clusters = 0;
    }
    p.clusterMerge = clusters >= pairs;
  }
  p.workspaceBytes = p.clusterMerge ? 0 : workspaceFor(pairs, splits, hg, s.headDim);
  *plan = p;
  return cudaSuccess;
}

cudaError_t planSparseDecodeAttention(const PagedAttentionShape &s, KVDType dtype,
                                      int32_t maxSelected, DecodeAttentionPlan *plan,
                                      const DecodeAttentionOptions &opt) {
  if (maxSelected < 0 || s.pageSize <= 0 || s.maxPagesPerSeq < 0)
    return cudaErrorInvalidValue;
  // No sequence has more blocks than maxPagesPerSeq.
  const int64_t virtualLen =
      static_cast<int64_t>(std::min(maxSelected, s.maxPagesPerSeq)) * s.pageSize;
  if (virtualLen > (int64_t{1} << 30))
    return cudaErrorInvalidValue;
  const cudaError_t e =
      planDecodeAttention(s, dtype, static_cast<int32_t>(virtualLen), plan, opt);
  if (e == cudaSuccess)
    plan->sparse = true;
  return e;
}

cudaError_t decodeAttention(const DecodeAttentionArgs &a, const DecodeAttentionPlan &plan,
                            void *workspace, cudaStream_t stream) {
  const PagedAttentionShape &s = plan.shape;
  if (plan.stagesPerSplit <= 0 || plan.numSplits <= 0)
    return cudaErrorInvalidValue;
  if (s.batch == 0)
    return cudaSuccess;
  if (!a.q || !a.kCache || !a.vCache || !a.pageTable || !a.seqLens || !a.out)
    return cudaErrorInvalidValue;
  if (plan.workspaceBytes > 0 && !workspace)
    return cudaErrorInvalidValue;
  if (plan.sparse != (a.selected != nullptr) ||
      (a.selected && (!a.selectedCounts || a.maxSelected <= 0)))
    return cudaErrorInvalidValue;
  KernelEntry e;
  if (!findKernel(plan.dtype, s.headDim, s.group(), plan.variant, &e) ||
      e.headsPerCta != plan.headsPerCta)
    return cudaErrorInvalidValue;

  detail::DecodeParams p{};
  p.q = a.q;
  p.k = a.kCache;
  p.v = a.vCache;
  p.pageTable = a.pageTable;
  p.seqLens = a.seqLens;
  p.out = a.out;
  p.selected = a.selected;
  p.selCounts = a.selectedCounts;
  p.maxSelected = a.maxSelected;
  p.lse = a.lse;
  p.outF32 = a.outF32;
  p.freshTokens = a.selected ? 0 : std::max(a.freshTokens, 0);
  if (a.lenOffset < 0 || a.lenCap < 0 || a.qSeqGroup < 0 ||
      (a.qSeqGroup > 0 && (s.batch != 1 || s.group() % a.qSeqGroup != 0)))
    return cudaErrorInvalidValue;
  p.lenOffset = a.lenOffset;
  p.lenCap = a.lenCap;
  p.qSeqGroup = a.qSeqGroup;
  const int64_t pairs = static_cast<int64_t>(s.batch) * s.numKvHeads * plan.headChunks;
  if (plan.clusterMerge && !e.launchCluster)
    return cudaErrorInvalidValue;
  if (plan.numSplits > 1 && !plan.clusterMerge) {
    char *ws = static_cast<char *>(workspace);
    p.counters = reinterpret_cast<int32_t *>(ws);
    ws += alignUp(static_cast<size_t>(pairs) * 4);
    p.ml = reinterpret_cast<float2 *>(ws);
    ws += alignUp(static_cast<size_t>(pairs) * plan.numSplits * plan.headsPerCta *
                  sizeof(float2));
    p.opart = reinterpret_cast<float *>(ws);
  }
  p.numQHeads = s.numQHeads;
  p.numKvHeads = s.numKvHeads;
  p.group = s.group();
  p.pageSize = s.pageSize;
  p.maxPagesPerSeq = s.maxPagesPerSeq;
  p.stagesPerSplit = plan.stagesPerSplit;
  const float scale = a.scale != 0.0f ? a.scale : defaultAttentionScale(s.headDim);
  p.qScale = scale * 1.4426950408889634f;

  const dim3 grid = gridOf(s, plan.numSplits, plan.headChunks);
  return plan.clusterMerge ? e.launchCluster(p, grid, plan.smemBytes, stream)
                           : e.launch(p, grid, plan.smemBytes, stream);
}

} // namespace resa::gpu
