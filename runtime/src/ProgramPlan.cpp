#include "ProgramPlan.h"

#include "plan.pb.h"

#include <algorithm>

namespace resa {

namespace {

Tensor fromTensorData(const plan::TensorData &d) {
  Tensor t(static_cast<DType>(d.dtype()), Shape(d.shape().begin(), d.shape().end()));
  if (d.raw().size() != t.nbytes())
    throw Error("plan constant of shape " + shapeToString(t.shape()) + " has " +
                std::to_string(d.raw().size()) + " bytes");
  std::copy(d.raw().begin(), d.raw().end(), static_cast<char *>(t.raw()));
  return t;
}

AttrValue fromAttr(const plan::Attr &a) {
  switch (a.value_case()) {
  case plan::Attr::kI: return a.i();
  case plan::Attr::kF: return a.f();
  case plan::Attr::kS: return a.s();
  case plan::Attr::kInts: return std::vector<int64_t>(a.ints().v().begin(), a.ints().v().end());
  case plan::Attr::kFloats:
    return std::vector<float>(a.floats().v().begin(), a.floats().v().end());
  case plan::Attr::kStrings:
    return std::vector<std::string>(a.strings().v().begin(), a.strings().v().end());
  case plan::Attr::kTensor: return fromTensorData(a.tensor());
  default: throw Error("plan attribute '" + a.name() + "' has no value");
  }
}

} // namespace

ProgramPlan::ProgramPlan(const Package &package, const std::string &function)
    : package_(package) {
  const plan::Plan &p = package.plan();
  const plan::Function &f = package.function(function);
  opset_ = p.opset();
  numValues_ = p.values_size();
  kind_.assign(numValues_, Kind::Computed);
  constants_.resize(numValues_);
  weightNames_.resize(numValues_);
  logical_.resize(numValues_);
  for (int i = 0; i < p.values_size(); ++i) {
    const plan::Value &v = p.values(i);
    logical_[i] = static_cast<DType>(v.dtype());
    if (v.has_constant()) {
      constants_[i] = fromTensorData(v.constant());
      kind_[i] = Kind::Constant;
    } else if (v.source_case() == plan::Value::kWeight) {
      (void)package.weightEntry(v.weight()); // a missing weight fails here, at load
      weightNames_[i] = v.weight();
      kind_[i] = Kind::Weight;
    }
  }
  for (int i = 0; i < f.inputs_size(); ++i) {
    const plan::Value &v = p.values(f.inputs(i));
    InputSpec spec{f.input_names(i), static_cast<DType>(v.dtype()), {}};
    for (int d = 0; d < v.shape_size(); ++d)
      spec.dims.push_back(v.shape(d) >= 0 ? std::to_string(v.shape(d)) : v.dim_exprs(d));
    inputs_.push_back(spec);
    inputValues_.push_back(f.inputs(i));
  }
  outputNames_.assign(f.output_names().begin(), f.output_names().end());
  outputValues_.assign(f.outputs().begin(), f.outputs().end());

  std::vector<int> lastUse(numValues_, -1);
  for (int s = 0; s < f.steps_size(); ++s) {
    const plan::Step &ps = f.steps(s);
    PlanStep step;
    step.kernel = ps.kernel();
    step.location = ps.location();
    step.inputs.assign(ps.inputs().begin(), ps.inputs().end());
    step.outputs.assign(ps.outputs().begin(), ps.outputs().end());
    for (int v : step.inputs)
      if (v >= static_cast<int>(numValues_))
        throw Error(package.path() + ": node '" + step.location + "' reads value " +
                    std::to_string(v) + ", past the plan's " + std::to_string(numValues_));
    for (const plan::Attr &a : ps.attrs())
      step.attrs.set(a.name(), fromAttr(a));
    if (step.kernel == "resa.shape_expr") {
      for (const std::string &e : step.attrs.getStrings("exprs"))
        step.exprs.push_back(DimPoly::parse(e));
      step.scalar = step.attrs.getInt("scalar", 0) != 0;
    }
    for (int v : step.inputs)
      if (v >= 0)
        lastUse[v] = s;
    steps_.push_back(std::move(step));
  }
  for (int v : outputValues_)
    lastUse[v] = static_cast<int>(steps_.size()); // never released
  for (size_t v = 0; v < numValues_; ++v)
    if (lastUse[v] >= 0 && lastUse[v] < static_cast<int>(steps_.size()) && !isFixed(v))
      steps_[lastUse[v]].release.push_back(static_cast<int>(v));
  for (const plan::Symbol &s : f.symbols())
    symbols_.push_back({s.name(), s.input(), s.dim()});
}

std::map<std::string, int64_t> ProgramPlan::bind(const std::vector<Tensor> &inputs) const {
  if (inputs.size() != inputs_.size())
    throw Error("the model takes " + std::to_string(inputs_.size()) + " inputs, got " +
                std::to_string(inputs.size()));
  std::map<std::string, int64_t> symbols;
  for (const Symbol &s : symbols_)
    symbols[s.name] = inputs.at(s.input).dim(s.dim);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const InputSpec &spec = inputs_[i];
    const Tensor &t = inputs[i];
    if (t.dtype() != spec.dtype)
      throw Error("input '" + spec.name + "' must be " + dtypeName(spec.dtype) + ", got " +
                  dtypeName(t.dtype()));
    if (t.rank() != static_cast<int64_t>(spec.dims.size()))
      throw Error("input '" + spec.name + "' must have rank " +
                  std::to_string(spec.dims.size()) + ", got shape " + shapeToString(t.shape()));
    for (size_t d = 0; d < spec.dims.size(); ++d) {
      int64_t want = DimPoly::parse(spec.dims[d]).evaluate(symbols);
      if (t.dim(d) != want)
        throw Error("input '" + spec.name + "' dim " + std::to_string(d) + " must be " +
                    spec.dims[d] + " = " + std::to_string(want) + ", got " +
                    std::to_string(t.dim(d)));
    }
  }
  return symbols;
}

std::vector<bool> ProgramPlan::rotaryAppendProjections() const {
  std::vector<bool> marked(steps_.size(), false);
  for (size_t s = 0; s < steps_.size(); ++s) {
    const PlanStep &step = steps_[s];
    if (step.kernel != "resa.multi_linear" || step.attrs.getInts("widths").size() != 3 ||
        step.outputs.size() != 3)
      continue;
    const std::vector<int> &outs = step.outputs;
    auto produced = [&](int v) { return v >= 0 && std::find(outs.begin(), outs.end(), v) != outs.end(); };
    if (std::any_of(outs.begin(), outs.end(), [](int v) { return v < 0; }) ||
        std::any_of(outputValues_.begin(), outputValues_.end(), produced))
      continue;
    // The first later step that reads any of the three.
    for (size_t c = s + 1; c < steps_.size(); ++c) {
      const std::vector<int> &in = steps_[c].inputs;
      if (std::none_of(in.begin(), in.end(), produced))
        continue;
      marked[s] = isRotaryAppend(steps_[c].kernel) && in.size() >= 3 &&
                  std::equal(outs.begin(), outs.end(), in.begin());
      break;
    }
  }
  return marked;
}

bool ProgramPlan::isContextStep(const std::string &kernel) {
  return kernel == "resa.positions" || kernel == "resa.cache_attention" || kernel == "resa.cache_write" ||
         isRotaryAppend(kernel) || kernel == "resa.block_select" || kernel == "resa.block_attention";
}

bool ProgramPlan::isRotaryAppend(const std::string &kernel) {
  return kernel == "resa.rotary_cache_attention" || kernel == "resa.rotary_cache_write";
}

Attrs ProgramPlan::rotaryOf(const Attrs &a) {
  Attrs r;
  r.set("num_heads", std::vector<int64_t>{a.requireInt("num_heads"), a.requireInt("kv_heads")});
  r.set("rotary_dim", a.requireInt("rotary_dim"));
  r.set("interleaved", a.getInt("interleaved", 0));
  return r;
}

Tensor ProgramPlan::evaluateShapeExpr(const PlanStep &step,
                                      const std::map<std::string, int64_t> &symbols) {
  Shape shape = step.scalar ? Shape{} : Shape{int64_t(step.exprs.size())};
  Tensor t(DType::I64, shape);
  for (size_t i = 0; i < step.exprs.size(); ++i)
    t.data<int64_t>()[i] = step.exprs[i].evaluate(symbols);
  return t;
}

Tensor ProgramPlan::positions(const Tensor &count, int64_t start) {
  if (!count.defined() || count.numel() != 1)
    throw Error("resa.positions takes a scalar count");
  int64_t n = count.intAt(0);
  Tensor t(DType::I64, {n});
  for (int64_t i = 0; i < n; ++i)
    t.data<int64_t>()[i] = start + i;
  return t;
}

} // namespace resa
