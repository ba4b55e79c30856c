// PTX helpers for shared-memory pipelines (sm_90): mbarriers, bulk and
// cp.async copies from global memory completing on an mbarrier, named
// barriers, L2 cache policies for streamed reads. Shared by
// the attention kernels and the few-row GEMM.
#pragma once

#include <cstdint>

namespace resa::gpu::detail {

__device__ __forceinline__ uint32_t smemAddr(const void *p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void mbarInit(uint64_t *bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smemAddr(bar)), "r"(count)
               : "memory");
}

__device__ __forceinline__ void fenceBarrierInit() {
  asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
}

__device__ __forceinline__ void mbarArriveExpectTx(uint64_t *bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smemAddr(bar)),
               "r"(bytes)
               : "memory");
}

__device__ __forceinline__ void mbarWait(uint64_t *bar, uint32_t parity) {
  const uint32_t addr = smemAddr(bar);
  uint32_t done = 0;
  do {
    asm volatile("{\n\t.reg .pred p;\n\t"
                 "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n\t"
                 "selp.u32 %0, 1, 0, p;\n\t}"
                 : "=r"(done)
                 : "r"(addr), "r"(parity)
                 : "memory");
  } while (!done);
}

// An L2 cache policy for data streamed through once (K/V in decode, the key
// summaries in scoring where the plan says): its lines are evicted first,
// so that a stream of tens of MB leaves what later kernels read back from
// L2 (the block scores, the split partials) where it is.
__device__ __forceinline__ uint64_t evictFirstPolicy() {
  uint64_t policy;
  asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(policy));
  return policy;
}

// A bulk copy global -> shared completing on `bar`, under an L2 `policy`.
__device__ __forceinline__ void bulkCopyG2S(void *dst, const void *src, uint32_t bytes,
                                            uint64_t *bar, uint64_t policy) {
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes.L2::cache_hint "
               "[%0], [%1], %2, [%3], %4;" ::"r"(smemAddr(dst)),
               "l"(src), "r"(bytes), "r"(smemAddr(bar)), "l"(policy)
               : "memory");
}

// A read-only 16-byte global load of data streamed through once: not kept
// in L1, the L2 asked to fetch the whole 256-byte span around it (the
// neighbouring lanes' loads), under an L2 `policy` where EvictFirst.
template <bool EvictFirst>
__device__ __forceinline__ uint4 loadStreamed16(const void *src, uint64_t policy) {
  uint4 r;
  if constexpr (EvictFirst)
    asm volatile("ld.global.nc.L1::no_allocate.L2::cache_hint.L2::256B.v4.u32 {%0, %1, %2, %3}, "
                 "[%4], %5;"
                 : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
                 : "l"(src), "l"(policy));
  else
    asm volatile("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
                 : "l"(src));
  return r;
}

__device__ __forceinline__ void mbarArrive(uint64_t *bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(smemAddr(bar)) : "memory");
}

// Copies 16 bytes global -> shared, or zero-fills them when !valid.
__device__ __forceinline__ void cpAsync16(uint32_t dst, const void *src, bool valid) {
  const int n = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(n)
               : "memory");
}

// Arrives on `bar` once this thread's earlier cp.async copies have landed
// (no pending count added: the barrier counts one arrival per thread).
__device__ __forceinline__ void cpAsyncArrive(uint64_t *bar) {
  asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];" ::"r"(smemAddr(bar))
               : "memory");
}

// bar.sync on barrier `id` (1-15; 0 is __syncthreads') for `threads` threads.
__device__ __forceinline__ void namedBarrier(int id, int threads) {
  asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(threads) : "memory");
}

} // namespace resa::gpu::detail
