// Host-side helpers shared by the device op kernels (ops/*.cu): errors,
// attributes, outputs, the host view of steering inputs that the shared
// shape functions (resa/kernels/OpShapes.h) read, and float promotion.
#pragma once

#include "resa/cuda/DeviceKernel.h"

#include <deque>
#include <initializer_list>
#include <sstream>
#include <vector>

namespace resa::gpu::ops {

// Throws resa::Error("<op>: <the arguments streamed>").
template <typename... A> [[noreturn]] void fail(const char *op, const A &...a) {
  std::ostringstream os;
  os << op << ": ";
  (os << ... << a);
  throw Error(os.str());
}

const Attrs &attrsOf(const DeviceKernelArgs &args);

// args.ctx, checked to carry a stream's allocator.
DeviceContext &contextOf(const DeviceKernelArgs &args);

// Stores t as output i; `outputs` grows to the node's declared outputs.
void setOutput(std::vector<DeviceTensor> &outputs, const DeviceKernelArgs &args, size_t i, DeviceTensor t);
// Allocates output i from args.ctx->alloc (uninitialised). The reference is
// to an element of `outputs`: a later allocOutput may grow it and invalidate
// the reference (allocate every output first).
DeviceTensor &allocOutput(std::vector<DeviceTensor> &outputs, const DeviceKernelArgs &args, size_t i,
                          DType dtype, const Shape &shape);

// The host side of a call for the shared shape functions: opset, attributes
// and outputs as given, input i the host copy of each steering input listed
// (null where the node omits it), every other input null. Throws
// (requiredHost) when a listed input exists only on the device.
KernelArgs hostView(const DeviceKernelArgs &args, std::initializer_list<size_t> steering);

// Float operands of one op with different float dtypes are all converted to
// F32 (the widest); anything else is returned as given. `converted` keeps
// the copies alive for the call (their memory goes back to the stream's
// cache, reused only after this call's kernels).
std::vector<const DeviceTensor *> promoteFloats(const DeviceKernelArgs &args, std::vector<const DeviceTensor *> ts,
                                                std::deque<DeviceTensor> &converted);

// Throws naming `op` unless every tensor has the dtype of the first.
void requireSameDType(const char *op, const std::vector<const DeviceTensor *> &ts);

} // namespace resa::gpu::ops
