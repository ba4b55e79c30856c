// resa-bench-gemm: is batch-1 decode's distance to its byte floor in the
// projections? The Llama-3-8B decode step's GEMMs on cuBLASLt
// (resa::gpu::gemm, as the runtime calls it), bf16 weights [K, N], M = 1, 4
// and 8 rows, fp32 accumulation:
//  - per shape: 32 GEMMs over 32 distinct weight matrices (one per layer, so
//    none is served from the 50 MB L2), timed together, per GEMM: median
//    time, bytes (weights + x + y), achieved TB/s and its fraction of the copy
//    ceiling (cudaMemcpy D2D 2 GiB, read + write, same run);
//  - the step's chain: per layer q/k/v (4096 -> 6144), o (4096 -> 4096),
//    gate-up (4096 -> 28672), down (14336 -> 4096), then the logits (4096 ->
//    128256), captured once as a CUDA graph and replayed: its time against
//    the bytes over the ceiling, so the gaps between the 129 GEMMs count.
//  - --sweep: instead, at M = 1 each shape with cuBLASLt's heuristic results
//    of rank 0..15 (GemmArgs::heuristicRank; 0 is what the runtime runs).
//  - --ksplit: instead, the projections that cuBLASLt splits along K (o and
//    down) at M = 1 and 8, as the runtime runs them (bf16 out, cuBLASLt's own
//    split-K and reduction kernel) and as kSplit fp32 partial products
//    (GemmArgs::kSplit, one batched matmul, summed by the next kernel); and
//    q/k/v and gate-up the same way (cuBLASLt does not split them: what
//    slicing would buy).
//   resa-bench-gemm [--out FILE.json] [--sweep | --ksplit]
#include "resa/cuda/Gemm.h"

#include "BenchCheck.h"

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>


namespace {

constexpr int kLayers = 32;

struct Shape {
  const char *name;
  int64_t K, N;
};
const Shape kShapes[] = {{"qkv", 4096, 6144},
                         {"o", 4096, 4096},
                         {"gate_up", 4096, 28672},
                         {"down", 14336, 4096},
                         {"logits", 4096, 128256}};

__global__ void fillSmall(__nv_bfloat16 *p, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x) {
    uint32_t x = static_cast<uint32_t>(i) * 2654435761u ^ seed;
    x ^= x >> 15;
    p[i] = __float2bfloat16_rn((static_cast<float>(x & 0xFFFF) / 65536.0f - 0.5f) * 0.05f);
  }
}

template <typename F> double medianMs(int reps, F &&body) {
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  std::vector<float> t;
  for (int i = 0; i < reps; ++i) {
    CK(cudaEventRecord(e0));
    body();
    CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1));
    float ms;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    t.push_back(ms);
  }
  CK(cudaEventDestroy(e0));
  CK(cudaEventDestroy(e1));
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

double copyCeilingTBs() {
  const size_t bytes = size_t(2) << 30;
  void *a, *b;
  CK(cudaMalloc(&a, bytes));
  CK(cudaMalloc(&b, bytes));
  CK(cudaMemset(a, 1, bytes));
  const double ms = medianMs(10, [&] { CK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice)); });
  CK(cudaFree(a));
  CK(cudaFree(b));
  return 2.0 * bytes / (ms * 1e-3) / 1e12;
}

struct Row {
  std::string name, impl;
  int64_t M, K, N;
  double ms, bytes, tbs, ofCeiling;
};

} // namespace

int main(int argc, char **argv) {
  const char *out = nullptr;
  bool sweep = false, ksplit = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--out" && i + 1 < argc) out = argv[++i];
    else if (a == "--sweep") sweep = true;
    else if (a == "--ksplit") ksplit = true;
    else {
      std::fprintf(stderr, "usage: resa-bench-gemm [--out FILE.json] [--sweep | --ksplit]\n");
      return 2;
    }
  }
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("SKIPPED: resa-bench-gemm (no CUDA device)\n");
    return 0;
  }
  const double ceiling = copyCeilingTBs();
  std::printf("copy ceiling %.3f TB/s (read + write, 2 GiB)\n", ceiling);

  cudaStream_t stream;
  CK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  resa::gpu::BlasLtHandle blas;
  resa::gpu::DeviceContext ctx;
  ctx.stream = stream;
  blas.attach(ctx);

  // Per layer, every shape's weights (the logits' once: layer 0's slot only
  // is used by the chain); x and y sized for the widest and M = 8: y holds
  // the logits' bf16 row or the widest --ksplit partials (8 fp32 slices of
  // gate-up's 28672 columns).
  std::vector<std::vector<__nv_bfloat16 *>> w(std::size(kShapes),
                                               std::vector<__nv_bfloat16 *>(kLayers));
  for (size_t s = 0; s < std::size(kShapes); ++s)
    for (int l = 0; l < kLayers; ++l) {
      const size_t n = size_t(kShapes[s].K) * kShapes[s].N;
      CK(cudaMalloc(&w[s][l], n * 2));
      fillSmall<<<1024, 256>>>(w[s][l], n, static_cast<uint32_t>(s * 131 + l));
    }
  __nv_bfloat16 *x, *y;
  CK(cudaMalloc(&x, size_t(8) * 14336 * 2));
  CK(cudaMalloc(&y, std::max(size_t(8) * 128256 * 2, size_t(8) * 8 * 28672 * 4)));
  fillSmall<<<64, 256>>>(x, size_t(8) * 14336, 7);
  CK(cudaDeviceSynchronize());

  auto gemm = [&](const Shape &s, int64_t M, const __nv_bfloat16 *weights, int rank = 0, int kSplit = 1) {
    resa::gpu::GemmArgs g;
    g.M = M; g.N = s.N; g.K = s.K;
    g.x = x; g.ldx = s.K;
    g.w = weights; g.ldw = s.N;
    g.y = y; g.ldy = s.N;
    g.heuristicRank = rank;
    g.kSplit = kSplit;
    if (kSplit > 1) g.outType = resa::DType::F32;
    resa::gpu::gemm(ctx, g);
  };
  std::vector<Row> rows;
  const char *impl = "cublaslt";
  // One shape at M rows, heuristic rank `rank`, over the 32 layers' weights:
  // the median time of one GEMM.
  auto timeShape = [&](size_t si, int64_t M, int rank, int kSplit = 1) {
    auto all = [&] {
      for (int l = 0; l < kLayers; ++l) gemm(kShapes[si], M, w[si][l], rank, kSplit);
    };
    all(); // plans and warm-up
    CK(cudaStreamSynchronize(stream));
    return medianMs(9, [&] { all(); CK(cudaStreamSynchronize(stream)); }) / kLayers;
  };
  for (size_t si = 0; sweep && si < 4; ++si) {
    const Shape &s = kShapes[si];
    const double bytes = 2.0 * (s.K * s.N + s.K + s.N);
    for (int rank = 0; rank < 16; ++rank) {
      double ms;
      try {
        ms = timeShape(si, 1, rank);
      } catch (const std::exception &e) {
        std::printf("sweep %-8s M 1 rank %2d: %s\n", s.name, rank, e.what());
        break;
      }
      const double tbs = bytes / (ms * 1e-3) / 1e12;
      rows.push_back({s.name, "cublaslt-rank" + std::to_string(rank), 1, s.K, s.N, ms, bytes, tbs,
                      tbs / ceiling});
      std::printf("sweep %-8s M 1 rank %2d: %8.4f ms  %5.2f TB/s  %5.1f%% of the copy ceiling\n",
                  s.name, rank, ms, tbs, 100 * tbs / ceiling);
    }
  }
  for (size_t si : {size_t(0), size_t(1), size_t(2), size_t(3)}) {
    const Shape &s = kShapes[si];
    for (int64_t M : {1, 8}) {
      for (int kSplit : {1, 2, 4, 7, 8}) {
        if (!ksplit || s.K % kSplit)
          continue;
        // Bytes: the weights, x, and Y (bf16, or kSplit fp32 partials).
        const double bytes =
            2.0 * (s.K * s.N + M * s.K) + (kSplit > 1 ? 4.0 * kSplit : 2.0) * M * s.N;
        const double ms = timeShape(si, M, 0, kSplit);
        const double tbs = bytes / (ms * 1e-3) / 1e12;
        const std::string how = kSplit > 1 ? "ksplit" + std::to_string(kSplit) : "cublaslt";
        rows.push_back({s.name, how, M, s.K, s.N, ms, bytes, tbs, tbs / ceiling});
        std::printf("ksplit %-5s M %lld %-9s: %8.4f ms  %5.2f TB/s  %5.1f%% of the copy ceiling\n",
                    s.name, static_cast<long long>(M), how.c_str(), ms, tbs, 100 * tbs / ceiling);
      }
    }
  }
  for (int64_t M : {1, 4, 8}) {
    if (sweep || ksplit)
      break;
    for (size_t si = 0; si < std::size(kShapes); ++si) {
      const Shape &s = kShapes[si];
      const double ms = timeShape(si, M, 0);
      const double bytes = 2.0 * (s.K * s.N + M * s.K + M * s.N);
      const double tbs = bytes / (ms * 1e-3) / 1e12;
      rows.push_back({s.name, impl, M, s.K, s.N, ms, bytes, tbs, tbs / ceiling});
      std::printf("%-8s %-8s M %lld  K %6lld N %6lld: %8.4f ms  %6.1f MB  %5.2f TB/s  %5.1f%% of "
                  "the copy ceiling\n", impl, s.name, static_cast<long long>(M),
                  static_cast<long long>(s.K), static_cast<long long>(s.N), ms, bytes / 1e6, tbs,
                  100 * tbs / ceiling);
    }
    // The step's chain as one graph.
    auto chain = [&] {
      for (int l = 0; l < kLayers; ++l)
        for (size_t si = 0; si < 4; ++si) gemm(kShapes[si], M, w[si][l]);
      gemm(kShapes[4], M, w[4][0]);
    };
    chain();
    CK(cudaStreamSynchronize(stream));
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    CK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    chain();
    CK(cudaStreamEndCapture(stream, &graph));
    CK(cudaGraphInstantiate(&exec, graph, 0));
    const double ms = medianMs(15, [&] {
      CK(cudaGraphLaunch(exec, stream));
      CK(cudaStreamSynchronize(stream));
    });
    double bytes = 0;
    for (size_t si = 0; si < 5; ++si)
      bytes += (si < 4 ? kLayers : 1) *
               2.0 * (kShapes[si].K * kShapes[si].N + M * kShapes[si].K + M * kShapes[si].N);
    const double floorMs = bytes / (ceiling * 1e12) * 1e3;
    rows.push_back({"step_chain_graph", impl, M, 0, 0, ms, bytes, bytes / (ms * 1e-3) / 1e12,
                    bytes / (ms * 1e-3) / 1e12 / ceiling});
    std::printf("%-8s chain M %lld: 129 GEMMs in one graph %.3f ms, floor %.3f ms (%.2fx), %.2f "
                "TB/s\n", impl, static_cast<long long>(M), ms, floorMs, ms / floorMs,
                bytes / (ms * 1e-3) / 1e12);
    CK(cudaGraphExecDestroy(exec));
    CK(cudaGraphDestroy(graph));
  }
  if (out) {
    FILE *f = std::fopen(out, "w");
    std::fprintf(f, "{\"copy_ceiling_tbs\": %.4f, \"rows\": [\n", ceiling);
    for (size_t i = 0; i < rows.size(); ++i)
      std::fprintf(f, "  {\"name\": \"%s\", \"impl\": \"%s\", \"M\": %lld, \"K\": %lld, \"N\": %lld, \"ms\": %.5f, "
                   "\"bytes\": %.0f, \"tbs\": %.4f, \"of_ceiling\": %.4f}%s\n",
                   rows[i].name.c_str(), rows[i].impl.c_str(), static_cast<long long>(rows[i].M),
                   static_cast<long long>(rows[i].K), static_cast<long long>(rows[i].N), rows[i].ms,
                   rows[i].bytes, rows[i].tbs, rows[i].ofCeiling, i + 1 < rows.size() ? "," : "");
    std::fprintf(f, "]}\n");
    std::fclose(f);
  }
  return 0;
}
