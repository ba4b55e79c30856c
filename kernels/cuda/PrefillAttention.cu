// Chunked causal prefill attention over the paged KV cache (see
// resa/cuda/PrefillAttention.h). FlashAttention-2 structure:
//  - 8 warps, 128 query rows per thread block (16 per warp); the Q tile is
//    copied to shared memory once and kept in registers as mma A fragments;
//  - K/V tiles of 64 keys gathered from the pages by cp.async (16-byte chunks,
//    XOR-swizzled rows for conflict-free ldmatrix), double-buffered;
//  - S = Q K^T and O += P V with mma.sync.m16n8k16 (fp32 accumulators), online
//    softmax in registers (exp2 with the scale folded in), P reused from the S
//    accumulators as A fragments without shuffles;
//  - causal: a block streams keys only up to its last query's position, a warp
//    skips tiles past its own last query and masks only the diagonal tiles;
//    query tiles are launched longest first;
//  - split-K over the keys when the grid is small, merged by a second kernel.
// The wgmma kernel lives in PrefillAttentionWgmma.cu; the host driver below
// plans and launches either.
#include "Launch.cuh"
#include "PrefillAttentionCommon.cuh"
#include "resa/cuda/PrefillAttention.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <type_traits>
#include <cstdint>

namespace resa::gpu {
namespace {

using prefill::Params;
using prefill::PageSlot;
using prefill::pageSlot;
using prefill::cpAsync16;
using prefill::cpCommit;
using prefill::cpWait;
using prefill::pack2;
using prefill::ex2;
using prefill::softmaxTile;
using prefill::BlockWork;
using prefill::ThreadRows;
using prefill::blockWork;
using prefill::threadRows;
using prefill::storeRows;
using detail::smemAddr;

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kRows = kWarps * 16;  // 128
constexpr int kBN = 64;

__device__ __forceinline__ void ldsm4(uint32_t addr, uint32_t &r0, uint32_t &r1, uint32_t &r2,
                                      uint32_t &r3) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(addr));
}
__device__ __forceinline__ void ldsm4t(uint32_t addr, uint32_t &r0, uint32_t &r1, uint32_t &r2,
                                       uint32_t &r3) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(addr));
}
template <typename T>
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, "
                 "{%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, "
                 "{%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}
// Byte offset of 16-byte chunk `c` of row `r` in a [rows][D] tile (swizzled).
template <int D> __device__ __forceinline__ uint32_t tileOff(int r, int c) {
  return static_cast<uint32_t>((r * (D / 8) + (c ^ (r & 7))) * 16);
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreads, 1) prefillKernel(Params p) {
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  constexpr int kTileBytes = kBN * D * 2;
  extern __shared__ __align__(128) unsigned char smem[];
  const uint32_t sQ = smemAddr(smem);
  const uint32_t sK = sQ + kRows * D * 2;     // 2 stages
  const uint32_t sV = sK + 2 * kTileBytes;    // 2 stages

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  BlockWork w;
  if (!blockWork<kBN>(p, w))
    return;
  const int b = w.b, g = w.g, qLen = w.qLen, q0 = w.q0, kvEnd = w.kvEnd,
            t0 = w.t0, t1 = w.t0 + w.n;

  // This thread's two rows (g, g + 8 of the warp's 16).
  const ThreadRows rows = threadRows(p, w, warp * 16, lane);
  const int(&rowPos)[2] = rows.pos;
  const int warpMax = __reduce_max_sync(0xffffffffu, max(rowPos[0], rowPos[1]));
  const int warpMin = rows.warpMin;

  const T *qg = static_cast<const T *>(p.q);
  const T *kg = static_cast<const T *>(p.k);
  const T *vg = static_cast<const T *>(p.v);
  const int32_t *table = p.pageTable + static_cast<int64_t>(b) * p.maxPages;

  if (t0 < t1) {
    // Q tile -> shared memory (zero rows where invalid).
    for (int i = tid; i < kRows * kChunks; i += kThreads) {
      const int r = i / kChunks, c = i % kChunks;
      const int gh = r / p.bq, qi = q0 + r % p.bq;
      const bool ok = gh < p.group && qi < qLen;
      const T *src = ok ? qg + ((static_cast<int64_t>(b) * p.hq + g * p.group + gh) * p.maxQLen +
                                qi) * D + c * 8
                        : qg;
      cpAsync16(sQ + tileOff<D>(r, c), src, ok);
    }
    cpCommit();
  }
  auto loadKV = [&](int t, int stage) {
#pragma unroll
    for (int i = 0; i < kBN * kChunks / kThreads; ++i) {
      const int idx = tid + i * kThreads;
      const int r = idx / kChunks, c = idx % kChunks;
      const int tok = t * kBN + r;
      const bool ok = tok < kvEnd;
      int64_t off = 0;
      if (ok) {
        const PageSlot at = pageSlot(p, tok);
        off = ((static_cast<int64_t>(table[at.page]) * p.hkv + g) * p.ps + at.slot) * D + c * 8;
      }
      const uint32_t so = stage * kTileBytes + tileOff<D>(r, c);
      cpAsync16(sK + so, kg + off, ok);
      cpAsync16(sV + so, vg + off, ok);
    }
  };

  float o[D / 8][4];
#pragma unroll
  for (int i = 0; i < D / 8; ++i)
    o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};

  if (t0 < t1) {
    loadKV(t0, 0);
    cpCommit();
    cpWait<1>();
    __syncthreads();
    uint32_t qf[D / 16][4];
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk)
      ldsm4(sQ + tileOff<D>(warp * 16 + (lane & 15), kk * 2 + (lane >> 4)), qf[kk][0], qf[kk][1],
            qf[kk][2], qf[kk][3]);

    for (int t = t0; t < t1; ++t) {
      const int stage = (t - t0) & 1;
      if (t + 1 < t1)
        loadKV(t + 1, stage ^ 1);
      cpCommit();
      cpWait<1>();
      __syncthreads();
      const int tok0 = t * kBN;
      if (tok0 <= warpMax) {
        const uint32_t kBase = sK + stage * kTileBytes, vBase = sV + stage * kTileBytes;
        float s[kBN / 8][4];
#pragma unroll
        for (int i = 0; i < kBN / 8; ++i)
          s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < D / 16; ++kk) {
#pragma unroll
          for (int np = 0; np < kBN / 16; ++np) {
            uint32_t b0, b1, b2, b3;
            ldsm4(kBase + tileOff<D>(np * 16 + (lane & 7) + ((lane >> 4) << 3),
                                     kk * 2 + ((lane >> 3) & 1)),
                  b0, b1, b2, b3);
            mma16816<T>(s[2 * np], qf[kk], b0, b1);
            mma16816<T>(s[2 * np + 1], qf[kk], b2, b3);
          }
        }
        const bool mask = tok0 + kBN - 1 > warpMin;
        float alpha[2];
        softmaxTile(s, m, l, alpha, tok0, mask, rowPos, lane, p.scaleLog2);
#pragma unroll
        for (int dt = 0; dt < D / 8; ++dt) {
          o[dt][0] *= alpha[0];
          o[dt][1] *= alpha[0];
          o[dt][2] *= alpha[1];
          o[dt][3] *= alpha[1];
        }
#pragma unroll
        for (int j = 0; j < kBN / 16; ++j) {
          uint32_t a[4];
          a[0] = pack2<T>(s[2 * j][0], s[2 * j][1]);
          a[1] = pack2<T>(s[2 * j][2], s[2 * j][3]);
          a[2] = pack2<T>(s[2 * j + 1][0], s[2 * j + 1][1]);
          a[3] = pack2<T>(s[2 * j + 1][2], s[2 * j + 1][3]);
#pragma unroll
          for (int dp = 0; dp < D / 16; ++dp) {
            uint32_t b0, b1, b2, b3;
            ldsm4t(vBase + tileOff<D>(j * 16 + (lane & 7) + (((lane >> 3) & 1) << 3),
                                      dp * 2 + (lane >> 4)),
                   b0, b1, b2, b3);
            mma16816<T>(o[2 * dp], a, b0, b1);
            mma16816<T>(o[2 * dp + 1], a, b2, b3);
          }
        }
      }
      __syncthreads();
    }
  }
  cpWait<0>();

  storeRows<T, D>(p, w, rows, o, m, l, lane);
  detail::pdlLaunchDependents();
}

// One block of D threads per output row (b, h, i), i < qLens[b].
template <typename T, int D> __global__ void prefillMergeKernel(Params p) {
  const int64_t row = blockIdx.x;  // (b * hq + h) * maxQLen + i
  const int i = static_cast<int>(row % p.maxQLen);
  const int b = static_cast<int>(row / (static_cast<int64_t>(p.hq) * p.maxQLen));
  detail::pdlWait();
  if (i >= p.qLens[b])
    return;
  const int64_t stride = static_cast<int64_t>(p.batch) * p.hq * p.maxQLen;
  float mMax = -INFINITY;
  for (int s = 0; s < p.numSplits; ++s)
    mMax = fmaxf(mMax, p.partML[s * stride + row].x);
  float acc = 0.0f, wsum = 0.0f;
  for (int s = 0; s < p.numSplits; ++s) {
    const float2 ml = p.partML[s * stride + row];
    if (ml.y <= 0.0f)
      continue;
    const float w = ml.y * ex2(ml.x - mMax);
    acc += w * p.partO[(s * stride + row) * D + threadIdx.x];
    wsum += w;
  }
  const float r = wsum > 0.0f ? acc / wsum : 0.0f;
  T *dst = static_cast<T *>(p.out) + row * D + threadIdx.x;
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    *dst = __float2bfloat16_rn(r);
  else
    *dst = __float2half_rn(r);
  detail::pdlLaunchDependents();
}

template <typename T, int D> size_t smemFor() { return (kRows * D + 4 * kBN * D) * 2; }

struct Kernels {
  void (*main)(Params);
  void (*merge)(Params);
  size_t smem;
};

bool findKernels(KVDType dtype, int headDim, Kernels *k) {
  if (dtype == KVDType::BF16 && headDim == 128)
    *k = {prefillKernel<__nv_bfloat16, 128>, prefillMergeKernel<__nv_bfloat16, 128>,
          smemFor<__nv_bfloat16, 128>()};
  else if (dtype == KVDType::BF16 && headDim == 64)
    *k = {prefillKernel<__nv_bfloat16, 64>, prefillMergeKernel<__nv_bfloat16, 64>,
          smemFor<__nv_bfloat16, 64>()};
  else if (dtype == KVDType::F16 && headDim == 128)
    *k = {prefillKernel<__half, 128>, prefillMergeKernel<__half, 128>, smemFor<__half, 128>()};
  else if (dtype == KVDType::F16 && headDim == 64)
    *k = {prefillKernel<__half, 64>, prefillMergeKernel<__half, 64>, smemFor<__half, 64>()};
  else
    return false;
  return true;
}

} // namespace

cudaError_t planPrefillAttention(const PagedAttentionShape &shape, KVDType dtype,
                                 int32_t maxQLen, int32_t maxKvLen, PrefillAttentionPlan *plan,
                                 const PrefillAttentionOptions &options) {
  if (!plan || shape.batch < 1 || shape.numKvHeads < 1 || shape.numQHeads < 1 ||
      shape.numQHeads % shape.numKvHeads != 0 || shape.group() > kRows || shape.pageSize < 1 ||
      maxQLen < 1 || maxKvLen < 1)
    return cudaErrorInvalidValue;
  Kernels k;
  if (!findKernels(dtype, shape.headDim, &k))
    return cudaErrorInvalidValue;
  int dev = options.device;
  cudaError_t e;
  if (dev < 0 && (e = cudaGetDevice(&dev)) != cudaSuccess)
    return e;
  int sms = 0;
  if ((e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev)) != cudaSuccess)
    return e;
  // Auto is the wgmma kernel where it serves the shape and the device (1.7x
  // the mma.sync kernel's TFLOP/s at causal 32K on the H200, bench/NOTES.md).
  bool wgmma = false;
  size_t smem = k.smem;
  int perSm = 0;
  if (options.kernel != PrefillKernel::Mma &&
      (e = prefill::wgmmaPrepare(dtype, shape.headDim, dev, &wgmma, &smem, &perSm)) !=
          cudaSuccess)
    return e;
  if (!wgmma) {
    smem = k.smem;
    if ((e = cudaFuncSetAttribute(k.main, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(smem))) != cudaSuccess)
      return e;
    if ((e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&perSm, k.main, kThreads, smem)) !=
        cudaSuccess)
      return e;
  }
  if (perSm < 1)
    return cudaErrorInvalidConfiguration;
  PrefillAttentionPlan pl;
  pl.shape = shape;
  pl.dtype = dtype;
  pl.kernel = wgmma ? PrefillKernel::Wgmma : PrefillKernel::Mma;
  pl.maxQLen = maxQLen;
  pl.maxKvLen = maxKvLen;
  pl.rowsPerTile = kRows;
  pl.queriesPerTile = kRows / shape.group();
  pl.pageLoads = wgmma && !options.gatherPages && prefill::wgmmaPageLoadsServe(shape);
  pl.kvTile = wgmma ? prefill::kWgmmaKvTile : kBN;
  pl.threads = wgmma ? prefill::kWgmmaThreads : kThreads;
  pl.qTiles = (maxQLen + pl.queriesPerTile - 1) / pl.queriesPerTile;
  pl.numSms = sms;
  pl.blocksPerSm = perSm;
  const int64_t ctas = static_cast<int64_t>(pl.qTiles) * shape.batch * shape.numKvHeads;
  const int kvTiles = (maxKvLen + pl.kvTile - 1) / pl.kvTile;
  int splits = 1;
  if (options.forceSplits > 0)
    splits = options.forceSplits;
  else if (ctas < sms)
    splits = static_cast<int>(static_cast<int64_t>(sms) * perSm / ctas);
  splits = std::max(1, std::min(splits, kvTiles));
  pl.numSplits = splits;
  pl.smemBytes = smem;
  pl.workspaceBytes =
      splits > 1 ? static_cast<size_t>(splits) * shape.batch * shape.numQHeads * maxQLen *
                       (shape.headDim * sizeof(float) + sizeof(float2))
                 : 0;
  *plan = pl;
  return cudaSuccess;
}

cudaError_t prefillAttention(const PrefillAttentionArgs &args, const PrefillAttentionPlan &plan,
                             void *workspace, cudaStream_t stream) {
  Kernels k;
  if (!findKernels(plan.dtype, plan.shape.headDim, &k) || plan.qTiles < 1 ||
      (plan.kernel != PrefillKernel::Mma && plan.kernel != PrefillKernel::Wgmma))
    return cudaErrorInvalidValue;
  if (plan.numSplits > 1 && !workspace)
    return cudaErrorInvalidValue;
  const PagedAttentionShape &s = plan.shape;
  Params p{};
  p.q = args.q;
  p.k = args.kCache;
  p.v = args.vCache;
  p.out = args.out;
  p.pageTable = args.pageTable;
  p.qStart = args.qStart;
  p.qLens = args.qLens;
  p.batch = s.batch;
  p.hq = s.numQHeads;
  p.hkv = s.numKvHeads;
  p.group = s.group();
  p.ps = s.pageSize;
  p.psShift = -1;
  for (int shift = 0; shift < 31 && p.psShift < 0; ++shift)
    if (s.pageSize == 1 << shift)
      p.psShift = shift;
  p.maxPages = s.maxPagesPerSeq;
  p.maxQLen = plan.maxQLen;
  p.bq = plan.queriesPerTile;
  p.numSplits = plan.numSplits;
  const float scale = args.scale != 0.0f ? args.scale : defaultAttentionScale(s.headDim);
  if (!(scale > 0.0f))  // the softmax takes the maximum before scaling
    return cudaErrorInvalidValue;
  p.scaleLog2 = scale * 1.4426950408889634f;
  const size_t rows = static_cast<size_t>(plan.numSplits) * s.batch * s.numQHeads * plan.maxQLen;
  p.partO = static_cast<float *>(workspace);
  p.partML = workspace ? reinterpret_cast<float2 *>(static_cast<float *>(workspace) +
                                                    rows * s.headDim)
                       : nullptr;
  const dim3 grid(plan.qTiles, s.batch * s.numKvHeads, plan.numSplits);
  cudaError_t e =
      plan.kernel == PrefillKernel::Wgmma
          ? prefill::wgmmaLaunch(p, plan.dtype, s.headDim,
                                 static_cast<int64_t>(s.numPages) * s.numKvHeads * s.pageSize,
                                 plan.pageLoads, grid, plan.smemBytes, stream)
          : detail::launchPdl(k.main, grid, dim3(kThreads), plan.smemBytes, stream, p);
  if (e != cudaSuccess || plan.numSplits == 1)
    return e;
  return detail::launchPdl(k.merge, dim3(static_cast<unsigned>(s.batch * s.numQHeads *
                                                               plan.maxQLen)),
                           dim3(s.headDim), 0, stream, p);
}

} // namespace resa::gpu
