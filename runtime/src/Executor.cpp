#include "resa/runtime/Executor.h"

#include "ProgramPlan.h"

namespace resa {

namespace {

Tensor runContextStep(const std::string &kernel, const std::vector<const Tensor *> &in,
                      const Attrs &attrs, ForwardContext *context) {
  if (kernel == "resa.positions") {
    if (!in.at(0))
      throw Error("resa.positions takes a scalar count");
    return ProgramPlan::positions(*in[0], context ? context->start() : 0);
  }
  if (!context)
    throw Error(kernel + " needs a KV cache: run this function through the generator, not "
                         "as a stateless program");
  int64_t layer = attrs.requireInt("layer");
  if (kernel == "resa.cache_write") {
    context->cacheWrite(layer, *in.at(0), *in.at(1), attrs);
    return Tensor();
  }
  if (kernel == "resa.block_select")
    return context->blockSelect(layer, *in.at(0), attrs);
  if (kernel == "resa.block_attention")
    return context->blockAttention(layer, *in.at(0), *in.at(1), attrs);
  if (ProgramPlan::isRotaryAppend(kernel)) {
    // q and k rotated as the multi_rotary the step replaces, then as
    // resa.cache_attention, or resa.cache_write (the rotated q the result).
    const Attrs rotary = ProgramPlan::rotaryOf(attrs);
    KernelArgs args;
    args.inputs = {in.at(3), in.at(4), in.at(0), in.at(1)};
    args.attrs = &rotary;
    args.numOutputs = 2;
    std::vector<Tensor> qk;
    findCpuKernel("resa.multi_rotary")(args, qk);
    if (kernel == "resa.rotary_cache_attention")
      return context->cacheAttention(layer, qk.at(0), qk.at(1), *in.at(2), attrs);
    context->cacheWrite(layer, qk.at(1), *in.at(2), attrs);
    return qk.at(0);
  }
  return context->cacheAttention(layer, *in.at(0), *in.at(1), *in.at(2), attrs);
}

// A weight stored in bf16/f16 (resa-compile --dtype) as the fp32 the CPU
// kernels compute in.
Tensor widenedWeight(const Tensor &w, DType logical) {
  if (logical != DType::F32 || (w.dtype() != DType::BF16 && w.dtype() != DType::F16))
    return w;
  Tensor out(DType::F32, w.shape());
  const uint16_t *src = w.data<uint16_t>();
  float *dst = out.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i)
    dst[i] = w.dtype() == DType::BF16 ? bf16ToF32(src[i]) : f16ToF32(src[i]);
  return out;
}

} // namespace

Executor::Executor(const Package &package, const std::string &function)
    : plan_(std::make_unique<ProgramPlan>(package, function)) {
  for (const PlanStep &step : plan_->steps())
    if (step.kernel != "resa.shape_expr" && !ProgramPlan::isContextStep(step.kernel) &&
        !findCpuKernel(step.kernel))
      throw Error(package.path() + ": node '" + step.location + "' needs kernel '" +
                  step.kernel + "', which this runtime does not have");
}

Executor::~Executor() = default;

const std::vector<InputSpec> &Executor::inputs() const { return plan_->inputs(); }
const std::vector<std::string> &Executor::outputNames() const { return plan_->outputNames(); }

std::vector<Tensor> Executor::run(const std::vector<Tensor> &inputs,
                                  ForwardContext *context) const {
  std::map<std::string, int64_t> symbols = plan_->bind(inputs);
  std::call_once(fixedOnce_, [this] {
    std::vector<Tensor> fixed(plan_->numValues());
    for (int v = 0; v < static_cast<int>(fixed.size()); ++v)
      if (plan_->isConstant(v))
        fixed[v] = plan_->constant(v);
      else if (plan_->isWeight(v))
        fixed[v] = widenedWeight(plan_->package().weight(plan_->weightName(v)),
                                 plan_->logicalDType(v));
    fixed_ = std::move(fixed);
  });
  std::vector<Tensor> values(plan_->numValues());
  for (size_t i = 0; i < inputs.size(); ++i)
    values[plan_->inputValues()[i]] = inputs[i];
  auto valueOf = [&](int v) -> const Tensor * {
    if (v < 0)
      return nullptr;
    return plan_->isFixed(v) ? &fixed_[v] : &values[v];
  };
  for (const PlanStep &step : plan_->steps()) {
    std::vector<Tensor> outs;
    try {
      if (ProgramPlan::isContextStep(step.kernel)) {
        std::vector<const Tensor *> in;
        for (int v : step.inputs)
          in.push_back(valueOf(v));
        outs.push_back(runContextStep(step.kernel, in, step.attrs, context));
      } else if (step.kernel == "resa.shape_expr") {
        outs.push_back(ProgramPlan::evaluateShapeExpr(step, symbols));
      } else {
        KernelArgs args;
        for (int v : step.inputs)
          args.inputs.push_back(valueOf(v));
        args.attrs = &step.attrs;
        args.opset = plan_->opset();
        args.numOutputs = step.outputs.size();
        findCpuKernel(step.kernel)(args, outs);
      }
    } catch (const Error &e) {
      throw Error("node '" + step.location + "' (" + step.kernel + "): " + e.what());
    }
    for (size_t i = 0; i < step.outputs.size() && i < outs.size(); ++i)
      if (step.outputs[i] >= 0)
        values[step.outputs[i]] = std::move(outs[i]);
    for (int v : step.release)
      values[v] = Tensor();
  }
  std::vector<Tensor> out;
  for (int v : plan_->outputValues())
    out.push_back(*valueOf(v));
  return out;
}

} // namespace resa
