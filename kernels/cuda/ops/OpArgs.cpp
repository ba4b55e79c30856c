// Host-side helpers of the device op kernels (OpArgs.h).
#include "OpArgs.h"

#include "Convert.h"

#include <algorithm>

namespace resa::gpu::ops {

const Attrs &attrsOf(const DeviceKernelArgs &args) {
  static const Attrs empty;
  return args.attrs ? *args.attrs : empty;
}

DeviceContext &contextOf(const DeviceKernelArgs &args) {
  if (!args.ctx || !args.ctx->alloc) throw Error("CUDA kernel called without a device context and allocator");
  return *args.ctx;
}

void setOutput(std::vector<DeviceTensor> &outputs, const DeviceKernelArgs &args, size_t i, DeviceTensor t) {
  const size_t n = std::max(args.numOutputs, i + 1);
  if (outputs.size() < n) outputs.resize(n);
  outputs[i] = std::move(t);
}

DeviceTensor &allocOutput(std::vector<DeviceTensor> &outputs, const DeviceKernelArgs &args, size_t i,
                          DType dtype, const Shape &shape) {
  setOutput(outputs, args, i, contextOf(args).alloc->allocate(dtype, shape));
  return outputs[i];
}

KernelArgs hostView(const DeviceKernelArgs &args, std::initializer_list<size_t> steering) {
  KernelArgs view;
  view.attrs = args.attrs;
  view.opset = args.opset;
  view.numOutputs = args.numOutputs;
  for (size_t i : steering) {
    const bool present = args.input(i) || (i < args.host.size() && args.host[i]);
    if (!present) continue;
    if (view.inputs.size() <= i) view.inputs.resize(i + 1, nullptr);
    view.inputs[i] = &args.requiredHost(i);
  }
  return view;
}

std::vector<const DeviceTensor *> promoteFloats(const DeviceKernelArgs &args, std::vector<const DeviceTensor *> ts,
                                                std::deque<DeviceTensor> &converted) {
  bool mixed = false;
  for (const DeviceTensor *t : ts) {
    if (!isFloatDType(t->dtype())) return ts;
    mixed = mixed || t->dtype() != ts.front()->dtype();
  }
  if (!mixed) return ts;
  DeviceContext &ctx = contextOf(args);
  for (const DeviceTensor *&t : ts) {
    if (t->dtype() == DType::F32) continue;
    DeviceTensor f = ctx.alloc->allocate(DType::F32, t->shape());
    convertOnDevice(t->raw(), t->dtype(), f.raw(), DType::F32, t->numel(), ctx.stream);
    converted.push_back(std::move(f));
    t = &converted.back();
  }
  return ts;
}

void requireSameDType(const char *op, const std::vector<const DeviceTensor *> &ts) {
  for (const DeviceTensor *t : ts)
    if (t->dtype() != ts.front()->dtype())
      fail(op, "input dtypes differ (", dtypeName(ts.front()->dtype()), " vs ", dtypeName(t->dtype()), ")");
}

} // namespace resa::gpu::ops
