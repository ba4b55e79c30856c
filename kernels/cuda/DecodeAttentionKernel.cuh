// The split-KV decode-attention kernels (see resa/cuda/DecodeAttention.h).
//
// Both kernels: one thread block = (split, KV head [, head chunk], sequence),
// on the grid (x = sequence, y = split, z = KV head x head chunk): the
// sequence varies fastest, so the blocks of all sequences for one (split,
// head) are scheduled together and read the same part of their contexts at
// the same time. Sequences that share pages (GSR's candidates, forked from
// one prompt) then fetch a shared page from HBM once and from L2 after.
// The block streams its range of the context through shared memory: bulk
// async copies (cp.async.bulk, the Hopper copy engine) of whole page chunks of
// K and V (4 KiB each for page 16, head dim 128) land in a ring of stages, each
// completing on its own mbarrier, so several stages of bytes are in flight with
// no registers tied up; the page ids of the block's range are read into shared
// memory once. The softmax is online, in base 2, with the running maximum
// raised only when it grows by more than 8 (rare rescales; terms stay below
// 2^8), accumulation in fp32. With one split the block writes the output;
// otherwise it writes its partial (max, sum, acc) and the last block of the
// (sequence, KV head) to finish merges all splits (finishBlock), so a call is
// one launch. The writer of an output row can also write the row's base-2
// log-sum-exp and write the row in fp32 (DecodeAttentionArgs::lse, outF32:
// partial results that shared-prefix decode merges).
//
// decodeAttentionTcKernel (the default): tensor cores (mma.sync m16n8k16),
// 4 warps, each with its own ring of stages; comments at its definition.
//
// decodeAttentionSimtKernel (the first version, kept as a bench variant):
// CUDA cores, 128 threads sharing one ring. Per stage:
//   - thread (tg, dl) owns the 8 head-dim elements [8 dl, 8 dl + 8) of the
//     tokens tg, tg + TG, ... of the stage (TG = 128 / (D / 8));
//   - scores: the thread's partial dot products for all HG query heads of the
//     group, then a butterfly reduce-scatter over the D/8 lanes of the token
//     group, then a per-warp shared-memory exchange, so every lane holds the
//     full scores of its own tokens;
//   - acc[g][8] += p * v for the same tokens; token groups merged at the end.
// It is issue-bound (about 565 instructions per thread per 32-token stage):
// see bench/NOTES.md.
#pragma once

#include "Launch.cuh"
#include "Mbarrier.cuh"

#include <cooperative_groups.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <atomic>
#include <cstdint>

namespace resa::gpu::detail {

struct DecodeParams {
  const void *q;
  const void *k;
  const void *v;
  const int32_t *pageTable;
  const int32_t *seqLens;
  void *out;
  float2 *ml;         // [batch][numKvHeads * headChunks][splits][HG]: (max, sum)
  float *opart;       // [batch][numKvHeads * headChunks][splits][HG][D]: unnormalised acc
  int32_t *counters;  // [batch][numKvHeads * headChunks]
  // Block-sparse attention (null: dense): sequence b, KV head h attends to
  // the blocks (pages) selected[(b * numKvHeads + h) * maxSelected + i],
  // i < selCounts[b]: logical block indices, ascending.
  const int32_t *selected;
  const int32_t *selCounts;
  int32_t maxSelected;
  // Optional: the base-2 log-sum-exp of each (sequence, query head)'s scaled
  // scores, [batch][numQHeads] (DecodeAttentionArgs::lse); null: not written.
  float *lse;
  bool outF32;  // out is fp32 [batch][numQHeads][D] instead of T
  int32_t numQHeads;
  int32_t numKvHeads;
  int32_t group;
  int32_t pageSize;
  int32_t maxPagesPerSeq;
  int32_t stagesPerSplit;
  float qScale;  // scale * log2(e)
  // DecodeAttentionArgs::freshTokens; 0 when sparse (the selection is
  // written in the step) or none are known: decodeAttention sets it.
  int32_t freshTokens;
  int32_t lenOffset, lenCap, qSeqGroup;  // DecodeAttentionArgs' (shared-prefix decode)
};

// The row of q [batch * numQHeads][D] holding query head h of sequence b
// (DecodeAttentionArgs::qSeqGroup: a shared-prefix call's heads are the
// sequences' heads of each KV head, read where they are).
__device__ __forceinline__ int64_t qRowOf(const DecodeParams &p, int b, int h) {
  if (p.qSeqGroup == 0)
    return static_cast<int64_t>(b) * p.numQHeads + h;
  const int kvh = h / p.group, j = h - kvh * p.group;
  const int s = j / p.qSeqGroup;
  return static_cast<int64_t>(s) * p.numKvHeads * p.qSeqGroup + kvh * p.qSeqGroup + (j - s * p.qSeqGroup);
}

template <int D, int HG, int ST, int NST, int ES> struct DecodeCfg {
  static constexpr int kThreads = 128;
  static constexpr int kWarps = kThreads / 32;
  static constexpr int kLanesD = D / 8;             // lanes covering one token row
  static constexpr int kTokGroups = kThreads / kLanesD;
  static constexpr int kTPT = ST / kTokGroups;      // tokens per thread per stage
  static constexpr int kNV = kTPT * HG;             // scores per thread per stage
  static constexpr int kGroupsPerWarp = 32 / kLanesD;
  static constexpr int kTileElems = ST * D;
  static constexpr int kStageBytes = 2 * kTileElems * ES;
  static constexpr int kScratchFloats = kWarps * kGroupsPerWarp * kNV;
  static constexpr int kRedFloats = kTokGroups * HG * D;
  static_assert(D % 8 == 0 && kThreads % kLanesD == 0, "bad head dim");
  static_assert(ST % kTokGroups == 0 && kTPT >= 1, "stage too short for the head dim");
  static_assert(kRedFloats * 4 <= NST * kStageBytes, "merge scratch does not fit");
  static size_t smemBytes(int ptCap) {
    return static_cast<size_t>(NST) * kStageBytes + kScratchFloats * 4 +
           static_cast<size_t>(ptCap) * 4;
  }
  // The final merge keeps splits x HG weights in the stage area.
  static constexpr int kMaxSplits = (NST * kStageBytes / 4) / HG;
};

// ---- element conversions -----------------------------------------------------

template <typename T> struct Elem;

template <> struct Elem<__nv_bfloat16> {
  __device__ __forceinline__ static void toFloat8(const uint4 &r, float (&f)[8]) {
    const uint32_t w[4] = {r.x, r.y, r.z, r.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      f[2 * i] = __uint_as_float(w[i] << 16);
      f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
    }
  }
  __device__ __forceinline__ static uint32_t pack2(float a, float b) {
    __nv_bfloat162 h = __floats2bfloat162_rn(a, b);
    return *reinterpret_cast<uint32_t *>(&h);
  }
};

template <> struct Elem<__half> {
  __device__ __forceinline__ static void toFloat8(const uint4 &r, float (&f)[8]) {
    const uint32_t w[4] = {r.x, r.y, r.z, r.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      __half2 h = *reinterpret_cast<const __half2 *>(&w[i]);
      float2 x = __half22float2(h);
      f[2 * i] = x.x;
      f[2 * i + 1] = x.y;
    }
  }
  __device__ __forceinline__ static uint32_t pack2(float a, float b) {
    __half2 h = __floats2half2_rn(a, b);
    return *reinterpret_cast<uint32_t *>(&h);
  }
};

// Butterfly reduce-scatter of N values over the LANES consecutive lanes of a
// group (LANES a power of two, groups aligned). Afterwards, if N >= LANES,
// lane dl holds the sums of indices [dl * N/LANES, (dl + 1) * N/LANES) in
// v[0 .. N/LANES); otherwise every lane holds the sum of index
// dl / (LANES / N) in v[0].
template <int N, int LANES> __device__ __forceinline__ void reduceScatter(float (&v)[N], int lane) {
  int n = N;
#pragma unroll
  for (int off = LANES / 2; off >= 1; off >>= 1) {
    if (n > 1) {
      const int half = n / 2;
      const bool upper = (lane & off) != 0;
#pragma unroll
      for (int i = 0; i < (N + 1) / 2; ++i) {
        if (i < half) {
          const float send = upper ? v[i] : v[i + half];
          const float keep = upper ? v[i + half] : v[i];
          v[i] = keep + __shfl_xor_sync(0xffffffffu, send, off);
        }
      }
      n = half;
    } else {
      v[0] += __shfl_xor_sync(0xffffffffu, v[0], off);
    }
  }
}

// ---- the block list (dense or block-sparse) -------------------------------------
//
// Both kernels iterate over a "virtual" sequence: for dense attention the
// sequence itself; for block-sparse attention the concatenation of the
// selected blocks of (b, kvh), in ascending order. Only the last logical
// block of a sequence can be partial, and it can only be the last selected
// one, so the valid virtual tokens are a prefix [0, returned length) and the
// kernels' masking is unchanged. *blocks is set to the block list (null for
// dense): virtual page i is pageTable[b][blocks ? blocks[i] : i].
__device__ __forceinline__ int virtualSeqLen(const DecodeParams &p, int b, int kvh,
                                             const int32_t **blocks) {
  const int seqLen = max(0, min(p.seqLens[b] - p.lenOffset, p.lenCap));
  if (!p.selected) {
    *blocks = nullptr;
    return seqLen;
  }
  const int32_t *list = p.selected + (static_cast<int64_t>(b) * p.numKvHeads + kvh) * p.maxSelected;
  *blocks = list;
  const int n = p.selCounts[b];
  if (n <= 0 || seqLen <= 0)
    return 0;
  const int last = __ldg(list + n - 1);
  return (n - 1) * p.pageSize + min(p.pageSize, seqLen - last * p.pageSize);
}

__device__ __forceinline__ int32_t pageIdAt(const int32_t *row, const int32_t *blocks, int i) {
  return __ldg(row + (blocks ? __ldg(blocks + i) : i));
}

// The stages each split of this sequence takes: its own stages shared
// evenly by the grid's splits (the plan is made for the longest sequence it
// serves, maybe longer than this one: a CUDA graph's length bucket), never
// more than planned (the page-id buffer's capacity).
__device__ __forceinline__ int splitStages(const DecodeParams &p, int nStagesSeq) {
  const int numSplits = gridDim.y;
  return max(1, min(p.stagesPerSplit, (nStagesSeq + numSplits - 1) / numSplits));
}

// A thread block's share of the step, on the grid both kernels use: sequence
// b, KV head kvh (z = kvh * headChunks + head chunk), query heads [h0, h0 +
// gCount), stages [st0, st0 + nSt) of ST tokens (split y of the sequence's
// seqLen tokens: virtual ones when sparse), pages from pBegin on, copied
// chunkTok rows at a time; decodeBlock also loads the pages' ids into pt
// (THREADS threads).
struct DecodeBlock {
  int b, split, yc, kvh, h0, gCount, seqLen, st0, nSt, pBegin, chunkTok;
};
template <int ST, int HG, int THREADS>
__device__ __forceinline__ DecodeBlock decodeBlock(const DecodeParams &p, int32_t *pt) {
  DecodeBlock w;
  w.b = blockIdx.x;
  w.split = blockIdx.y;
  w.yc = blockIdx.z;
  const int headChunks = gridDim.z / p.numKvHeads;
  w.kvh = w.yc / headChunks;
  const int chunk = w.yc % headChunks;
  w.h0 = w.kvh * p.group + chunk * HG;
  w.gCount = min(HG, p.group - chunk * HG);
  const int32_t *blocks;
  w.seqLen = virtualSeqLen(p, w.b, w.kvh, &blocks);
  const int nStagesSeq = (w.seqLen + ST - 1) / ST;
  const int sps = splitStages(p, nStagesSeq);
  w.st0 = w.split * sps;
  const int st1 = min(w.st0 + sps, nStagesSeq);
  w.nSt = max(st1 - w.st0, 0);
  const int ps = p.pageSize;
  w.chunkTok = min(ps, ST);
  const int tokEnd = min(st1 * ST, w.seqLen);
  w.pBegin = w.st0 * ST / ps;
  const int nPages = w.nSt > 0 ? (tokEnd - 1) / ps - w.pBegin + 1 : 0;
  const int32_t *row = p.pageTable + static_cast<int64_t>(w.b) * p.maxPagesPerSeq;
  for (int i = threadIdx.x; i < nPages; i += THREADS)
    pt[i] = pageIdAt(row, blocks, w.pBegin + i);
  return w;
}

// One stage's loads: the K and V rows of tokens [tok0, tok0 + nTok) of KV
// head kvh into kd / vd, a bulk copy per chunkTok rows (a page, or a stage
// where pages are larger), all arriving on `bar` with their bytes; pt holds
// the page ids from page pBegin on.
template <typename T, int D>
__device__ __forceinline__ void issueStage(const DecodeParams &p, const int32_t *pt, int pBegin,
                                           int kvh, int tok0, int nTok, int chunkTok, T *kd,
                                           T *vd, uint64_t *bar) {
  const int ps = p.pageSize;
  const int nChunks = (nTok + chunkTok - 1) / chunkTok;
  const uint32_t chunkBytes = static_cast<uint32_t>(chunkTok) * D * sizeof(T);
  mbarArriveExpectTx(bar, 2u * nChunks * chunkBytes);
  const T *kSrc = static_cast<const T *>(p.k);
  const T *vSrc = static_cast<const T *>(p.v);
  const uint64_t policy = evictFirstPolicy();  // each row is read once a step
  for (int c = 0; c < nChunks; ++c) {
    const int t = tok0 + c * chunkTok;
    const int page = pt[t / ps - pBegin];
    const int64_t src = ((static_cast<int64_t>(page) * p.numKvHeads + kvh) * ps + (t % ps)) * D;
    bulkCopyG2S(kd + c * chunkTok * D, kSrc + src, chunkBytes, bar, policy);
    bulkCopyG2S(vd + c * chunkTok * D, vSrc + src, chunkBytes, bar, policy);
  }
}

// ---- the end of a block, shared by both kernels -------------------------------------
//
// Output row `row` (= sequence * numQHeads + query head), elements
// [4 d4, 4 d4 + 4): A * inv, in T or (outF32) in fp32.
template <typename T, int D>
__device__ __forceinline__ void storeOut4(const DecodeParams &p, int64_t row, int d4,
                                          const float4 &A, float inv) {
  if (p.outF32) {
    reinterpret_cast<float4 *>(static_cast<float *>(p.out) + row * D)[d4] =
        make_float4(A.x * inv, A.y * inv, A.z * inv, A.w * inv);
    return;
  }
  uint2 packed;
  packed.x = Elem<T>::pack2(A.x * inv, A.y * inv);
  packed.y = Elem<T>::pack2(A.z * inv, A.w * inv);
  *reinterpret_cast<uint2 *>(static_cast<T *>(p.out) + row * D + 4 * d4) = packed;
}

// The base-2 log-sum-exp of a softmax state whose sum L is relative to the
// (finite) offset ms: log2(L * 2^ms); -inf when nothing was attended to.
__device__ __forceinline__ float stateLse(float ms, float L) {
  return L > 0.0f ? ms + log2f(L) : -__builtin_huge_valf();
}

// The merge scratch red[row][D] (row = part * HG + head) keeps the 16-byte
// chunks of row r permuted (chunk c at c ^ ((r >> 1) & 3)): the tensor-core
// kernel's lanes write 8 bytes each at rows 2 tq, 2 tq + 1 and dims 16 g +
// 2 mt, which in the plain layout fall into 4 of the 32 banks (16-way
// conflicts, ~0.3 us a block measured); permuted, each store takes the
// minimum two wavefronts. redAt: &red[row][d] (d % 4 kept within its chunk).
__device__ __forceinline__ int redIndex(int row, int d, int D) {
  return row * D + 4 * ((d >> 2) ^ ((row >> 1) & 3)) + (d & 3);
}
__device__ __forceinline__ float *redAt(float *red, int row, int d, int D) {
  return red + redIndex(row, d, D);
}
__device__ __forceinline__ const float *redAt(const float *red, int row, int d, int D) {
  return red + redIndex(row, d, D);
}

// The most splits merged in a thread-block cluster (Hopper's non-portable
// cluster size).
constexpr int kMaxClusterSplits = 16;

// Merges, in split order, the cluster's blocks' states of item (head g, dims
// [4 d4, 4 d4 + 4)): each block's (max, sum) at sMl[g] and acc at sAcc[g *
// D / 4 + d4] of its shared memory, read through distributed shared memory.
// All loads are issued before the arithmetic (one round trip).
template <int D>
__device__ __forceinline__ void mergeClusterItem(const cooperative_groups::cluster_group &cl,
                                                 int cs, const float2 *sMl, const float4 *sAcc,
                                                 int g, int d4, float &M, float &L, float4 &A) {
  constexpr float kNegInf = -__builtin_huge_valf();
  float2 ml[kMaxClusterSplits];
  float4 x[kMaxClusterSplits];
#pragma unroll
  for (int s = 0; s < kMaxClusterSplits; ++s)
    if (s < cs) {
      ml[s] = *cl.map_shared_rank(sMl + g, s);
      x[s] = *cl.map_shared_rank(sAcc + g * (D / 4) + d4, s);
    }
  M = kNegInf;
#pragma unroll
  for (int s = 0; s < kMaxClusterSplits; ++s)
    if (s < cs)
      M = fmaxf(M, ml[s].x);
  L = 0.0f;
  A = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
  for (int s = 0; s < kMaxClusterSplits; ++s)
    if (s < cs) {
      // A split that attended to nothing (m = -inf: l = 0, a zero partial)
      // weighs 0 (no inf - inf when every split is empty).
      const float w = ml[s].x == kNegInf ? 0.0f : exp2f(ml[s].x - M);
      L = fmaf(w, ml[s].y, L);
      A.x = fmaf(w, x[s].x, A.x);
      A.y = fmaf(w, x[s].y, A.y);
      A.z = fmaf(w, x[s].z, A.z);
      A.w = fmaf(w, x[s].w, A.w);
    }
}

// On entry `smem` (AREA bytes) holds the block's NPART partial states,
// red[part][g][d] (unnormalised acc, relative to sM[part * HG + g], with sums
// sL), and all threads have passed a barrier. Merges them; with one split
// writes the output, otherwise merges the splits' states of the (sequence, KV
// head [, head chunk]):
// - CLUSTER (the splits are one thread-block cluster along y): each block
//   keeps its state in shared memory, the cluster meets at a barrier and
//   every block merges its share of the items from all blocks' states
//   (mergeClusterItem), then meets again so that no state goes while read;
// - otherwise each block writes its state to the workspace and the last
//   block to finish merges them all.
// Whoever writes a row of the output also writes its lse (when p.lse is set).
template <typename T, int D, int HG, int NPART, int NTHREADS, int AREA, bool CLUSTER>
__device__ __forceinline__ void finishBlock(const DecodeParams &p, unsigned char *smem,
                                            const float *sM, const float *sL,
                                            int *sIsLast, int b, int yc, int split, int h0,
                                            int gCount) {
  constexpr float kNegInf = -__builtin_huge_valf();
  // The cluster path's state, after the NPART partials in the stage area.
  static_assert(!CLUSTER || (NPART + 1) * HG * D * 4 + HG * 8 <= AREA,
                "the block's state does not fit beside its partials");
  float4 *sAcc = reinterpret_cast<float4 *>(smem + NPART * HG * D * 4);
  float2 *sMl = reinterpret_cast<float2 *>(smem + (NPART + 1) * HG * D * 4);
  const int tid = threadIdx.x;
  const int numSplits = gridDim.y;
  const int numYc = gridDim.z;  // KV heads x head chunks
  const float *red = reinterpret_cast<const float *>(smem);
  const int64_t rowBase = static_cast<int64_t>(b) * p.numQHeads + h0;  // + g: the output row
  const int64_t pairIdx = static_cast<int64_t>(b) * numYc + yc;
  for (int o = tid; o < HG * D / 4; o += NTHREADS) {
    const int g = o / (D / 4);
    const int d4 = o % (D / 4);
    float M = kNegInf;
#pragma unroll
    for (int t = 0; t < NPART; ++t)
      M = fmaxf(M, sM[t * HG + g]);
    const float ms = M == kNegInf ? 0.0f : M;
    float L = 0.0f;
    float4 A = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
    for (int t = 0; t < NPART; ++t) {
      const float w = exp2f(sM[t * HG + g] - ms);
      L = fmaf(w, sL[t * HG + g], L);
      const float4 x = *reinterpret_cast<const float4 *>(redAt(red, t * HG + g, 4 * d4, D));
      A.x = fmaf(w, x.x, A.x);
      A.y = fmaf(w, x.y, A.y);
      A.z = fmaf(w, x.z, A.z);
      A.w = fmaf(w, x.w, A.w);
    }
    if (numSplits == 1) {
      if (g < gCount) {
        storeOut4<T, D>(p, rowBase + g, d4, A, L > 0.0f ? 1.0f / L : 0.0f);
        if (p.lse && d4 == 0)
          p.lse[rowBase + g] = stateLse(ms, L);
      }
    } else if constexpr (CLUSTER) {
      sAcc[g * (D / 4) + d4] = A;
      if (d4 == 0)
        sMl[g] = make_float2(M, L);
    } else {
      const int64_t slot = (pairIdx * numSplits + split) * HG + g;
      reinterpret_cast<float4 *>(p.opart)[slot * (D / 4) + d4] = A;
      if (d4 == 0)
        p.ml[slot] = make_float2(M, L);
    }
  }
  if (numSplits == 1)
    return;

  if constexpr (CLUSTER) {
    const cooperative_groups::cluster_group cl = cooperative_groups::this_cluster();
    cl.sync();
    const int items = HG * D / 4;
    const int per = (items + numSplits - 1) / numSplits;
    const int end = min(items, (split + 1) * per);
    for (int o = split * per + tid; o < end; o += NTHREADS) {
      const int g = o / (D / 4);
      const int d4 = o % (D / 4);
      if (g >= gCount)
        continue;
      float M, L;
      float4 A;
      mergeClusterItem<D>(cl, numSplits, sMl, sAcc, g, d4, M, L, A);
      storeOut4<T, D>(p, rowBase + g, d4, A, L > 0.0f ? 1.0f / L : 0.0f);
      if (p.lse && d4 == 0)
        p.lse[rowBase + g] = stateLse(M == kNegInf ? 0.0f : M, L);
    }
    cl.sync();
    return;
  }

  // The last block of this (sequence, KV head) to get here merges the splits.
  // One thread's counter update releases the whole block's partial state
  // (release is cumulative through the barrier before it, as a grid
  // barrier's arrival is) and acquires the others' for the last block, whose
  // threads read them after the barrier that follows (no fence in every
  // thread: -3 to -22 us a decode step end to end, with the permuted scratch).
  __syncthreads();
  if (tid == 0) {
    int prev;
    asm volatile("atom.add.acq_rel.gpu.global.s32 %0, [%1], 1;"
                 : "=r"(prev)
                 : "l"(p.counters + pairIdx)
                 : "memory");
    *sIsLast = prev == numSplits - 1;
  }
  __syncthreads();
  if (!*sIsLast)
    return;

  // One pass over the splits: each thread merges its (head, 4 dims) of every
  // split's partial state with an online rescale, so that a split's (m, l)
  // and its partial load together (one L2 round trip per unrolled batch of
  // splits, instead of three dependent ones: the maxima, the weights, the
  // partials) and no barrier is needed.
  const int64_t base = pairIdx * numSplits;
  const float4 *op = reinterpret_cast<const float4 *>(p.opart);
  for (int o = tid; o < HG * D / 4; o += NTHREADS) {
    const int g = o / (D / 4);
    const int d4 = o % (D / 4);
    if (g >= gCount)
      continue;
    float M = kNegInf, L = 0.0f;
    float4 A = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll 8
    for (int s = 0; s < numSplits; ++s) {
      const float2 ml = __ldcg(p.ml + (base + s) * HG + g);
      const float4 x = __ldcg(op + ((base + s) * HG + g) * (D / 4) + d4);
      // Selects, not branches, so that the unrolled loads go out together; a
      // split that attended to nothing (m = -inf: l = 0, a zero partial)
      // weighs 0, and a = 1 while both maxima are -inf (no inf - inf).
      const float Mn = fmaxf(M, ml.x);
      const float a = M == Mn ? 1.0f : exp2f(M - Mn);
      const float w = ml.x == kNegInf ? 0.0f : exp2f(ml.x - Mn);
      L = fmaf(L, a, w * ml.y);
      A.x = fmaf(A.x, a, w * x.x);
      A.y = fmaf(A.y, a, w * x.y);
      A.z = fmaf(A.z, a, w * x.z);
      A.w = fmaf(A.w, a, w * x.w);
      M = Mn;
    }
    storeOut4<T, D>(p, rowBase + g, d4, A, L > 0.0f ? 1.0f / L : 0.0f);
    if (p.lse && d4 == 0)
      p.lse[rowBase + g] = stateLse(M == kNegInf ? 0.0f : M, L);
  }
  if (tid == 0)
    p.counters[pairIdx] = 0;  // ready for the next call
}

// ---- the kernel ----------------------------------------------------------------

template <typename T, int D, int HG, int ST, int NST>
__global__ void __launch_bounds__(128) decodeAttentionSimtKernel(const DecodeParams p) {
  using C = DecodeCfg<D, HG, ST, NST, sizeof(T)>;
  constexpr int LD = C::kLanesD;
  constexpr int TG = C::kTokGroups;
  constexpr int TPT = C::kTPT;
  constexpr int NV = C::kNV;
  constexpr float kNegInf = -__builtin_huge_valf();

  extern __shared__ __align__(128) unsigned char smem[];
  __shared__ __align__(8) uint64_t fullBar[NST];
  __shared__ float sM[TG * HG];
  __shared__ float sL[TG * HG];
  __shared__ int sIsLast;

  T *tiles = reinterpret_cast<T *>(smem);
  float *scratch = reinterpret_cast<float *>(smem + NST * C::kStageBytes);
  int32_t *pt = reinterpret_cast<int32_t *>(scratch + C::kScratchFloats);

  const int tid = threadIdx.x;
  const int lane = tid & 31;
  const int warp = tid >> 5;
  const int dl = tid % LD;
  const int tg = tid / LD;

  // This block's work, and its page ids into shared memory.
  const DecodeBlock w = decodeBlock<ST, HG, C::kThreads>(p, pt);
  const int b = w.b, kvh = w.kvh, h0 = w.h0, gCount = w.gCount, seqLen = w.seqLen;
  const int st0 = w.st0, nSt = w.nSt, pBegin = w.pBegin, chunkTok = w.chunkTok;
  if (tid == 0) {
#pragma unroll
    for (int s = 0; s < NST; ++s)
      mbarInit(&fullBar[s], 1);
    fenceBarrierInit();
  }

  // The group's queries, pre-scaled, in registers: q[g][j] = q[h0+g][8 dl + j].
  float q[HG][8];
  {
#pragma unroll
    for (int g = 0; g < HG; ++g) {
      if (g < gCount) {
        const T *qg = static_cast<const T *>(p.q) + qRowOf(p, b, h0 + g) * D;
        const uint4 raw = __ldg(reinterpret_cast<const uint4 *>(qg + 8 * dl));
        Elem<T>::toFloat8(raw, q[g]);
#pragma unroll
        for (int j = 0; j < 8; ++j)
          q[g][j] *= p.qScale;
      } else {
#pragma unroll
        for (int j = 0; j < 8; ++j)
          q[g][j] = 0.0f;
      }
    }
  }
  __syncthreads();

  auto issue = [&](int it) {
    const int buf = it % NST;
    const int tok0 = (st0 + it) * ST;
    T *kd = tiles + buf * 2 * C::kTileElems;
    issueStage<T, D>(p, pt, pBegin, kvh, tok0, min(ST, seqLen - tok0), chunkTok, kd,
                     kd + C::kTileElems, &fullBar[buf]);
  };
  if (tid == 0) {
    const int n = min(NST, nSt);
    for (int it = 0; it < n; ++it)
      issue(it);
  }

  float m[HG], l[HG], acc[HG][8];
#pragma unroll
  for (int g = 0; g < HG; ++g) {
    m[g] = kNegInf;
    l[g] = 0.0f;
#pragma unroll
    for (int j = 0; j < 8; ++j)
      acc[g][j] = 0.0f;
  }

  float *sc = scratch + (warp * C::kGroupsPerWarp + (tg % C::kGroupsPerWarp)) * NV;

  for (int it = 0; it < nSt; ++it) {
    const int buf = it % NST;
    mbarWait(&fullBar[buf], static_cast<uint32_t>((it / NST) & 1));
    const T *kt = tiles + buf * 2 * C::kTileElems;
    const T *vt = kt + C::kTileElems;
    const int validInStage = seqLen - (st0 + it) * ST;

    // Partial scores.
    float s[NV];
    {
      uint4 raw[TPT];
#pragma unroll
      for (int i = 0; i < TPT; ++i)
        raw[i] = *reinterpret_cast<const uint4 *>(kt + (tg + TG * i) * D + 8 * dl);
#pragma unroll
      for (int i = 0; i < TPT; ++i) {
        float kf[8];
        Elem<T>::toFloat8(raw[i], kf);
#pragma unroll
        for (int g = 0; g < HG; ++g) {
          float a = q[g][0] * kf[0];
#pragma unroll
          for (int j = 1; j < 8; ++j)
            a = fmaf(q[g][j], kf[j], a);
          s[i * HG + g] = a;
        }
      }
    }
    reduceScatter<NV, LD>(s, lane);
    if constexpr (NV >= LD) {
      constexpr int R = NV / LD;
#pragma unroll
      for (int j = 0; j < R; ++j)
        sc[dl * R + j] = s[j];
    } else {
      constexpr int SUB = LD / NV;
      if (dl % SUB == 0)
        sc[dl / SUB] = s[0];
    }
    __syncwarp();
    if constexpr (NV % 4 == 0) {
#pragma unroll
      for (int j = 0; j < NV / 4; ++j) {
        const float4 x = reinterpret_cast<const float4 *>(sc)[j];
        s[4 * j] = x.x;
        s[4 * j + 1] = x.y;
        s[4 * j + 2] = x.z;
        s[4 * j + 3] = x.w;
      }
    } else {
#pragma unroll
      for (int j = 0; j < NV; ++j)
        s[j] = sc[j];
    }

    // Mask the tokens past the end of the sequence.
    bool valid[TPT];
#pragma unroll
    for (int i = 0; i < TPT; ++i) {
      valid[i] = tg + TG * i < validInStage;
#pragma unroll
      for (int g = 0; g < HG; ++g)
        s[i * HG + g] = valid[i] ? s[i * HG + g] : kNegInf;
    }

    // Online softmax (base 2); s becomes p.
#pragma unroll
    for (int g = 0; g < HG; ++g) {
      float mx = s[g];
#pragma unroll
      for (int i = 1; i < TPT; ++i)
        mx = fmaxf(mx, s[i * HG + g]);
      if (mx > m[g] + 8.0f) {
        const float alpha = exp2f(m[g] - mx);
        l[g] *= alpha;
#pragma unroll
        for (int j = 0; j < 8; ++j)
          acc[g][j] *= alpha;
        m[g] = mx;
      }
      const float ms = m[g] == kNegInf ? 0.0f : m[g];
#pragma unroll
      for (int i = 0; i < TPT; ++i) {
        const float pr = exp2f(s[i * HG + g] - ms);
        s[i * HG + g] = pr;
        l[g] += pr;
      }
    }

    // acc += p * v.
    {
      uint4 raw[TPT];
#pragma unroll
      for (int i = 0; i < TPT; ++i) {
        raw[i] = *reinterpret_cast<const uint4 *>(vt + (tg + TG * i) * D + 8 * dl);
        if (!valid[i])
          raw[i] = make_uint4(0u, 0u, 0u, 0u);
      }
#pragma unroll
      for (int i = 0; i < TPT; ++i) {
        float vf[8];
        Elem<T>::toFloat8(raw[i], vf);
#pragma unroll
        for (int g = 0; g < HG; ++g)
#pragma unroll
          for (int j = 0; j < 8; ++j)
            acc[g][j] = fmaf(s[i * HG + g], vf[j], acc[g][j]);
      }
    }

    __syncthreads();  // every thread is done with this buffer (and with sc)
    if (tid == 0 && it + NST < nSt)
      issue(it + NST);
  }

  // Merge the token groups of this block. No copy is in flight any more, so
  // the stage area is free.
  float *red = reinterpret_cast<float *>(smem);  // [TG][HG][D]
#pragma unroll
  for (int g = 0; g < HG; ++g) {
    const int row = tg * HG + g;
    *reinterpret_cast<float4 *>(redAt(red, row, 8 * dl, D)) =
        make_float4(acc[g][0], acc[g][1], acc[g][2], acc[g][3]);
    *reinterpret_cast<float4 *>(redAt(red, row, 8 * dl + 4, D)) =
        make_float4(acc[g][4], acc[g][5], acc[g][6], acc[g][7]);
  }
  if (dl == 0) {
#pragma unroll
    for (int g = 0; g < HG; ++g) {
      sM[tg * HG + g] = m[g];
      sL[tg * HG + g] = l[g];
    }
  }
  __syncthreads();

  finishBlock<T, D, HG, TG, C::kThreads, NST * C::kStageBytes, false>(p, smem, sM, sL, &sIsLast,
                                                                     b, w.yc, w.split, h0, gCount);
}


// ---- the tensor-core kernel ------------------------------------------------------
//
// Same split, same epilogue; NW warps per block, each with its own ring of
// NSTW stages of ST tokens (its own mbarriers, its lane 0 issues its copies),
// taking the block's stages round-robin, so no block-wide barrier is needed
// until the end. Per stage, with mma.sync m16n8k16 (fp32 accumulation):
//   S  = Q K^T : A = Q (rows = the 8 heads of the block, rows 8-15 zero; with
//                16 heads per block, rows 8-15 are heads 8-15),
//                B = K^T read straight from shared memory: lane (g, t) of a
//                quad holds chunks 4j + t of token g's row; the head-dim order
//                inside the k dimension is permuted the same way for Q and K,
//                which leaves the dot products unchanged;
//   softmax    : on the accumulator rows (a quad per head), base 2, running
//                max raised only when it grows by more than 8;
//   O^T += V^T P^T : A = V^T, packed from two token rows with PRMT (lane g
//                owns head-dim elements [g D/8, (g+1) D/8)), B = P^T straight
//                from the S accumulators (no shuffles); 16 heads: a second MMA
//                with heads 8-15's P (two n-tiles).
// 16 heads per block serve large packed groups (shared-prefix decode of N
// candidates packs N x group heads per KV head): each K/V tile is read once
// for all of them, at one more PV MMA per tile.
template <typename T> struct Mma;

template <> struct Mma<__nv_bfloat16> {
  __device__ __forceinline__ static void run(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2,
                                             uint32_t a3, uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, "
                 "{%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  }
};

template <> struct Mma<__half> {
  __device__ __forceinline__ static void run(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2,
                                             uint32_t a3, uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, "
                 "{%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  }
};

template <int D, int ST, int NSTW, int ES, int NW, int HG = 8> struct TcCfg {
  static_assert(HG == 8 || HG == 16, "8 or 16 heads per block (MMA rows)");
  static constexpr int kWarps = NW;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kHeads = HG;  // heads per block (MMA rows used)
  static constexpr int kTileElems = ST * D;
  static constexpr int kStageBytes = 2 * kTileElems * ES;
  static constexpr int kStageArea = kWarps * NSTW * kStageBytes;
  static_assert(D % 64 == 0 && ST % 16 == 0, "unsupported tile");
  static_assert(kWarps * kHeads * D * 4 <= kStageArea, "merge scratch does not fit");
  static size_t smemBytes(int ptCap) {
    return static_cast<size_t>(kStageArea) + static_cast<size_t>(ptCap) * 4;
  }
  static constexpr int kMaxSplits = (kStageArea / 4) / kHeads;
};

// CLUSTER: launched in clusters of the splits (finishBlock).
template <typename T, int D, int ST, int NSTW, int NW, int HG, bool CLUSTER>
__global__ void __launch_bounds__(NW * 32) decodeAttentionTcKernel(const DecodeParams p) {
  using C = TcCfg<D, ST, NSTW, sizeof(T), NW, HG>;
  constexpr bool kTwo = HG == 16;  // heads 8-15 in MMA rows 8-15
  constexpr int KSTEPS = D / 16;  // QK k-steps
  constexpr int NTILES = ST / 8;  // QK n-tiles (tokens)
  constexpr int PVK = ST / 16;    // PV k-steps (tokens)
  constexpr int MT = D / 16;      // PV m-tiles (head dim); words per lane per V row
  constexpr int TILE = C::kTileElems;
  constexpr float kNegInf = -__builtin_huge_valf();
  static_assert(KSTEPS % 2 == 0, "");

  extern __shared__ __align__(128) unsigned char smem[];
  __shared__ __align__(8) uint64_t fullBar[NW * NSTW];
  __shared__ float sM[NW * HG];
  __shared__ float sL[NW * HG];
  __shared__ int sIsLast;

  T *tiles = reinterpret_cast<T *>(smem);
  int32_t *pt = reinterpret_cast<int32_t *>(smem + C::kStageArea);

  const int tid = threadIdx.x;
  const int lane = tid & 31;
  const int warp = tid >> 5;
  const int g = lane >> 2;  // MMA group: head (S rows), token (K rows), dim block (V)
  const int tq = lane & 3;  // thread in quad

  // Launched with programmatic dependent launch, the block may start before
  // the previous kernel in the stream has finished: it waits for it before
  // the first global read (a no-op otherwise), or, in a dense step whose
  // fresh tokens are known (DecodeAttentionArgs::freshTokens), before reading
  // q and anything past the settled rows: the lengths and page table (staged
  // by a copy before the step's first kernel) and each warp's first stage of
  // settled K/V rows (written by earlier steps) are loaded while the kernels
  // before this one still run.
  const bool early = p.freshTokens > 0;
  if (!early)
    asm volatile("griddepcontrol.wait;" ::: "memory");

  // This block's work, and its page ids into shared memory.
  const DecodeBlock w = decodeBlock<ST, HG, C::kThreads>(p, pt);
  const int b = w.b, kvh = w.kvh, h0 = w.h0, gCount = w.gCount, seqLen = w.seqLen;
  const int st0 = w.st0, nSt = w.nSt, pBegin = w.pBegin, chunkTok = w.chunkTok;
  if (tid == 0) {
#pragma unroll
    for (int s = 0; s < NW * NSTW; ++s)
      mbarInit(&fullBar[s], 1);
    fenceBarrierInit();
  }

  uint64_t *bars = fullBar + warp * NSTW;
  T *wtiles = tiles + warp * NSTW * 2 * TILE;
  const int nW = nSt > warp ? (nSt - warp + NW - 1) / NW : 0;  // this warp's stages
  auto issue = [&](int i) {
    const int buf = i % NSTW;
    const int tok0 = (st0 + warp + i * NW) * ST;
    T *kd = wtiles + buf * 2 * TILE;
    issueStage<T, D>(p, pt, pBegin, kvh, tok0, min(ST, seqLen - tok0), chunkTok, kd, kd + TILE,
                     &bars[buf]);
  };

  // Stages issued before the wait (lane 0's count): the warp's first stage
  // if its rows are settled. One, not NSTW: the early bytes queue ahead of
  // the rotary append's reads that the wait is for (two stages a warp, 16 MB
  // at 1x16K, cost a dense Llama-3-8B step ~16 us; bench/NOTES.md, session 21).
  int issued = 0;
  if (early) {
    __syncthreads();  // the page ids and the barriers' initialisation
    if (lane == 0) {
      const int settled = seqLen - p.freshTokens;
      if (nW > 0 && min((st0 + warp + 1) * ST, seqLen) <= settled)
        issue(issued++);
    }
    asm volatile("griddepcontrol.wait;" ::: "memory");
  }

  // Q as the A operand (rows 0-7 = heads 0-7; rows 8-15 = heads 8-15 or,
  // with 8 heads, zero: a1 = a3 = 0): for k-steps 2j and 2j + 1, lane (g, tq)
  // holds the four words of chunk 4j + tq of head g (qa) and of head g + 8
  // (qb).
  uint32_t qa[KSTEPS][2], qb[KSTEPS][2];
  {
    const T *qrow = static_cast<const T *>(p.q) + qRowOf(p, b, h0 + g) * D;
    const T *qrow8 = static_cast<const T *>(p.q) + qRowOf(p, b, h0 + g + 8) * D;
#pragma unroll
    for (int j = 0; j < D / 32; ++j) {
      uint4 r = make_uint4(0u, 0u, 0u, 0u), r2 = make_uint4(0u, 0u, 0u, 0u);
      if (g < gCount)
        r = __ldg(reinterpret_cast<const uint4 *>(qrow + 8 * (4 * j + tq)));
      if (kTwo && g + 8 < gCount)
        r2 = __ldg(reinterpret_cast<const uint4 *>(qrow8 + 8 * (4 * j + tq)));
      qa[2 * j][0] = r.x;
      qa[2 * j][1] = r.y;
      qa[2 * j + 1][0] = r.z;
      qa[2 * j + 1][1] = r.w;
      qb[2 * j][0] = r2.x;
      qb[2 * j][1] = r2.y;
      qb[2 * j + 1][0] = r2.z;
      qb[2 * j + 1][1] = r2.w;
    }
  }
  __syncthreads();
  if (lane == 0) {
    const int n = min(NSTW, nW);
    for (int i = issued; i < n; ++i)
      issue(i);
  }

  float o[MT][4], o2[MT][4];  // O^T of heads 0-7 and (kTwo) 8-15
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
    o[mt][0] = o[mt][1] = o[mt][2] = o[mt][3] = 0.0f;
    o2[mt][0] = o2[mt][1] = o2[mt][2] = o2[mt][3] = 0.0f;
  }
  float m = kNegInf;  // running max of head g (quad-uniform)
  float l = 0.0f;     // this lane's part of the running sum of head g
  float m2 = kNegInf; // the same for head g + 8 (kTwo)
  float l2 = 0.0f;

  for (int i = 0; i < nW; ++i) {
    const int buf = i % NSTW;
    mbarWait(&bars[buf], static_cast<uint32_t>((i / NSTW) & 1));
    const T *kt = wtiles + buf * 2 * TILE;
    T *vt = wtiles + buf * 2 * TILE + TILE;
    const int validInStage = seqLen - (st0 + warp + i * NW) * ST;
    if (validInStage < ST) {
      // The sequence ends inside this stage: zero the V rows past its end
      // (they may hold anything; 0 * NaN would poison the MMA).
      constexpr int CPR = D / 8;
      for (int c = validInStage * CPR + lane; c < ST * CPR; c += 32)
        reinterpret_cast<uint4 *>(vt)[c] = make_uint4(0u, 0u, 0u, 0u);
      __syncwarp();
    }

    // S = Q K^T.
    float s[NTILES][4];
#pragma unroll
    for (int nt = 0; nt < NTILES; ++nt) {
      s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
      uint4 kr[D / 32];
#pragma unroll
      for (int j = 0; j < D / 32; ++j)
        kr[j] = *reinterpret_cast<const uint4 *>(kt + (nt * 8 + g) * D + 8 * (4 * j + tq));
#pragma unroll
      for (int j = 0; j < D / 32; ++j) {
        Mma<T>::run(s[nt], qa[2 * j][0], qb[2 * j][0], qa[2 * j][1], qb[2 * j][1], kr[j].x, kr[j].y);
        Mma<T>::run(s[nt], qa[2 * j + 1][0], qb[2 * j + 1][0], qa[2 * j + 1][1], qb[2 * j + 1][1],
                    kr[j].z, kr[j].w);
      }
    }

    // Scale, mask, running max of head g (and g + 8) over the quad.
    float mx = kNegInf, mx2 = kNegInf;
#pragma unroll
    for (int nt = 0; nt < NTILES; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const bool valid = nt * 8 + 2 * tq + e < validInStage;
        s[nt][e] = valid ? s[nt][e] * p.qScale : kNegInf;
        mx = fmaxf(mx, s[nt][e]);
        if constexpr (kTwo) {
          s[nt][2 + e] = valid ? s[nt][2 + e] * p.qScale : kNegInf;
          mx2 = fmaxf(mx2, s[nt][2 + e]);
        }
      }
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    if constexpr (kTwo) {
      mx2 = fmaxf(mx2, __shfl_xor_sync(0xffffffffu, mx2, 1));
      mx2 = fmaxf(mx2, __shfl_xor_sync(0xffffffffu, mx2, 2));
    }
    const bool raise = mx > m + 8.0f;
    const bool raise2 = kTwo && mx2 > m2 + 8.0f;
    if (__any_sync(0xffffffffu, raise || raise2)) {
      float alpha = 1.0f, alpha2 = 1.0f;
      if (raise) {
        alpha = exp2f(m - mx);
        m = mx;
        l *= alpha;
      }
      if (raise2) {
        alpha2 = exp2f(m2 - mx2);
        m2 = mx2;
        l2 *= alpha2;
      }
      // O rows here are heads 2 tq and 2 tq + 1 (+ 8 in o2), whose quads
      // start at lanes 8 tq and 8 tq + 4.
      const float a0 = __shfl_sync(0xffffffffu, alpha, 8 * tq);
      const float a1 = __shfl_sync(0xffffffffu, alpha, 8 * tq + 4);
      [[maybe_unused]] const float b0 = __shfl_sync(0xffffffffu, alpha2, 8 * tq);
      [[maybe_unused]] const float b1 = __shfl_sync(0xffffffffu, alpha2, 8 * tq + 4);
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        o[mt][0] *= a0;
        o[mt][1] *= a1;
        o[mt][2] *= a0;
        o[mt][3] *= a1;
        if constexpr (kTwo) {
          o2[mt][0] *= b0;
          o2[mt][1] *= b1;
          o2[mt][2] *= b0;
          o2[mt][3] *= b1;
        }
      }
    }
    const float ms = m == kNegInf ? 0.0f : m;
    [[maybe_unused]] const float ms2 = m2 == kNegInf ? 0.0f : m2;
    uint32_t pb[PVK][2];
    [[maybe_unused]] uint32_t pb2[PVK][2];
#pragma unroll
    for (int kk = 0; kk < PVK; ++kk) {
      const float p00 = exp2f(s[2 * kk][0] - ms);
      const float p01 = exp2f(s[2 * kk][1] - ms);
      const float p10 = exp2f(s[2 * kk + 1][0] - ms);
      const float p11 = exp2f(s[2 * kk + 1][1] - ms);
      l += (p00 + p01) + (p10 + p11);
      pb[kk][0] = Elem<T>::pack2(p00, p01);
      pb[kk][1] = Elem<T>::pack2(p10, p11);
      if constexpr (kTwo) {
        const float q00 = exp2f(s[2 * kk][2] - ms2);
        const float q01 = exp2f(s[2 * kk][3] - ms2);
        const float q10 = exp2f(s[2 * kk + 1][2] - ms2);
        const float q11 = exp2f(s[2 * kk + 1][3] - ms2);
        l2 += (q00 + q01) + (q10 + q11);
        pb2[kk][0] = Elem<T>::pack2(q00, q01);
        pb2[kk][1] = Elem<T>::pack2(q10, q11);
      }
    }

    // O^T += V^T P^T.
#pragma unroll
    for (int kk = 0; kk < PVK; ++kk) {
      const T *r0 = vt + (kk * 16 + 2 * tq) * D + (D / 8) * g;
      uint32_t w[4][MT];
#pragma unroll
      for (int rr = 0; rr < 4; ++rr) {
        const T *row = r0 + ((rr & 1) + 8 * (rr >> 1)) * D;  // tokens +0, +1, +8, +9
#pragma unroll
        for (int u = 0; u < MT / 4; ++u) {
          const uint4 x = *reinterpret_cast<const uint4 *>(row + 8 * u);
          w[rr][4 * u] = x.x;
          w[rr][4 * u + 1] = x.y;
          w[rr][4 * u + 2] = x.z;
          w[rr][4 * u + 3] = x.w;
        }
      }
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        const uint32_t a0 = __byte_perm(w[0][mt], w[1][mt], 0x5410);
        const uint32_t a1 = __byte_perm(w[0][mt], w[1][mt], 0x7632);
        const uint32_t a2 = __byte_perm(w[2][mt], w[3][mt], 0x5410);
        const uint32_t a3 = __byte_perm(w[2][mt], w[3][mt], 0x7632);
        Mma<T>::run(o[mt], a0, a1, a2, a3, pb[kk][0], pb[kk][1]);
        if constexpr (kTwo)
          Mma<T>::run(o2[mt], a0, a1, a2, a3, pb2[kk][0], pb2[kk][1]);
      }
    }

    __syncwarp();  // every lane is done with this buffer
    if (lane == 0 && i + NSTW < nW)
      issue(i + NSTW);
  }

  // The next kernel in the stream may start launching (it waits for this
  // grid to complete before reading anything).
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");

  // Merge the warps: red[warp][head][d].
  l += __shfl_xor_sync(0xffffffffu, l, 1);
  l += __shfl_xor_sync(0xffffffffu, l, 2);
  l2 += __shfl_xor_sync(0xffffffffu, l2, 1);
  l2 += __shfl_xor_sync(0xffffffffu, l2, 2);
  __syncthreads();  // every warp is out of its stages: the stage area is free
  float *red = reinterpret_cast<float *>(smem);
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
    const int d = (D / 8) * g + 2 * mt;
    *reinterpret_cast<float2 *>(redAt(red, warp * HG + 2 * tq, d, D)) =
        make_float2(o[mt][0], o[mt][2]);
    *reinterpret_cast<float2 *>(redAt(red, warp * HG + 2 * tq + 1, d, D)) =
        make_float2(o[mt][1], o[mt][3]);
    if constexpr (kTwo) {
      *reinterpret_cast<float2 *>(redAt(red, warp * HG + 8 + 2 * tq, d, D)) =
          make_float2(o2[mt][0], o2[mt][2]);
      *reinterpret_cast<float2 *>(redAt(red, warp * HG + 8 + 2 * tq + 1, d, D)) =
          make_float2(o2[mt][1], o2[mt][3]);
    }
  }
  if (tq == 0) {
    sM[warp * HG + g] = m;
    sL[warp * HG + g] = l;
    if constexpr (kTwo) {
      sM[warp * HG + 8 + g] = m2;
      sL[warp * HG + 8 + g] = l2;
    }
  }
  __syncthreads();
  finishBlock<T, D, HG, NW, C::kThreads, C::kStageArea, CLUSTER>(p, smem, sM, sL, &sIsLast, b,
                                                                  w.yc, w.split, h0, gCount);
}

// ---- per-instance host entry points ----------------------------------------------

struct KernelEntry {
  cudaError_t (*launch)(const DecodeParams &, dim3 grid, size_t smem, cudaStream_t);
  cudaError_t (*occupancy)(int *blocksPerSm, size_t smem);
  size_t (*smemBytes)(int ptCap);
  int headsPerCta;
  int stageTokens;
  int stages;
  int maxSplits;
  // The kernel that merges the splits in a thread-block cluster (grid.y
  // blocks along y; null where there is none): its launch, and how many of
  // its clusters fit on the device at once.
  cudaError_t (*launchCluster)(const DecodeParams &, dim3 grid, size_t smem, cudaStream_t);
  cudaError_t (*activeClusters)(int *clusters, dim3 grid, size_t smem);
};

// KC (optional): the cluster-merging form of kernel K.
template <typename C, void (*K)(DecodeParams), int HEADS, int ST, int NST, bool PDL = false,
          void (*KC)(DecodeParams) = nullptr>
struct InstanceOf {
  // Allows the kernel the device's whole opt-in shared memory (and, with
  // `cluster`, clusters of up to 16 blocks), once. (The limit is an
  // attribute of the kernel, which several instances may share: they all
  // set the same value. Occupancy and launches use the actual size.)
  template <void (*F)(DecodeParams), bool CLUSTER> static cudaError_t prepare() {
    static std::atomic<bool> done{false};
    if (done.load())
      return cudaSuccess;
    const void *f = reinterpret_cast<const void *>(F);
    cudaError_t e = allowOptinSharedMemory(f);
    if (e == cudaSuccess && CLUSTER)
      e = cudaFuncSetAttribute(f, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
    if (e == cudaSuccess)
      done = true;
    return e;
  }
  static cudaError_t launch(const DecodeParams &p, dim3 grid, size_t smem, cudaStream_t st) {
    cudaError_t e = prepare<K, false>();
    if (e != cudaSuccess)
      return e;
    if constexpr (PDL)
      return launchPdl(K, grid, dim3(C::kThreads), smem, st, p);
    K<<<grid, C::kThreads, smem, st>>>(p);
    return cudaGetLastError();
  }
  static cudaError_t occupancy(int *blocks, size_t smem) {
    cudaError_t e = prepare<K, false>();
    if (e != cudaSuccess)
      return e;
    return cudaOccupancyMaxActiveBlocksPerMultiprocessor(blocks, K, C::kThreads, smem);
  }
  // The cluster of a grid: its splits (y), one (sequence, KV head) each.
  static dim3 clusterOf(dim3 grid) { return dim3(1, grid.y, 1); }
  static cudaError_t launchCluster(const DecodeParams &p, dim3 grid, size_t smem,
                                   cudaStream_t st) {
    cudaError_t e = prepare<KC, true>();
    if (e != cudaSuccess)
      return e;
    return launchPdlClusters(clusterOf(grid), KC, grid, dim3(C::kThreads), smem, st, p);
  }
  static cudaError_t activeClusters(int *clusters, dim3 grid, size_t smem) {
    cudaError_t e = prepare<KC, true>();
    if (e != cudaSuccess)
      return e;
    return maxActiveClusters(clusters, reinterpret_cast<const void *>(KC), grid, dim3(C::kThreads),
                             smem, clusterOf(grid));
  }
  static KernelEntry entry() {
    KernelEntry e{&launch, &occupancy, &C::smemBytes, HEADS, ST, NST, C::kMaxSplits,
                  nullptr, nullptr};
    if constexpr (KC != nullptr) {
      e.launchCluster = &launchCluster;
      e.activeClusters = &activeClusters;
    }
    return e;
  }
};

// The CUDA-core kernel (heads per block HG = the GQA group rounded up).
template <typename T, int D, int HG, int ST, int NST>
using SimtInstance = InstanceOf<DecodeCfg<D, HG, ST, NST, sizeof(T)>,
                                decodeAttentionSimtKernel<T, D, HG, ST, NST>, HG, ST, NST>;
// The tensor-core kernel (HG = 8 or 16 heads per block).
// NW warps per block; PDL: launched with programmatic dependent launch.
template <typename T, int D, int ST, int NSTW, int NW = 4, bool PDL = true, int HG = 8>
using TcInstance = InstanceOf<TcCfg<D, ST, NSTW, sizeof(T), NW, HG>,
                              decodeAttentionTcKernel<T, D, ST, NSTW, NW, HG, false>, HG, ST,
                              NSTW, PDL>;
// The default: 32-token stages, 2 a warp, 4 warps, PDL, with its
// cluster-merging form.
template <typename T, int D, int HG>
using TcDefault = InstanceOf<TcCfg<D, 32, 2, sizeof(T), 4, HG>,
                             decodeAttentionTcKernel<T, D, 32, 2, 4, HG, false>, HG, 32, 2, true,
                             decodeAttentionTcKernel<T, D, 32, 2, 4, HG, true>>;

// The default kernel (variant 0) for storage T: tensor cores, 32-token
// stages, 2 a warp, 4 warps, PDL; 16 heads a block for groups over 8 (one
// K/V read for all). False where the head dim has none.
template <typename T> bool findDefaultKernel(int headDim, int group, KernelEntry *e) {
  if (headDim == 128) {
    *e = group > 8 ? TcDefault<T, 128, 16>::entry() : TcDefault<T, 128, 8>::entry();
    return true;
  }
  if (headDim == 64) {
    *e = group > 8 ? TcDefault<T, 64, 16>::entry() : TcDefault<T, 64, 8>::entry();
    return true;
  }
  return false;
}

// Defined in DecodeAttentionBf16.cu / DecodeAttentionF16.cu. Returns false
// when no kernel exists for the combination (group = query heads per KV head).
bool findKernelBf16(int headDim, int group, int variant, KernelEntry *e);
bool findKernelF16(int headDim, int group, int variant, KernelEntry *e);

} // namespace resa::gpu::detail
