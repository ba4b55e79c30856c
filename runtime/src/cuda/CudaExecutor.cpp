#include "CudaExecutor.h"

#include "resa/cuda/RandomWeights.h"

namespace resa::cuda {

std::string DeviceWeights::key(const ProgramPlan &plan, int v) const {
  return plan.isWeight(v) ? "w:" + plan.weightName(v) : "c:" + std::to_string(v);
}

void DeviceWeights::require(const ProgramPlan &plan, int v) {
  std::string k = key(plan, v);
  if (tensors_.count(k))
    return;
  const Package &package = plan.package();
  DeviceTensor t;
  if (plan.isConstant(v)) {
    t = gpu::upload(plan.constant(v), activationType_, ctx_);
  } else if (package.randomWeights()) {
    // Made in place: an 8B package's weights never exist on the host.
    const std::string &name = plan.weightName(v);
    const SafetensorsEntry &e = package.weightEntry(name);
    t = ctx_.alloc->allocate(storageType_, e.shape);
    gpu::fillRandomWeight(t, randomWeightStream(package.randomSeed(), name, e.shape), e.dtype,
                          ctx_.stream);
  } else {
    t = gpu::upload(package.weight(plan.weightName(v)), storageType_, ctx_);
  }
  bytes_ += t.nbytes();
  tensors_.emplace(std::move(k), std::move(t));
}

const DeviceTensor &DeviceWeights::get(const ProgramPlan &plan, int v) const {
  auto it = tensors_.find(key(plan, v));
  if (it == tensors_.end())
    throw Error("value " + std::to_string(v) + " was not uploaded to the device");
  return it->second;
}

CudaExecutor::CudaExecutor(const Package &package, const std::string &function,
                           DeviceContext &ctx, DeviceWeights &weights, DType activationType)
    : plan_(package, function), ctx_(ctx), weights_(weights), activationType_(activationType) {
  const size_t n = plan_.numValues();
  hostKnown_.assign(n, false);
  for (size_t v = 0; v < n; ++v)
    hostKnown_[v] = plan_.isConstant(static_cast<int>(v));
  for (int v : plan_.inputValues())
    hostKnown_[v] = true;
  const std::vector<PlanStep> &steps = plan_.steps();
  where_.resize(steps.size());
  hostFns_.resize(steps.size());
  devFns_.resize(steps.size());
  for (size_t s = 0; s < steps.size(); ++s) {
    const PlanStep &step = steps[s];
    Where w;
    if (step.kernel == "resa.shape_expr") {
      w = Where::ShapeExpr;
    } else if (step.kernel == "resa.positions") {
      w = Where::Positions;
    } else if (step.kernel == "Shape") {
      w = Where::Shape;
    } else if (ProgramPlan::isContextStep(step.kernel)) {
      w = Where::Context;
    } else {
      bool allHost = true;
      for (int v : step.inputs)
        allHost = allHost && (v < 0 || hostKnown_[v]);
      hostFns_[s] = allHost ? findCpuKernel(step.kernel) : nullptr;
      w = hostFns_[s] ? Where::Host : Where::Device;
    }
    where_[s] = w;
    if (w == Where::Device) {
      devFns_[s] = gpu::findCudaKernel(step.kernel);
      if (!devFns_[s])
        throw Error(package.path() + ": node '" + step.location + "' needs kernel '" +
                    step.kernel + "', which the CUDA backend does not have");
    }
    if (w == Where::Device || w == Where::Context)
      for (int v : step.inputs)
        if (v >= 0 && plan_.isFixed(v))
          weights_.require(plan_, v);
    const bool onHost = w != Where::Device && w != Where::Context;
    for (int v : step.outputs)
      if (v >= 0)
        hostKnown_[v] = onHost;
  }
}

std::vector<Tensor> CudaExecutor::run(const std::vector<Tensor> &inputs, CudaForward &forward) {
  const std::map<std::string, int64_t> symbols = plan_.bind(inputs);
  std::vector<Tensor> host(plan_.numValues());
  std::vector<DeviceTensor> dev(plan_.numValues());
  for (size_t i = 0; i < inputs.size(); ++i)
    host[plan_.inputValues()[i]] = inputs[i];
  auto hostOf = [&](int v) -> const Tensor * {
    if (v < 0 || !hostKnown_[v])
      return nullptr;
    return plan_.isConstant(v) ? &plan_.constant(v) : &host[v];
  };
  auto devOf = [&](int v) -> const DeviceTensor * {
    if (v < 0)
      return nullptr;
    if (plan_.isFixed(v))
      return &weights_.get(plan_, v);
    if (!dev[v].defined()) {
      if (!hostKnown_[v])
        throw Error("value " + std::to_string(v) + " is read before it is computed");
      dev[v] = gpu::upload(host[v], activationType_, ctx_);
    }
    return &dev[v];
  };
  const std::vector<PlanStep> &steps = plan_.steps();
  for (size_t s = 0; s < steps.size(); ++s) {
    const PlanStep &step = steps[s];
    std::vector<Tensor> hostOut;
    std::vector<DeviceTensor> devOut;
    try {
      switch (where_[s]) {
      case Where::ShapeExpr:
        hostOut.push_back(ProgramPlan::evaluateShapeExpr(step, symbols));
        break;
      case Where::Positions:
        hostOut.push_back(ProgramPlan::positions(*hostOf(step.inputs.at(0)), forward.start()));
        break;
      case Where::Shape: {
        // The CPU Shape kernel reads only the shape, so a device tensor's
        // shape is given to it over the (never dereferenced) device pointer.
        int v = step.inputs.at(0);
        Tensor probe = hostKnown_[v] ? *hostOf(v)
                                     : Tensor::borrow(devOf(v)->dtype(), devOf(v)->shape(),
                                                      devOf(v)->raw());
        KernelArgs args;
        args.inputs = {&probe};
        args.attrs = &step.attrs;
        args.opset = plan_.opset();
        findCpuKernel("Shape")(args, hostOut);
        break;
      }
      case Where::Host: {
        KernelArgs args;
        for (int v : step.inputs)
          args.inputs.push_back(hostOf(v));
        args.attrs = &step.attrs;
        args.opset = plan_.opset();
        args.numOutputs = step.outputs.size();
        hostFns_[s](args, hostOut);
        break;
      }
      case Where::Device: {
        gpu::DeviceKernelArgs args;
        for (int v : step.inputs) {
          args.inputs.push_back(devOf(v));
          args.host.push_back(hostOf(v));
        }
        args.attrs = &step.attrs;
        args.opset = plan_.opset();
        args.numOutputs = step.outputs.size();
        args.ctx = &ctx_;
        devFns_[s](args, devOut);
        break;
      }
      case Where::Context: {
        const std::vector<int> &in = step.inputs;
        auto at = [&](size_t i) -> const DeviceTensor & {
          const DeviceTensor *t = i < in.size() ? devOf(in[i]) : nullptr;
          if (!t)
            throw Error("missing input " + std::to_string(i));
          return *t;
        };
        int64_t layer = step.attrs.requireInt("layer");
        if (step.kernel == "resa.cache_write")
          forward.cacheWrite(layer, at(0), at(1), step.attrs);
        else if (step.kernel == "resa.cache_attention")
          devOut.push_back(forward.cacheAttention(layer, at(0), at(1), at(2), step.attrs));
        else if (step.kernel == "resa.block_select")
          devOut.push_back(forward.blockSelect(layer, at(0), step.attrs));
        else
          devOut.push_back(forward.blockAttention(layer, at(0), at(1), step.attrs));
        break;
      }
      }
    } catch (const Error &e) {
      throw Error("node '" + step.location + "' (" + step.kernel + ", CUDA): " + e.what());
    }
    for (size_t i = 0; i < step.outputs.size(); ++i) {
      int v = step.outputs[i];
      if (v < 0)
        continue;
      if (i < hostOut.size())
        host[v] = std::move(hostOut[i]);
      else if (i < devOut.size())
        dev[v] = std::move(devOut[i]);
    }
    for (int v : step.release) {
      host[v] = Tensor();
      dev[v] = DeviceTensor();
    }
  }
  std::vector<Tensor> out;
  for (int v : plan_.outputValues()) {
    if (hostKnown_[v])
      out.push_back(*hostOf(v));
    else
      out.push_back(gpu::download(*devOf(v), ctx_));
  }
  return out;
}

} // namespace resa::cuda
