// resa.embedding: rows of a [V, D] table gathered by integer ids, with
// Gather's negative-index wrap. A pure copy, in 16-byte units when the rows
// allow.
//
// Ids outside [-V, V) are an error on the CPU. The ids reach the device from
// the host (the runtime checks the prompt's and the sampled tokens against
// the vocabulary before uploading them), so the check happens there: here it
// is made on the host copy when the executor has one, and on the device an
// id out of range yields a row of zeros rather than a read out of bounds.
#include "LayerKernels.h"

#include <cstdint>

namespace resa::gpu::ops::layers {
namespace {

// out[r, :] = table[ids[r], :] in units of U (rowUnits per row).
template <typename U, typename I>
__global__ void gatherRows(const U *table, const I *ids, U *out, int64_t V, int64_t rowUnits, int64_t n) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = e / rowUnits, c = e % rowUnits;
    int64_t id = ids[r];
    if (id < 0) id += V;
    out[e] = id >= 0 && id < V ? table[id * rowUnits + c] : U{};
  }
}

template <typename U>
void launchGather(const DeviceTensor &table, const DeviceTensor &ids, DeviceTensor &y, int64_t rowBytes,
                  cudaStream_t stream) {
  const int64_t rowUnits = rowBytes / int64_t(sizeof(U)), n = ids.numel() * rowUnits;
  const int64_t V = table.dim(0);
  if (ids.dtype() == DType::I64)
    gatherRows<U, int64_t><<<gridFor(n), kBlock, 0, stream>>>(table.data<U>(), ids.data<int64_t>(), y.data<U>(), V,
                                                              rowUnits, n);
  else
    gatherRows<U, int32_t><<<gridFor(n), kBlock, 0, stream>>>(table.data<U>(), ids.data<int32_t>(), y.data<U>(), V,
                                                              rowUnits, n);
}

} // namespace

// table [V, D], ids (int64/int32, any shape) -> ids.shape + [D], the table's dtype.
void embedding(const DeviceKernelArgs &args, Outputs &outputs) {
  const char *op = "resa.embedding";
  const DeviceTensor &table = floatInput(op, args, 0, "table");
  const DeviceTensor &ids = args.required(1);
  if (table.rank() != 2) fail(op, "table must be 2-D, got ", shapeToString(table.shape()));
  if (ids.dtype() != DType::I64 && ids.dtype() != DType::I32)
    fail(op, "ids must be int64 or int32, got ", dtypeName(ids.dtype()));
  const int64_t V = table.dim(0), D = table.dim(1);
  if (args.host.size() > 1 && args.host[1])
    for (int64_t v : args.host[1]->toInts())
      if (v < -V || v >= V) fail(op, "id ", v, " outside the table of ", V, " rows");
  Shape out = ids.shape();
  out.push_back(D);
  DeviceTensor &y = allocOutput(outputs, args, 0, table.dtype(), out);
  if (y.numel() == 0) return;
  const int64_t rowBytes = D * int64_t(dtypeSize(table.dtype()));
  const bool wide = rowBytes % 16 == 0 && aligned16(table.raw()) && aligned16(y.raw());
  const cudaStream_t stream = args.ctx->stream;
  if (wide) {
    launchGather<uint4>(table, ids, y, rowBytes, stream);
  } else {
    dispatchBySize(
        table.dtype(),
        [&](auto tag) { launchGather<typename decltype(tag)::type>(table, ids, y, rowBytes, stream); }, op);
  }
  checkLaunch(op);
}

} // namespace resa::gpu::ops::layers
