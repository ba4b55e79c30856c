// Few-row projections on CUDA cores (resa/cuda/Gemv.h).
#include "Launch.cuh"
#include "ops/Dispatch.cuh"
#include "resa/cuda/Gemv.h"

#include <cooperative_groups.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>

namespace resa::gpu {
namespace {

namespace cg = cooperative_groups;
using ops::fromFloat;
using ops::toFloat;

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kColLanes = 8;                   // lanes across a row: 8 x 16 bytes = one 128-byte line
constexpr int kCols = kColLanes * 8;           // 64 columns per block
constexpr int kSlots = kWarps * 32 / kColLanes; // 32 rows read at once by a block
constexpr int kUnroll = 4;                     // rows a thread has in flight (twice, double-buffered)
constexpr int kMaxSplits = 8;                  // the portable cluster size

struct Params {
  const void *x;
  const void *w;
  void *y;
  const void *bias;
  int64_t ldx, ldw, ldy;
  int K, N, kPerSplit;
};

// 8 weights (one 16-byte load) as floats.
template <typename T> __device__ __forceinline__ void unpack(const uint4 &v, float (&f)[8]) {
  const uint32_t u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    if constexpr (std::is_same_v<T, __nv_bfloat16>) {
      f[2 * i] = __uint_as_float(u[i] << 16);
      f[2 * i + 1] = __uint_as_float(u[i] & 0xFFFF0000u);
    } else {
      const float2 p = __half22float2(*reinterpret_cast<const __half2 *>(&u[i]));
      f[2 * i] = p.x;
      f[2 * i + 1] = p.y;
    }
  }
}

// Rows k, k + kSlots, ... (kUnroll of them) of this thread's 8 columns; zero
// past the split's end or past N (so the products there add nothing).
__device__ __forceinline__ void loadRows(uint4 (&r)[kUnroll], const uint4 *col, int64_t ldwVec,
                                         int k, int kEnd, bool colOk) {
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const int row = k + u * kSlots;
    r[u] = (colOk && row < kEnd) ? __ldg(col + row * ldwVec) : make_uint4(0, 0, 0, 0);
  }
}

template <typename T, typename TOut, int M>
__global__ void __launch_bounds__(kThreads) gemvKernel(const Params p) {
  __shared__ __align__(16) float red[kSlots][M][kCols];
  __shared__ float part[M][kCols];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  // Lanes 8j .. 8j + 7 of a warp read one row's 64 columns (one 128-byte
  // line): the block reads 32 rows at once, slot = the row's place among them.
  const int slot = warp * (32 / kColLanes) + lane / kColLanes;
  const int colBase = blockIdx.x * kCols;
  const int col = colBase + (lane % kColLanes) * 8;
  const bool colOk = col < p.N;
  const int k0 = blockIdx.y * p.kPerSplit;  // the cluster spans the splits
  const int kEnd = min(p.K, k0 + p.kPerSplit);
  const int64_t ldwVec = p.ldw / 8;
  const uint4 *wcol = reinterpret_cast<const uint4 *>(static_cast<const T *>(p.w) + col);
  const T *x = static_cast<const T *>(p.x);

  // The weights do not depend on the previous kernel: the first rows are in
  // flight before waiting for it.
  uint4 cur[kUnroll], next[kUnroll];
  int k = k0 + slot;
  loadRows(cur, wcol, ldwVec, k, kEnd, colOk);
  detail::pdlWait();

  float acc[M][8];
#pragma unroll
  for (int m = 0; m < M; ++m)
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[m][j] = 0.0f;

  for (; k < kEnd; k += kUnroll * kSlots) {
    loadRows(next, wcol, ldwVec, k + kUnroll * kSlots, kEnd, colOk);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int row = k + u * kSlots;
      if (row >= kEnd) break;
      float wf[8];
      unpack<T>(cur[u], wf);
#pragma unroll
      for (int m = 0; m < M; ++m) {
        const float xv = toFloat(x[m * p.ldx + row]);
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[m][j] = fmaf(xv, wf[j], acc[m][j]);
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) cur[u] = next[u];
  }

  // The 32 slots' partial sums of each column, added in slot order.
#pragma unroll
  for (int m = 0; m < M; ++m) {
    float4 *dst = reinterpret_cast<float4 *>(&red[slot][m][(lane % kColLanes) * 8]);
    dst[0] = make_float4(acc[m][0], acc[m][1], acc[m][2], acc[m][3]);
    dst[1] = make_float4(acc[m][4], acc[m][5], acc[m][6], acc[m][7]);
  }
  __syncthreads();
  for (int i = tid; i < M * kCols; i += kThreads) {
    const int m = i / kCols, c = i % kCols;
    float s = 0.0f;
#pragma unroll 8
    for (int r = 0; r < kSlots; ++r) s += red[r][m][c];
    part[m][c] = s;
  }

  // The cluster's blocks (the splits of these columns) add their partial
  // sums in split order; block r writes the columns c with c % splits == r.
  cg::cluster_group cluster = cg::this_cluster();
  cluster.sync();
  const int splits = static_cast<int>(cluster.num_blocks());
  const int rank = static_cast<int>(cluster.block_rank());
  const TOut *bias = static_cast<const TOut *>(p.bias);
  TOut *y = static_cast<TOut *>(p.y);
  for (int i = tid; i < M * kCols; i += kThreads) {
    const int m = i / kCols, c = i % kCols;
    if (c % splits != rank || colBase + c >= p.N) continue;
    float s = 0.0f;
    for (int r = 0; r < splits; ++r) s += cluster.map_shared_rank(&part[m][0], r)[c];
    if (bias) s += toFloat(bias[colBase + c]);
    y[m * p.ldy + colBase + c] = fromFloat<TOut>(s);
  }
  // No block may leave while another still reads its shared memory.
  cluster.sync();
  detail::pdlLaunchDependents();
}

using KernelFn = void (*)(Params);

template <typename T, typename TOut> KernelFn pickRows(int64_t m) {
  switch (m) {
  case 1: return gemvKernel<T, TOut, 1>;
  case 2: return gemvKernel<T, TOut, 2>;
  case 3: return gemvKernel<T, TOut, 3>;
  case 4: return gemvKernel<T, TOut, 4>;
  default: return nullptr;
  }
}

KernelFn pickKernel(const GemmArgs &g) {
  const bool f32 = g.outType == DType::F32;
  if (g.inType == DType::BF16)
    return f32 ? pickRows<__nv_bfloat16, float>(g.M) : pickRows<__nv_bfloat16, __nv_bfloat16>(g.M);
  if (g.inType == DType::F16)
    return f32 ? pickRows<__half, float>(g.M) : pickRows<__half, __half>(g.M);
  return nullptr;
}

} // namespace

bool gemvApplies(const GemmArgs &g) {
  const bool narrow = g.inType == DType::BF16 || g.inType == DType::F16;
  return g.M >= 1 && g.M <= kGemvMaxRows && g.K >= 1 && g.K <= INT32_MAX && g.N >= 1 &&
         g.N <= INT32_MAX && narrow && (g.outType == g.inType || g.outType == DType::F32) &&
         g.N % 8 == 0 && g.ldw % 8 == 0 && g.ldx >= g.K && g.ldw >= g.N && g.ldy >= g.N &&
         reinterpret_cast<uintptr_t>(g.w) % 16 == 0;
}

bool gemvEnabled() {
  static const bool on = [] {
    const char *e = std::getenv("RESA_GEMV");
    return e && std::strcmp(e, "1") == 0;
  }();
  return on;
}

void gemv(DeviceContext &ctx, const GemmArgs &g) {
  if (!gemvApplies(g))
    throw Error("gemv: Y[" + std::to_string(g.M) + ", " + std::to_string(g.N) + "] = X W (" +
                dtypeName(g.inType) + " -> " + dtypeName(g.outType) +
                ") is not a few-row bf16/f16 product with 8-column aligned weights");
  const int tiles = static_cast<int>((g.N + kCols - 1) / kCols);
  // Enough blocks for two per SM where the columns alone give fewer; each
  // slot keeps at least kUnroll rows.
  int sms = 0;
  if (const cudaError_t e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, ctx.device);
      e != cudaSuccess)
    throw Error(std::string("gemv: SM count of device ") + std::to_string(ctx.device) + ": " +
                cudaGetErrorString(e));
  int splits = (2 * sms + tiles - 1) / tiles;
  splits = std::max(1, std::min({splits, kMaxSplits,
                                 static_cast<int>(g.K / (kSlots * kUnroll))}));
  const int kPerSplit = static_cast<int>((g.K + splits - 1) / splits);
  Params p{g.x, g.w, g.y, g.bias, g.ldx, g.ldw, g.ldy,
           static_cast<int>(g.K), static_cast<int>(g.N), kPerSplit};

  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(tiles, splits);
  cfg.blockDim = dim3(kThreads);
  cfg.stream = ctx.stream;
  cudaLaunchAttribute attr[2];
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = 1;
  attr[0].val.clusterDim.y = static_cast<unsigned>(splits);
  attr[0].val.clusterDim.z = 1;
  attr[1].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[1].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = 2;
  const cudaError_t e = cudaLaunchKernelEx(&cfg, pickKernel(g), p);
  if (e != cudaSuccess)
    throw Error(std::string("gemv: launch of ") + std::to_string(tiles) + " x " +
                std::to_string(splits) + " blocks: " + cudaGetErrorString(e));
}

} // namespace resa::gpu
