// MatMul (numpy semantics, batched with broadcasting) and Gemm.
#include "Common.h"
#include "Ops.h"

namespace resa::cpu {
namespace {

// C[M,N] += A[M,K] * B[K,N], all row-major with the given leading dimensions;
// i-k-j order so that the inner loop runs over contiguous rows of B and C.
template <typename T>
void gemmAcc(const T *a, int64_t lda, bool transA, const T *b, int64_t ldb, bool transB, T *c, int64_t ldc,
             int64_t M, int64_t N, int64_t K, T alpha) {
  for (int64_t i = 0; i < M; ++i) {
    T *crow = c + i * ldc;
    for (int64_t k = 0; k < K; ++k) {
      T av = alpha * (transA ? a[k * lda + i] : a[i * lda + k]);
      if (!transB) {
        const T *brow = b + k * ldb;
        for (int64_t j = 0; j < N; ++j) crow[j] += av * brow[j];
      } else {
        for (int64_t j = 0; j < N; ++j) crow[j] += av * b[j * ldb + k];
      }
    }
  }
}

} // namespace

namespace k {

RESA_KERNEL(MatMul) {
  const char *op = "MatMul";
  const Tensor &a = args.required(0), &b = args.required(1);
  requireSameDType(op, a, b);
  const MatMulPlan p = matMulPlan(a.shape(), b.shape());
  const int64_t M = p.M, N = p.N, K = p.K;
  Tensor &y = allocOutput(outputs, args, 0, a.dtype(), p.shape);
  std::vector<int64_t> offA = broadcastOffsets(p.batchA, p.batch), offB = broadcastOffsets(p.batchB, p.batch);
  dispatchArith(op, a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (size_t i = 0; i < offA.size(); ++i)
      gemmAcc<T>(a.data<T>() + offA[i] * M * K, K, false, b.data<T>() + offB[i] * K * N, N, false,
                 y.data<T>() + static_cast<int64_t>(i) * M * N, N, M, N, K, T(1));
  });
}

// Gemm: Y = alpha * op(A) * op(B) + beta * C, C unidirectionally broadcast.
RESA_KERNEL(Gemm) {
  const char *op = "Gemm";
  const Tensor &a = args.required(0), &b = args.required(1);
  const Tensor *c = args.input(2);
  const Attrs &at = attrsOf(args);
  bool tA = at.getInt("transA", 0) != 0, tB = at.getInt("transB", 0) != 0;
  float alpha = at.getFloat("alpha", 1.f), beta = at.getFloat("beta", 1.f);
  requireSameDType(op, a, b);
  if (a.rank() != 2 || b.rank() != 2) fail(op, "A and B must be 2-D");
  int64_t M = tA ? a.dim(1) : a.dim(0), K = tA ? a.dim(0) : a.dim(1);
  int64_t K2 = tB ? b.dim(1) : b.dim(0), N = tB ? b.dim(0) : b.dim(1);
  if (K != K2) fail(op, "inner dimensions differ: ", shapeToString(a.shape()), " x ", shapeToString(b.shape()));
  Tensor &y = allocOutput(outputs, args, 0, a.dtype(), {M, N});
  dispatchArith(op, a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T *py = y.data<T>();
    if (c && beta != 0.f) {
      requireSameDType(op, a, *c);
      if (broadcastShapes(op, c->shape(), {M, N}) != Shape{M, N})
        fail(op, "C of shape ", shapeToString(c->shape()), " does not broadcast to ", shapeToString({M, N}));
      std::vector<int64_t> off = broadcastOffsets(c->shape(), {M, N});
      for (int64_t i = 0; i < M * N; ++i) py[i] = static_cast<T>(beta) * c->data<T>()[off[i]];
    }
    gemmAcc<T>(a.data<T>(), a.dim(1), tA, b.data<T>(), b.dim(1), tB, py, N, M, N, K, static_cast<T>(alpha));
  });
}

} // namespace k
} // namespace resa::cpu
