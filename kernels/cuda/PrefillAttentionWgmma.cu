// Causal prefill attention over the paged KV cache on Hopper wgmma (sm_90a
// only; see resa/cuda/PrefillAttention.h for the semantics, and
// PrefillAttention.cu for the mma.sync kernel, the split-K merge and the host
// driver). FlashAttention-3 shape, with K/V gathered from 16-token pages:
//  - one thread block per (128 query rows = 128/group queries x the GQA
//    group's heads, KV head, sequence, split), as the mma.sync kernel;
//  - warpgroup 0 (producer, few registers) loads K and V tiles of 128 keys
//    into a ring of kStages stages, in the wgmma 128-byte-swizzle layout:
//    where the page size allows, one thread issues TMA loads (PageMaps) for
//    every tile whose keys all lie below the block's end: one per 64-column
//    half where the tile's pages are consecutive in the pool, else one per
//    page and half; otherwise (and for that last partial tile, whose key rows
//    past the end are zero-filled) all 128 threads gather 16-byte chunks
//    with cp.async (each key row's cache row found once, one tile ahead,
//    and shared through shared memory). A stage's arrival is signalled on a
//    "full" mbarrier (TMA bytes or cp.async arrivals), its release by the
//    consumers on an "empty" one; K and V have their own barriers (the
//    first tile's S = QK^T starts before its V lands);
//  - warpgroups 1 and 2 (consumers, 64 rows each, most registers) load their
//    Q rows once into swizzled shared memory and per tile compute
//    S = Q K^T (wgmma m64n128k16, A and B from shared memory, K-major), the
//    online softmax in base 2 on the accumulators (causal mask only on
//    diagonal tiles), then O += P V (wgmma, P from registers as bf16/f16, V
//    from shared memory as the transposed, MN-major B operand). The S GEMM of
//    tile i is issued before the PV GEMM of tile i-1, so the softmax of tile
//    i runs while the tensor cores do PV(i-1);
//  - epilogue and split-K partials exactly as the mma.sync kernel.
//
// Shared-memory operand layout (both Q and the K/V tiles, [rows][128] in
// bf16/f16): two column blocks of 64 elements, each [rows][64] with 128-byte
// rows; 16-byte chunk c of row r at chunk (c ^ (r % 8)) of its row (the
// 128-byte swizzle: address bits 4-6 XOR bits 7-9, so every block starts on a
// 1024-byte boundary). For the K-major operands (Q, K) a wgmma k-step of 16
// elements is a 32-byte step inside the 128-byte row (stride between 8-row
// groups SBO = 1024); V is read as MN-major B: 8-key groups at SBO = 1024,
// the two 64-dim column blocks at LBO = rows * 128.
#include "Launch.cuh"
#include "PrefillAttentionCommon.cuh"

#include <cuda.h>  // CUtensorMap (the driver's encoder is found at run time)
#include <cudaTypedefs.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>
#include <type_traits>

namespace resa::gpu::prefill {
namespace {

using detail::cpAsyncArrive;
using detail::mbarArrive;
using detail::mbarInit;
using detail::mbarWait;
using detail::namedBarrier;
using detail::smemAddr;

constexpr int kD = 128;
constexpr int kBN = kWgmmaKvTile;   // keys per tile
constexpr int kRows = 128;          // query rows per thread block
// K (and V) tiles in flight: 3 since the tiles come by TMA (2: 2-5% slower,
// the loads' latency showed; bench/NOTES.md, session 12).
constexpr int kStages = 3;
constexpr int kTileBytes = kBN * kD * 2;
constexpr int kQBytes = kRows * kD * 2;
constexpr int kOffK = kQBytes;
constexpr int kOffV = kOffK + kStages * kTileBytes;
constexpr int kOffBar = kOffV + kStages * kTileBytes;
constexpr int kBarriers = 4 * kStages;  // fullK, emptyK, fullV, emptyV
constexpr int kOffRows = kOffBar + kBarriers * 8;  // 2 x kBN cache rows (producer)
// + 1024: the dynamic shared memory is aligned up to the swizzle period.
constexpr size_t kSmemBytes = kOffRows + 2 * kBN * 4 + 1024;
constexpr int kProducerBarrier = 3;  // named barriers 1 and 2: the consumer warpgroups'
static_assert(kBN == 128, "one cache row per producer thread and key row");
constexpr int kConsumerWarps = 8;
// Producer 128 x 40 + consumers 256 x 232 <= 64K registers.
constexpr int kProducerRegs = 40;
constexpr int kConsumerRegs = 232;
static_assert(kSmemBytes <= 227 * 1024, "shared memory over the sm_90 limit");
static_assert(128 * kProducerRegs + 256 * kConsumerRegs <= 65536, "register file");

// Byte offset of 16-byte chunk c (0..15) of row r in a swizzled [rows][128]
// operand tile (layout in the file comment).
__device__ __forceinline__ uint32_t swizzled(int rows, int r, int c) {
  return static_cast<uint32_t>((c >> 3) * rows * 128 + r * 128 + (((c & 7) ^ (r & 7)) << 4));
}

// wgmma shared-memory matrix descriptor, 128-byte swizzle. Its low 14 bits
// are the start address / 16 (shared addresses here stay below 256 KiB), so
// desc + (bytes >> 4) describes the operand `bytes` further on: the loops
// below add constants to descriptors made once instead of rebuilding them.
__device__ __forceinline__ uint64_t matDesc(uint32_t addr, uint32_t lbo) {
  return static_cast<uint64_t>((addr & 0x3FFFF) >> 4) |
         (static_cast<uint64_t>(lbo >> 4) << 16) | (static_cast<uint64_t>(1024 >> 4) << 32) |
         (1ull << 62);
}
__device__ __forceinline__ uint64_t descPlus(uint64_t desc, uint32_t bytes) {
  return desc + (bytes >> 4);
}

// Generic-proxy writes (cp.async, st.shared) before, wgmma reads after.
__device__ __forceinline__ void fenceProxyAsync() {
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
}
__device__ __forceinline__ void wgFence() {
  asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
}
__device__ __forceinline__ void wgCommit() {
  asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
}
template <int N> __device__ __forceinline__ void wgWait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory");
}
// Pins accumulator registers at this point of the program: reads after a
// wgWait may not move above it, writes before a wgmma may not move below.
template <int N> __device__ __forceinline__ void pin(float (&r)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i)
    asm volatile("" : "+f"(r[i])::"memory");
}

// The 64 fp32 accumulators of an m64n128 wgmma, as asm operands %0..%63.
#define RESA_WGMMA_D_REGS                     \
  "%0, %1, %2, %3, %4, %5, %6, %7, "          \
  "%8, %9, %10, %11, %12, %13, %14, %15, "    \
  "%16, %17, %18, %19, %20, %21, %22, %23, "  \
  "%24, %25, %26, %27, %28, %29, %30, %31, "  \
  "%32, %33, %34, %35, %36, %37, %38, %39, "  \
  "%40, %41, %42, %43, %44, %45, %46, %47, "  \
  "%48, %49, %50, %51, %52, %53, %54, %55, "  \
  "%56, %57, %58, %59, %60, %61, %62, %63"
#define RESA_WGMMA_D_OPERANDS                          \
  "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]),      \
  "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),      \
  "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]),    \
  "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),  \
  "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]),  \
  "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),  \
  "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]),  \
  "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),  \
  "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]),  \
  "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),  \
  "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]),  \
  "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),  \
  "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]),  \
  "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),  \
  "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]),  \
  "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])

// D (64 x 128, fp32) = A (64 x 16, shared memory, K-major) * B (16 x 128,
// shared memory, K-major), plus D when scaleD != 0.
template <typename T>
__device__ __forceinline__ void wgmmaSS(float (&d)[64], uint64_t descA, uint64_t descB,
                                        int scaleD) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {" RESA_WGMMA_D_REGS
                 "}, %64, %65, p, 1, 1, 0, 0;\n}\n"
                 : RESA_WGMMA_D_OPERANDS
                 : "l"(descA), "l"(descB), "r"(scaleD));
  else
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {" RESA_WGMMA_D_REGS
                 "}, %64, %65, p, 1, 1, 0, 0;\n}\n"
                 : RESA_WGMMA_D_OPERANDS
                 : "l"(descA), "l"(descB), "r"(scaleD));
}

// D (64 x 128, fp32) += A (64 x 16, registers) * B (16 x 128, shared memory,
// MN-major: the descriptor's matrix is transposed).
template <typename T>
__device__ __forceinline__ void wgmmaRS(float (&d)[64], const uint32_t (&a)[4], uint64_t descB) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {" RESA_WGMMA_D_REGS
                 "}, {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"
                 : RESA_WGMMA_D_OPERANDS
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(descB), "r"(1));
  else
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {" RESA_WGMMA_D_REGS
                 "}, {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"
                 : RESA_WGMMA_D_OPERANDS
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(descB), "r"(1));
}
#undef RESA_WGMMA_D_REGS
#undef RESA_WGMMA_D_OPERANDS

// S (64 x 128 keys) = Q (this warpgroup's 64 rows) K^T over the head dim;
// qDesc and kDesc describe the operands' first 16 columns (matDesc(., 16)).
template <typename T>
__device__ __forceinline__ void gemmQK(float (&s)[64], uint64_t qDesc, uint64_t kDesc) {
#pragma unroll
  for (int kk = 0; kk < kD / 16; ++kk) {
    // Column block kk / 4, 32-byte step kk % 4 inside the 128-byte rows; the
    // leading byte offset is unused for swizzled K-major operands.
    const uint32_t off = (kk & 3) * 32;
    wgmmaSS<T>(s, descPlus(qDesc, (kk >> 2) * (kRows * 128) + off),
               descPlus(kDesc, (kk >> 2) * (kBN * 128) + off), kk > 0);
  }
}

// O (64 x 128 dims) += P (64 x 128 keys, registers) V; vDesc describes the
// stage's V tile as the MN-major operand (matDesc(., kBN * 128)).
template <typename T>
__device__ __forceinline__ void gemmPV(float (&o)[64], const uint32_t (&pf)[kBN / 16][4],
                                       uint64_t vDesc) {
#pragma unroll
  for (int j = 0; j < kBN / 16; ++j)
    wgmmaRS<T>(o, pf[j], descPlus(vDesc, j * 16 * 128));
}

// P (fp32 accumulator layout) -> wgmma A fragments: k-step j covers keys
// 16j..16j+15 = accumulator column blocks 2j and 2j+1 (same layout as the
// mma.sync m16n8k16 A operand, per warp).
template <typename T>
__device__ __forceinline__ void toFragments(const float (&s)[64], uint32_t (&pf)[kBN / 16][4]) {
#pragma unroll
  for (int j = 0; j < kBN / 16; ++j) {
    pf[j][0] = pack2<T>(s[8 * j + 0], s[8 * j + 1]);
    pf[j][1] = pack2<T>(s[8 * j + 2], s[8 * j + 3]);
    pf[j][2] = pack2<T>(s[8 * j + 4], s[8 * j + 5]);
    pf[j][3] = pack2<T>(s[8 * j + 6], s[8 * j + 7]);
  }
}

// The caches' TMA descriptors: each cache as a 2-D tensor [rows][128]
// (row (page * numKvHeads + kvHead) * pageSize + slot), loaded in boxes of
// one page's rows x 64 columns with the 128-byte swizzle, which is the
// operand layout above (a page's box lands on a 1024-byte boundary of its
// column block); and (kRun, vRun, where a tile holds several pages) as a 4-D
// tensor [page][kvHead][slot][128] loaded in boxes of the tile's kBN /
// pageSize pages of one KV head x 64 columns: a tile whose pages are
// consecutive in the pool (a fresh cache hands a sequence its pages in
// order) comes in one box a half instead of one a page and half, the same
// bytes in the same layout. Boxes of one 16-token page (2 KB) held the
// kernel at 536 TFLOP/s at causal 32K, 128-token pages at 625 (session 17).
// tma == 0: no maps, the producer gathers every tile.
struct PageMaps {
  CUtensorMap k, v, kRun, vRun;
  int32_t tma, runs;
};
constexpr int kMaxTilePages = kBN / kMinMapPage;

__device__ __forceinline__ void tmaLoad(uint32_t dst, const CUtensorMap &map, int col, int row,
                                        uint64_t *bar) {
  asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes"
               " [%0], [%1, {%2, %3}], [%4];" ::"r"(dst),
               "l"(reinterpret_cast<uint64_t>(&map)), "r"(col), "r"(row), "r"(smemAddr(bar))
               : "memory");
}

__device__ __forceinline__ void tmaLoadRun(uint32_t dst, const CUtensorMap &map, int col, int g,
                                           int page, uint64_t *bar) {
  asm volatile("cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes"
               " [%0], [%1, {%2, %3, %4, %5}], [%6];" ::"r"(dst),
               "l"(reinterpret_cast<uint64_t>(&map)), "r"(col), "r"(0), "r"(g), "r"(page),
               "r"(smemAddr(bar))
               : "memory");
}

// One thread: key tile t (the i-th of the block) into its stage, K then V,
// each once the consumers have released the stage's tile before; the full
// barrier counts the bytes. The page ids are loaded before the first wait;
// consecutive ones (and run maps) take one box a half for the tile.
__device__ __forceinline__ void loadPages(const Params &p, const PageMaps &maps,
                                          const int32_t *table, int g, int t, int i, uint32_t sK,
                                          uint32_t sV, uint64_t *fullK, uint64_t *emptyK,
                                          uint64_t *fullV, uint64_t *emptyV) {
  const int st = i % kStages;
  const uint32_t use = i / kStages;
  const int pages = kBN >> p.psShift, page0 = (t * kBN) >> p.psShift;
  int id[kMaxTilePages];
#pragma unroll
  for (int j = 0; j < kMaxTilePages; ++j)
    id[j] = j < pages ? __ldg(table + page0 + j) : 0;
  bool run = maps.runs != 0;
#pragma unroll
  for (int j = 1; j < kMaxTilePages; ++j)
    run = run && (j >= pages || id[j] == id[0] + j);
#pragma unroll
  for (int kv = 0; kv < 2; ++kv) {
    uint64_t *full = (kv ? fullV : fullK) + st;
    if (i >= kStages)
      mbarWait((kv ? emptyV : emptyK) + st, (use - 1) & 1);
    detail::mbarArriveExpectTx(full, kTileBytes);
    const uint32_t stage = (kv ? sV : sK) + st * kTileBytes;
    if (run) {
      const CUtensorMap &map = kv ? maps.vRun : maps.kRun;
      tmaLoadRun(stage, map, 0, g, id[0], full);
      tmaLoadRun(stage + kBN * 128, map, 64, g, id[0], full);
      continue;
    }
    const CUtensorMap &map = kv ? maps.v : maps.k;
#pragma unroll
    for (int j = 0; j < kMaxTilePages; ++j)
      if (j < pages) {
        const uint32_t dst = stage + j * p.ps * 128;
        const int row = (id[j] * p.hkv + g) * p.ps;
        tmaLoad(dst, map, 0, row, full);
        tmaLoad(dst + kBN * 128, map, 64, row, full);
      }
  }
}

template <typename T>
__global__ void __launch_bounds__(kWgmmaThreads, 1)
    prefillWgmmaKernel(const __grid_constant__ Params p, const __grid_constant__ PageMaps maps) {
  extern __shared__ unsigned char smemRaw[];
  const uint32_t raw = smemAddr(smemRaw);
  const uint32_t base = (raw + 1023u) & ~1023u;
  uint64_t *bars = reinterpret_cast<uint64_t *>(smemRaw + (base - raw) + kOffBar);
  uint64_t *fullK = bars, *emptyK = bars + kStages;
  uint64_t *fullV = bars + 2 * kStages, *emptyV = bars + 3 * kStages;
  const uint32_t sQ = base, sK = base + kOffK, sV = base + kOffV;

  const int tid = threadIdx.x;
  const int wg = tid >> 7;  // 0: producer, 1 and 2: consumers
  if (tid == 0) {
    for (int s = 0; s < kStages; ++s) {
      // Every producer thread's cp.async arrival, or one arrival with the
      // TMA loads' bytes.
      mbarInit(fullK + s, maps.tma ? 1 : 128);
      mbarInit(fullV + s, maps.tma ? 1 : 128);
      mbarInit(emptyK + s, kConsumerWarps);  // lane 0 of every consumer warp
      mbarInit(emptyV + s, kConsumerWarps);
    }
    detail::fenceBarrierInit();
  }
  __syncthreads();

  BlockWork w;
  if (!blockWork<kBN>(p, w))
    return;
  const int b = w.b, g = w.g, qLen = w.qLen, q0 = w.q0, kvEnd = w.kvEnd, t0 = w.t0, n = w.n;
  const T *qg = static_cast<const T *>(p.q);

  if (wg == 0) {
    // ---- producer: load K and V tiles -------------------------------------
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(kProducerRegs));
    const int32_t *table = p.pageTable + static_cast<int64_t>(b) * p.maxPages;
    // With page maps, tiles whose keys all lie below kvEnd (every tile but
    // the last partial one) are copied by one thread, a TMA load per page
    // and 64-column half, straight into the swizzled layout: the gather
    // below takes 32 copies and their address arithmetic per thread per
    // tile from the issue slots the consumers need (bench/NOTES.md,
    // session 12).
    int i = 0;
    if (maps.tma) {
      const int full = min(n, max(0, kvEnd / kBN - t0));
      // Lane 0 of warp 0 issues; its warp keeps step with it, so that every
      // warp reaches the gather's named barriers (bar.sync: aligned, the
      // whole warp) converged.
      if (tid < 32)
        for (; i < full; ++i) {
          if (tid == 0)
            loadPages(p, maps, table, g, t0 + i, i, sK, sV, fullK, emptyK, fullV, emptyV);
          __syncwarp();
        }
      i = full;
    }
    // The rest (every tile without page maps): all 128 threads gather with
    // cp.async, zero-filling keys from kvEnd on (their cache slots may hold
    // anything). Thread tid copies chunk c of rows r0 + 8j (j < 16) of every
    // tile: 16 threads cover one 256-byte token row (coalesced);
    // (r0 + 8j) % 8 == r0, so the swizzled destination of row r0 + 8j is
    // dst0 + 1024 j.
    const int c = tid & 15, r0 = tid >> 4;
    const uint32_t dst0 = swizzled(kBN, r0, c);
    // Producer thread tid finds the cache row (page, KV head, slot) of key
    // row tid of the next tile while the current tile's copies go out, and
    // shares it through shared memory (two buffers). Before, each 16-byte
    // copy loaded its page id (waiting for it: the copies' asm orders
    // memory) and divided by the page size: 2.1x slower (bench/NOTES.md).
    // A row index fits 32 bits: rows are 256 bytes (head dim 128), 2^32 of
    // them 1 TiB of keys.
    uint32_t *sRows = reinterpret_cast<uint32_t *>(smemRaw + (base - raw) + kOffRows);
    auto rowOf = [&](int t) -> uint32_t {
      const int tok = t * kBN + tid;
      if (tok >= kvEnd)
        return 0;
      const PageSlot at = pageSlot(p, tok);
      return (static_cast<uint32_t>(__ldg(table + at.page)) * p.hkv + g) * p.ps + at.slot;
    };
    auto gather = [&](const T *src, uint32_t stageBase, int t, const uint32_t *rowIds) {
#pragma unroll 4
      for (int j = 0; j < kBN / 8; ++j) {
        const int r = r0 + 8 * j;
        const bool ok = t * kBN + r < kvEnd;
        const T *from = ok ? src + static_cast<int64_t>(rowIds[r]) * kD + c * 8 : src;
        cpAsync16(stageBase + dst0 + j * 1024, from, ok);
      }
    };
    // Signals a gathered stage: every thread's copies arrive on `full`
    // (counting 128) or, where the TMA loads use the barriers (counting
    // one arrival plus bytes), the threads wait for their own copies and
    // one of them arrives.
    auto arrive = [&](uint64_t *full) {
      if (!maps.tma) {
        cpAsyncArrive(full);
        return;
      }
      asm volatile("cp.async.wait_all;" ::: "memory");
      namedBarrier(kProducerBarrier, 128);
      if (tid == 0)
        mbarArrive(full);
    };
    uint32_t next = i < n ? rowOf(t0 + i) : 0;
    for (; i < n; ++i) {
      const int st = i % kStages;
      const uint32_t use = i / kStages;
      uint32_t *rowIds = sRows + (i & 1) * kBN;
      // The barrier also orders this write after every read of the buffer
      // two tiles ago.
      rowIds[tid] = next;
      namedBarrier(kProducerBarrier, 128);
      if (i + 1 < n)
        next = rowOf(t0 + i + 1);
      if (i >= kStages)
        mbarWait(emptyK + st, (use - 1) & 1);
      gather(static_cast<const T *>(p.k), sK + st * kTileBytes, t0 + i, rowIds);
      arrive(fullK + st);
      if (i >= kStages)
        mbarWait(emptyV + st, (use - 1) & 1);
      gather(static_cast<const T *>(p.v), sV + st * kTileBytes, t0 + i, rowIds);
      arrive(fullV + st);
    }
    asm volatile("cp.async.wait_all;" ::: "memory");
  } else {
    // ---- consumers ---------------------------------------------------------
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(kConsumerRegs));
    const int cw = wg - 1;
    const int ctid = tid - 128 * wg;
    const int warp = ctid >> 5, lane = tid & 31;
    // This thread's two rows (accumulator rows lane/4 and lane/4 + 8 of its
    // warp's 16).
    const ThreadRows rows = threadRows(p, w, cw * 64 + warp * 16, lane);
    const int(&rowPos)[2] = rows.pos;
    const int warpMin = rows.warpMin;

    float o[64];
#pragma unroll
    for (int i = 0; i < 64; ++i)
      o[i] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};

    if (n > 0) {
      // This warpgroup's 64 Q rows -> shared memory (zero rows where invalid).
      for (int i = ctid; i < 64 * (kD / 8); i += 128) {
        const int r = cw * 64 + i / (kD / 8), c = i % (kD / 8);
        const int gh = r / p.bq, qi = q0 + r % p.bq;
        const bool ok = gh < p.group && qi < qLen;
        const T *src = ok ? qg + ((static_cast<int64_t>(b) * p.hq + g * p.group + gh) *
                                      p.maxQLen + qi) * kD + c * 8
                          : qg;
        cpAsync16(sQ + swizzled(kRows, r, c), src, ok);
      }
      cpCommit();
      cpWait<0>();
      fenceProxyAsync();
      namedBarrier(1 + cw, 128);
      const uint64_t qDesc = matDesc(sQ + cw * 64 * 128, 16);
      const uint64_t kDesc = matDesc(sK, 16), vDesc = matDesc(sV, kBN * 128);

      float s[64];
#pragma unroll
      for (int i = 0; i < 64; ++i)
        s[i] = 0.0f;
      uint32_t pf[kBN / 16][4];
      float alpha[2];
      auto release = [&](uint64_t *bar) {
        __syncwarp();
        if (lane == 0)
          mbarArrive(bar);
      };
      auto softmax = [&](int i) {
        const int tok0 = (t0 + i) * kBN;
        // s[nt * 4 + e] is the accumulator layout's s[nt][e].
        softmaxTile(reinterpret_cast<float(&)[kBN / 8][4]>(s), m, l, alpha, tok0,
                    tok0 + kBN - 1 > warpMin, rowPos, lane, p.scaleLog2);
      };

      // Tile 0: S, softmax.
      mbarWait(fullK, 0);
      fenceProxyAsync();
      wgFence();
      gemmQK<T>(s, qDesc, kDesc);
      wgCommit();
      wgWait<0>();
      pin(s);
      release(emptyK);
      softmax(0);
      toFragments<T>(s, pf);
      // Tile i: S(i) and PV(i-1) in flight; softmax(i) overlaps PV(i-1).
      for (int i = 1; i < n; ++i) {
        const int st = i % kStages, pst = (i - 1) % kStages;
        mbarWait(fullK + st, (i / kStages) & 1);
        mbarWait(fullV + pst, ((i - 1) / kStages) & 1);
        fenceProxyAsync();
        wgFence();
        gemmQK<T>(s, qDesc, descPlus(kDesc, st * kTileBytes));
        wgCommit();
        gemmPV<T>(o, pf, descPlus(vDesc, pst * kTileBytes));
        wgCommit();
        wgWait<1>();  // S(i) done
        pin(s);
        release(emptyK + st);
        softmax(i);
        wgWait<0>();  // PV(i-1) done
        pin(o);
        pin(s);
        release(emptyV + pst);
        // Late tiles seldom raise a row's maximum (alpha == 1 exactly when
        // none did): a warp whose rows kept theirs skips 64 multiplies.
        if (__any_sync(0xffffffffu, alpha[0] != 1.0f || alpha[1] != 1.0f)) {
#pragma unroll
          for (int k = 0; k < 64; ++k)
            o[k] *= alpha[(k >> 1) & 1];
        }
        toFragments<T>(s, pf);
      }
      const int lst = (n - 1) % kStages;
      mbarWait(fullV + lst, ((n - 1) / kStages) & 1);
      fenceProxyAsync();
      wgFence();
      gemmPV<T>(o, pf, descPlus(vDesc, lst * kTileBytes));
      wgCommit();
      wgWait<0>();
      pin(o);
      release(emptyV + lst);
    }

    // o[dt * 4 + e] is the accumulator layout's o[dt][e].
    storeRows<T, kD>(p, w, rows, reinterpret_cast<const float(&)[kD / 8][4]>(o), m, l, lane);
    detail::pdlLaunchDependents();
  }
}

using KernelFn = void (*)(Params, PageMaps);

// The driver's tensor-map encoder, found once through the runtime (nothing
// links libcuda).
PFN_cuTensorMapEncodeTiled_v12000 tensorMapEncoder() {
  static const PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void *f = nullptr;
    cudaDriverEntryPointQueryResult found{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault,
                                         &found) != cudaSuccess ||
        found != cudaDriverEntryPointSuccess)
      f = nullptr;
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(f);
  }();
  return fn;
}

// A cache of `rows` rows of kD 16-bit elements as PageMaps describes it:
// runs == false, the 2-D map (boxes of a page); true, the 4-D one (boxes of a
// tile's pages, kBN / pageSize of them, of one KV head).
cudaError_t encodeCacheMap(const void *cache, int64_t rows, int pageSize, int kvHeads, bool runs,
                           CUtensorMap *map) {
  const PFN_cuTensorMapEncodeTiled_v12000 encode = tensorMapEncoder();
  if (!encode)
    return cudaErrorNotSupported;
  const cuuint64_t row = kD * 2, ps = static_cast<cuuint64_t>(pageSize);
  const cuuint64_t pages = static_cast<cuuint64_t>(rows) / (ps * kvHeads);
  const cuuint64_t flat[2] = {kD, static_cast<cuuint64_t>(rows)};
  const cuuint64_t paged[4] = {kD, ps, static_cast<cuuint64_t>(kvHeads), pages};
  const cuuint64_t strides[3] = {row, row * ps, row * ps * kvHeads};
  const cuuint32_t flatBox[2] = {64, static_cast<cuuint32_t>(pageSize)};
  const cuuint32_t pagedBox[4] = {64, static_cast<cuuint32_t>(pageSize), 1,
                                  static_cast<cuuint32_t>(kBN / pageSize)};
  const cuuint32_t elementStrides[4] = {1, 1, 1, 1};
  const CUresult r = encode(map, CU_TENSOR_MAP_DATA_TYPE_UINT16, runs ? 4 : 2, const_cast<void *>(cache),
                            runs ? paged : flat, strides, runs ? pagedBox : flatBox, elementStrides,
                            CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                            CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  return r == CUDA_SUCCESS ? cudaSuccess : cudaErrorInvalidValue;
}

bool findKernel(KVDType dtype, int headDim, KernelFn *k) {
  if (headDim != kD)
    return false;
  if (dtype == KVDType::BF16)
    *k = prefillWgmmaKernel<__nv_bfloat16>;
  else if (dtype == KVDType::F16)
    *k = prefillWgmmaKernel<__half>;
  else
    return false;
  return true;
}

} // namespace

cudaError_t wgmmaPrepare(KVDType dtype, int headDim, int device, bool *supported,
                         size_t *smemBytes, int *blocksPerSm) {
  *supported = false;
  KernelFn k = nullptr;
  if (!findKernel(dtype, headDim, &k))
    return cudaSuccess;
  // Built for sm_90a only: the code runs on compute capability 9.0 alone.
  int major = 0, minor = 0;
  cudaError_t e;
  if ((e = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device)) !=
          cudaSuccess ||
      (e = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device)) !=
          cudaSuccess)
    return e;
  if (major != 9 || minor != 0)
    return cudaSuccess;
  if ((e = cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                static_cast<int>(kSmemBytes))) != cudaSuccess)
    return e;
  if ((e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(blocksPerSm, k, kWgmmaThreads,
                                                         kSmemBytes)) != cudaSuccess)
    return e;
  *smemBytes = kSmemBytes;
  *supported = true;
  return cudaSuccess;
}

cudaError_t wgmmaLaunch(const Params &p, KVDType dtype, int headDim, int64_t cacheRows,
                        bool pageLoads, dim3 grid, size_t smemBytes, cudaStream_t stream) {
  KernelFn k = nullptr;
  if (!findKernel(dtype, headDim, &k))
    return cudaErrorInvalidValue;
  PageMaps maps{};
  if (pageLoads) {
    cudaError_t e;
    if ((e = encodeCacheMap(p.k, cacheRows, p.ps, p.hkv, false, &maps.k)) != cudaSuccess ||
        (e = encodeCacheMap(p.v, cacheRows, p.ps, p.hkv, false, &maps.v)) != cudaSuccess)
      return e;
    maps.tma = 1;
    // Runs where a tile holds several pages (one page a tile: the 2-D boxes
    // are already one a half) and the pool holds a tile's worth of them.
    if (p.ps < kBN && cacheRows / (static_cast<int64_t>(p.hkv) * p.ps) >= kBN / p.ps) {
      if ((e = encodeCacheMap(p.k, cacheRows, p.ps, p.hkv, true, &maps.kRun)) != cudaSuccess ||
          (e = encodeCacheMap(p.v, cacheRows, p.ps, p.hkv, true, &maps.vRun)) != cudaSuccess)
        return e;
      maps.runs = 1;
    }
  }
  return detail::launchPdl(k, grid, dim3(kWgmmaThreads), smemBytes, stream, p, maps);
}

} // namespace resa::gpu::prefill
