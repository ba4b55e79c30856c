#include "resa/runtime/ModelInputs.h"

#include "resa/runtime/DimPoly.h"

#include <algorithm>

namespace resa {
namespace {

bool contains(const std::string &s, const char *part) { return s.find(part) != std::string::npos; }

} // namespace

std::vector<Tensor> makeModelInputs(const Executor &exec, const Tensor &ids) {
  if (ids.rank() != 2)
    throw Error("token ids must be [batch, seq], got " + shapeToString(ids.shape()));
  int64_t batch = ids.dim(0), seq = ids.dim(1);
  // The symbolic dims named in the ids' spec are bound by the ids; a past
  // length (any other symbol) is 0.
  std::map<std::string, int64_t> symbols;
  const InputSpec *idsSpec = nullptr;
  for (const InputSpec &spec : exec.inputs())
    if (spec.name == "input_ids")
      idsSpec = &spec;
  if (!idsSpec)
    throw Error("the model has no 'input_ids' input");
  for (size_t d = 0; d < 2 && d < idsSpec->dims.size(); ++d) {
    DimPoly p = DimPoly::parse(idsSpec->dims[d]);
    if (!p.isConstant())
      symbols[p.toString()] = ids.dim(d);
  }
  auto evaluate = [&](const InputSpec &spec, const std::string &dim) -> int64_t {
    DimPoly p = DimPoly::parse(dim);
    try {
      return p.evaluate(symbols);
    } catch (const Error &) {
      // With no past, a symbol the ids do not bind is the past length (0)
      // in a past_* input and the total length (seq) anywhere else.
      if (!p.isConstant() && p == DimPoly::symbol(p.toString()))
        return contains(spec.name, "past") ? 0 : seq;
      throw Error("model input '" + spec.name + "' has dim '" + dim +
                  "' that the token ids do not determine");
    }
  };

  std::vector<Tensor> out;
  for (const InputSpec &spec : exec.inputs()) {
    if (spec.name == "input_ids") {
      if (spec.dtype != DType::I64)
        throw Error("input 'input_ids' must be int64 in this runtime");
      out.push_back(ids);
      continue;
    }
    Shape shape;
    for (const std::string &d : spec.dims)
      shape.push_back(evaluate(spec, d));
    Tensor t(spec.dtype, shape);
    if (contains(spec.name, "attention_mask")) {
      if (spec.dtype != DType::I64 && spec.dtype != DType::I32)
        throw Error("model input '" + spec.name + "' must be an integer mask");
      for (int64_t i = 0; i < t.numel(); ++i) {
        if (spec.dtype == DType::I64)
          t.data<int64_t>()[i] = 1;
        else
          t.data<int32_t>()[i] = 1;
      }
    } else if (contains(spec.name, "position_ids")) {
      if (spec.dtype != DType::I64 || shape.size() != 2)
        throw Error("model input '" + spec.name + "' must be int64 [batch, seq]");
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t s = 0; s < seq; ++s)
          t.data<int64_t>()[b * seq + s] = s;
    } else if (!contains(spec.name, "past")) {
      throw Error("model input '" + spec.name + "' cannot be derived from token ids");
    }
    out.push_back(t);
  }
  return out;
}

} // namespace resa
