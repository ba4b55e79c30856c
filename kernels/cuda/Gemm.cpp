// cuBLASLt row-major GEMM with cached plans (resa/cuda/Gemm.h).
#include "resa/cuda/Gemm.h"

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace resa::gpu {
namespace {

void checkBlas(cublasStatus_t s, const char *what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw Error(std::string("cuBLASLt ") + what + ": " + cublasLtGetStatusString(s));
}

cudaDataType_t cudaTypeOf(DType t) {
  switch (t) {
  case DType::F32: return CUDA_R_32F;
  case DType::BF16: return CUDA_R_16BF;
  case DType::F16: return CUDA_R_16F;
  default: throw Error(std::string("gemm: unsupported dtype ") + dtypeName(t));
  }
}

// The largest power of two up to 256 dividing the address: cuBLASLt assumes
// 256-byte aligned buffers unless told otherwise, and a view (a fused
// weight's second half, a sliced activation) may be less aligned.
uint32_t alignmentOf(const void *p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  uint32_t align = 256;
  while (align > 1 && a % align) align /= 2;
  return align;
}

struct PlanKey {
  int device;
  int64_t M, N, K, ldx, ldw, ldy;
  DType in, out;
  bool bias;
  uint32_t alignX, alignW, alignY, alignBias;
  size_t workspace;
  int rank;
  int64_t kSplit;

  auto tied() const {
    return std::tie(device, M, N, K, ldx, ldw, ldy, in, out, bias, alignX, alignW, alignY, alignBias, workspace,
                    rank, kSplit);
  }
  bool operator<(const PlanKey &o) const { return tied() < o.tied(); }
};

// Descriptors and the chosen algorithm for one PlanKey. cuBLASLt sees the
// transposed problem: A = W^T [N, K], B = X^T [K, M], D = Y^T [N, M].
struct Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};

  Plan() = default;
  Plan(const Plan &) = delete;
  Plan &operator=(const Plan &) = delete;
  ~Plan() {
    if (d) cublasLtMatrixLayoutDestroy(d);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (desc) cublasLtMatmulDescDestroy(desc);
  }
};

class Preference {
public:
  Preference() { checkBlas(cublasLtMatmulPreferenceCreate(&p_), "preference create"); }
  ~Preference() { cublasLtMatmulPreferenceDestroy(p_); }
  Preference(const Preference &) = delete;
  Preference &operator=(const Preference &) = delete;
  template <typename V> void set(cublasLtMatmulPreferenceAttributes_t attr, V v) {
    checkBlas(cublasLtMatmulPreferenceSetAttribute(p_, attr, &v, sizeof v), "preference attribute");
  }
  cublasLtMatmulPreference_t get() const { return p_; }

private:
  cublasLtMatmulPreference_t p_ = nullptr;
};

std::unique_ptr<Plan> makePlan(cublasLtHandle_t handle, const PlanKey &k, const GemmArgs &g) {
  auto plan = std::make_unique<Plan>();
  checkBlas(cublasLtMatmulDescCreate(&plan->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "matmul descriptor create");
  if (k.bias) {
    const cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
    checkBlas(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue),
              "epilogue attribute");
    // The heuristic reads the pointer's alignment from the descriptor.
    checkBlas(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias, sizeof g.bias),
              "bias attribute");
  }
  const cudaDataType_t in = cudaTypeOf(k.in), out = cudaTypeOf(k.out);
  const int64_t kSlice = k.K / k.kSplit;
  checkBlas(cublasLtMatrixLayoutCreate(&plan->a, in, uint64_t(k.N), uint64_t(kSlice), k.ldw), "layout create");
  checkBlas(cublasLtMatrixLayoutCreate(&plan->b, in, uint64_t(kSlice), uint64_t(k.M), k.ldx), "layout create");
  checkBlas(cublasLtMatrixLayoutCreate(&plan->d, out, uint64_t(k.N), uint64_t(k.M), k.ldy), "layout create");
  if (k.kSplit > 1) {
    // Slice s: W^T's columns (W's rows) and X^T's rows (X's columns) from
    // s kSlice on, and the s-th [M, ldy] block of Y.
    const int32_t count = static_cast<int32_t>(k.kSplit);
    const int64_t strides[3] = {kSlice * k.ldw, kSlice, k.M * k.ldy};
    cublasLtMatrixLayout_t layouts[3] = {plan->a, plan->b, plan->d};
    for (int i = 0; i < 3; ++i) {
      checkBlas(cublasLtMatrixLayoutSetAttribute(layouts[i], CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count,
                                                 sizeof count),
                "batch count");
      checkBlas(cublasLtMatrixLayoutSetAttribute(layouts[i], CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                                 &strides[i], sizeof strides[i]),
                "batch stride");
    }
  }

  Preference pref;
  pref.set(CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, uint64_t(k.workspace));
  pref.set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, k.alignW);
  pref.set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, k.alignX);
  pref.set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, k.alignY);
  pref.set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, k.alignY);
  // Sliced by the caller: no split-K reduction of cuBLASLt's own on top.
  if (k.kSplit > 1) pref.set(CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, uint32_t(CUBLASLT_REDUCTION_SCHEME_NONE));
  std::vector<cublasLtMatmulHeuristicResult_t> results(static_cast<size_t>(k.rank) + 1);
  int found = 0;
  checkBlas(cublasLtMatmulAlgoGetHeuristic(handle, plan->desc, plan->a, plan->b, plan->d, plan->d, pref.get(),
                                           k.rank + 1, results.data(), &found),
            "heuristic");
  if (found <= k.rank)
    throw Error("cuBLASLt: " + std::string(found < 1 ? "no algorithm" : "fewer algorithms than rank " +
                                                                             std::to_string(k.rank)) +
                " for Y[" + std::to_string(k.M) + ", " + std::to_string(k.N) + "] = X[" + std::to_string(k.M) +
                ", " + std::to_string(k.K) + "] W (" + dtypeName(k.in) + " -> " + dtypeName(k.out) + ")");
  plan->algo = results[static_cast<size_t>(k.rank)].algo;
  return plan;
}

} // namespace

void gemm(DeviceContext &ctx, const GemmArgs &g) {
  if (!ctx.blasLt) throw Error("gemm: the device context has no cuBLASLt handle");
  (void)cudaTypeOf(g.inType); // throws unless F32, BF16 or F16
  if (g.outType != g.inType && g.outType != DType::F32)
    throw Error(std::string("gemm: ") + dtypeName(g.inType) + " inputs cannot produce " + dtypeName(g.outType));
  if (g.M < 0 || g.N < 0 || g.K < 0 || g.ldx < g.K || g.ldw < g.N || g.ldy < g.N)
    throw Error("gemm: invalid sizes or leading dimensions");
  if (g.M == 0 || g.N == 0) return;
  if (g.K == 0) throw Error("gemm: the inner dimension is 0");
  if (g.heuristicRank < 0) throw Error("gemm: a negative heuristic rank");
  if (g.kSplit < 1 || g.K % g.kSplit != 0 || (g.kSplit > 1 && (g.outType != DType::F32 || g.bias)))
    throw Error("gemm: kSplit " + std::to_string(g.kSplit) + " needs K (" + std::to_string(g.K) +
                ") a multiple of it, fp32 partial outputs and no bias");

  const PlanKey key{ctx.device, g.M, g.N, g.K, g.ldx, g.ldw, g.ldy, g.inType, g.outType, g.bias != nullptr,
                    alignmentOf(g.x), alignmentOf(g.w), alignmentOf(g.y), g.bias ? alignmentOf(g.bias) : 0,
                    ctx.blasWorkspaceBytes, g.heuristicRank, g.kSplit};
  // One lock over lookup and launch: the bias pointer lives in the shared
  // descriptor, so two threads must not set it and launch interleaved.
  static std::mutex mutex;
  static std::map<PlanKey, std::unique_ptr<Plan>> plans;
  std::lock_guard<std::mutex> lock(mutex);
  cublasLtHandle_t handle = ctx.blasLt;
  auto it = plans.find(key);
  if (it == plans.end()) it = plans.emplace(key, makePlan(handle, key, g)).first;
  const Plan &plan = *it->second;
  if (g.bias)
    checkBlas(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias, sizeof g.bias),
              "bias attribute");
  const float alpha = 1.0f, beta = 0.0f;
  checkBlas(cublasLtMatmul(handle, plan.desc, &alpha, g.w, plan.a, g.x, plan.b, &beta, g.y, plan.d, g.y, plan.d,
                           &plan.algo, ctx.blasWorkspace, ctx.blasWorkspaceBytes, ctx.stream),
            "matmul");
}

BlasLtHandle::BlasLtHandle(size_t workspaceBytes) : workspaceBytes_(workspaceBytes) {
  cublasLtHandle_t h = nullptr;
  checkBlas(cublasLtCreate(&h), "create");
  handle_ = h;
  if (workspaceBytes_ == 0) return;
  const cudaError_t err = cudaMalloc(&workspace_, workspaceBytes_);
  if (err != cudaSuccess) {
    cublasLtDestroy(h);
    checkCuda(err, "cuBLASLt workspace of " + std::to_string(workspaceBytes_) + " bytes");
  }
}

BlasLtHandle::~BlasLtHandle() {
  cudaFree(workspace_);
  cublasLtDestroy(handle_);
}

void BlasLtHandle::attach(DeviceContext &ctx) const {
  ctx.blasLt = handle_;
  ctx.blasWorkspace = workspace_;
  ctx.blasWorkspaceBytes = workspaceBytes_;
}

} // namespace resa::gpu
