// Gathers and scatters driven by index tensors: Gather, GatherND,
// GatherElements, ScatterND, ScatterElements, NonZero. Negative indices wrap
// once; anything still out of range is an error.
#include "Common.h"
#include "Ops.h"

#include <algorithm>

namespace resa::cpu {
namespace {

int64_t checkIndex(const char *op, int64_t i, int64_t dim) {
  int64_t j = i < 0 ? i + dim : i;
  if (j < 0 || j >= dim) fail(op, "index ", i, " out of range for a dimension of size ", dim);
  return j;
}

const Tensor &indicesInput(const char *op, const KernelArgs &args, size_t i) {
  const Tensor &t = args.required(i);
  if (t.dtype() != DType::I64 && t.dtype() != DType::I32)
    fail(op, "indices must be int64 or int32, got ", dtypeName(t.dtype()));
  return t;
}

enum class Reduction { None, Add, Mul, Max, Min };

Reduction reductionOf(const char *op, const KernelArgs &args) {
  std::string r = attrsOf(args).getString("reduction", "none");
  if (r == "none") return Reduction::None;
  if (r == "add") return Reduction::Add;
  if (r == "mul") return Reduction::Mul;
  if (r == "max") return Reduction::Max;
  if (r == "min") return Reduction::Min;
  fail(op, "unknown reduction '", r, "'");
}

// Calls write(dstOffset, srcOffset) for every scattered element; applies the
// reduction to a copy of data.
template <typename Visit>
void scatter(const char *op, const KernelArgs &args, std::vector<Tensor> &outputs, const Tensor &data,
             const Tensor &updates, Visit visit) {
  Reduction red = reductionOf(op, args);
  requireSameDType(op, data, updates);
  Tensor y(data.dtype(), data.shape());
  std::memcpy(y.raw(), data.raw(), data.nbytes());
  if (red == Reduction::None) {
    dispatchBySize(op, data.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      visit([&](int64_t dst, int64_t src) { y.data<T>()[dst] = updates.data<T>()[src]; });
    });
  } else {
    dispatchNumeric(op, data.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T *py = y.data<T>();
      const T *pu = updates.data<T>();
      visit([&](int64_t dst, int64_t src) {
        T u = pu[src];
        switch (red) {
        case Reduction::Add: py[dst] = T(py[dst] + u); break;
        case Reduction::Mul: py[dst] = T(py[dst] * u); break;
        case Reduction::Max: py[dst] = std::max(py[dst], u); break;
        case Reduction::Min: py[dst] = std::min(py[dst], u); break;
        case Reduction::None: break;
        }
      });
    });
  }
  setOutput(outputs, args, 0, y);
}

} // namespace

namespace k {

RESA_KERNEL(Gather) {
  const char *op = "Gather";
  const Tensor &x = args.required(0);
  const Tensor &ind = indicesInput(op, args, 1);
  const GatherPlan plan = gatherPlan(x.shape(), ind.shape(), args);
  Tensor &y = allocOutput(outputs, args, 0, x.dtype(), plan.shape);
  int64_t outer = plan.outer, inner = plan.inner, dim = x.dim(plan.axis), n = ind.numel();
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[i] = checkIndex(op, ind.intAt(i), dim);
  size_t block = static_cast<size_t>(inner) * dtypeSize(x.dtype());
  auto *dst = static_cast<uint8_t *>(y.raw());
  const auto *src = static_cast<const uint8_t *>(x.raw());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < n; ++i)
      std::memcpy(dst + (o * n + i) * block, src + (o * dim + idx[i]) * block, block);
}

// GatherND with batch_dims: output = indices.shape[:-1] + data.shape[b + k:].
RESA_KERNEL(GatherND) {
  const char *op = "GatherND";
  const Tensor &x = args.required(0);
  const Tensor &ind = indicesInput(op, args, 1);
  int64_t b = attrsOf(args).getInt("batch_dims", 0);
  if (ind.rank() < 1) fail(op, "indices must have rank >= 1");
  int64_t kdim = ind.dim(ind.rank() - 1);
  if (b < 0 || b >= std::min(x.rank(), ind.rank()) || b + kdim > x.rank())
    fail(op, "indices ", shapeToString(ind.shape()), " do not fit data ", shapeToString(x.shape()), " with batch_dims ", b);
  int64_t batch = 1;
  for (int64_t d = 0; d < b; ++d) {
    if (x.dim(d) != ind.dim(d)) fail(op, "batch dimension ", d, " differs between data and indices");
    batch *= x.dim(d);
  }
  Shape out(ind.shape().begin(), ind.shape().end() - 1);
  out.insert(out.end(), x.shape().begin() + b + kdim, x.shape().end());
  Tensor &y = allocOutput(outputs, args, 0, x.dtype(), out);
  int64_t slice = 1, perBatchData = 1, tuples = 1;
  for (int64_t d = b + kdim; d < x.rank(); ++d) slice *= x.dim(d);
  for (int64_t d = b; d < x.rank(); ++d) perBatchData *= x.dim(d);
  for (int64_t d = b; d < ind.rank() - 1; ++d) tuples *= ind.dim(d);
  std::vector<int64_t> st = stridesOf(x.shape());
  size_t es = dtypeSize(x.dtype()), block = static_cast<size_t>(slice) * es;
  auto *dst = static_cast<uint8_t *>(y.raw());
  const auto *src = static_cast<const uint8_t *>(x.raw());
  for (int64_t bi = 0; bi < batch; ++bi)
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t tuple = bi * tuples + t, off = bi * perBatchData;
      for (int64_t j = 0; j < kdim; ++j) off += checkIndex(op, ind.intAt(tuple * kdim + j), x.dim(b + j)) * st[b + j];
      std::memcpy(dst + tuple * block, src + off * es, block);
    }
}

RESA_KERNEL(GatherElements) {
  const char *op = "GatherElements";
  const Tensor &x = args.required(0);
  const Tensor &ind = indicesInput(op, args, 1);
  int64_t axis = normAxis(op, attrsOf(args).getInt("axis", 0), x.rank());
  if (ind.rank() != x.rank()) fail(op, "indices and data must have the same rank");
  for (int64_t d = 0; d < x.rank(); ++d)
    if (d != axis && ind.dim(d) > x.dim(d)) fail(op, "indices ", shapeToString(ind.shape()), " exceed data ", shapeToString(x.shape()));
  Tensor &y = allocOutput(outputs, args, 0, x.dtype(), ind.shape());
  std::vector<int64_t> xst = stridesOf(x.shape()), st = xst;
  st[axis] = 0; // the axis coordinate comes from the index value
  const std::vector<int64_t> strides[1] = {st};
  dispatchBySize(op, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    forEachBroadcast(ind.shape(), strides, [&](int64_t o, const int64_t *off) {
      y.data<T>()[o] = x.data<T>()[off[0] + checkIndex(op, ind.intAt(o), x.dim(axis)) * xst[axis]];
    });
  });
}

RESA_KERNEL(ScatterElements) {
  const char *op = "ScatterElements";
  const Tensor &x = args.required(0);
  const Tensor &ind = indicesInput(op, args, 1);
  const Tensor &upd = args.required(2);
  int64_t axis = normAxis(op, attrsOf(args).getInt("axis", 0), x.rank());
  if (ind.shape() != upd.shape()) fail(op, "indices and updates shapes differ");
  if (ind.rank() != x.rank()) fail(op, "indices and data must have the same rank");
  std::vector<int64_t> xst = stridesOf(x.shape()), st = xst;
  st[axis] = 0;
  const std::vector<int64_t> strides[1] = {st};
  scatter(op, args, outputs, x, upd, [&](auto write) {
    forEachBroadcast(ind.shape(), strides, [&](int64_t o, const int64_t *off) {
      write(off[0] + checkIndex(op, ind.intAt(o), x.dim(axis)) * xst[axis], o);
    });
  });
}

RESA_KERNEL(ScatterND) {
  const char *op = "ScatterND";
  const Tensor &x = args.required(0);
  const Tensor &ind = indicesInput(op, args, 1);
  const Tensor &upd = args.required(2);
  if (ind.rank() < 1) fail(op, "indices must have rank >= 1");
  int64_t kdim = ind.dim(ind.rank() - 1);
  if (kdim > x.rank()) fail(op, "index tuples longer than the data rank");
  Shape want(ind.shape().begin(), ind.shape().end() - 1);
  want.insert(want.end(), x.shape().begin() + kdim, x.shape().end());
  if (upd.shape() != want) fail(op, "updates shape ", shapeToString(upd.shape()), ", expected ", shapeToString(want));
  int64_t slice = 1, tuples = ind.numel() / std::max<int64_t>(kdim, 1);
  if (kdim == 0) tuples = numElements(Shape(ind.shape().begin(), ind.shape().end() - 1));
  for (int64_t d = kdim; d < x.rank(); ++d) slice *= x.dim(d);
  std::vector<int64_t> st = stridesOf(x.shape());
  scatter(op, args, outputs, x, upd, [&](auto write) {
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t off = 0;
      for (int64_t j = 0; j < kdim; ++j) off += checkIndex(op, ind.intAt(t * kdim + j), x.dim(j)) * st[j];
      for (int64_t s = 0; s < slice; ++s) write(off + s, t * slice + s);
    }
  });
}

RESA_KERNEL(NonZero) {
  const char *op = "NonZero";
  const Tensor &x = args.required(0);
  std::vector<int64_t> hits;
  dispatchNumeric(op, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < x.numel(); ++i)
      if (x.data<T>()[i] != T(0)) hits.push_back(i);
  });
  int64_t r = x.rank(), n = static_cast<int64_t>(hits.size());
  Tensor &y = allocOutput(outputs, args, 0, DType::I64, {r, n});
  std::vector<int64_t> st = stridesOf(x.shape());
  for (int64_t j = 0; j < n; ++j)
    for (int64_t d = 0; d < r; ++d) y.data<int64_t>()[d * n + j] = (hits[j] / st[d]) % x.dim(d);
}

} // namespace k
} // namespace resa::cpu
