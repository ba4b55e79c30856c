#include "passes/CausalMask.h"

#include "dialects/onnx/OnnxDialect.h"
#include "passes/KernelEval.h"
#include "passes/ShapeInference.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <cmath>

using namespace mlir;

namespace resa {
namespace {

// A large negative additive mask value drops a key (exporters use -inf,
// float32 min or -10000).
constexpr float kDropped = -1e4f;

// Binds every argument as a caller with no past would: dim 0 is the batch,
// other symbolic dims are the sequence length (0 for past_* inputs); token
// ids and masks are ones, position ids count from 0, floats are zeros.
KernelEvaluator bindArguments(func::FuncOp func, int64_t batch, int64_t seq, int64_t opset) {
  std::map<std::string, int64_t> symbols;
  std::vector<std::pair<BlockArgument, Shape>> shapes;
  for (BlockArgument arg : func.getArguments()) {
    auto type = cast<RankedTensorType>(arg.getType());
    auto params = func.getArgAttrOfType<ArrayAttr>(arg.getArgNumber(), "onnx.dim_params");
    auto name = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "onnx.name");
    bool past = name && name.getValue().contains("past");
    Shape shape;
    for (int64_t d = 0; d < type.getRank(); ++d) {
      if (!type.isDynamicDim(d)) {
        shape.push_back(type.getDimSize(d));
        continue;
      }
      int64_t value = d == 0 ? batch : past ? 0 : seq;
      StringRef param = params && d < int64_t(params.size())
                            ? cast<StringAttr>(params[d]).getValue()
                            : StringRef();
      symbols.emplace(symbolName(arg.getArgNumber(), d, param), value);
      shape.push_back(value);
    }
    shapes.push_back({arg, shape});
  }
  KernelEvaluator eval(opset, symbols);
  for (auto &[arg, shape] : shapes) {
    auto type = cast<RankedTensorType>(arg.getType());
    auto name = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "onnx.name");
    Tensor t(static_cast<DType>(onnx::onnxDTypeOf(type.getElementType())), shape);
    if (t.dtype() == DType::I64) {
      bool positions = name && name.getValue().contains("position");
      for (int64_t i = 0; i < t.numel(); ++i)
        t.data<int64_t>()[i] = positions ? i % shape.back() : 1;
    } else if (t.dtype() == DType::I32) {
      for (int64_t i = 0; i < t.numel(); ++i)
        t.data<int32_t>()[i] = 1;
    }
    eval.bind(arg, t);
  }
  return eval;
}

// Whether query i keeps key j, for every (i, j) of an [.., S, S] mask.
std::string checkCausal(const Tensor &mask, MaskUse use, int64_t seq) {
  if (mask.rank() < 2 || mask.dim(mask.rank() - 1) != seq || mask.dim(mask.rank() - 2) != seq)
    return "the mask has shape " + shapeToString(mask.shape()) + " at sequence length " +
           std::to_string(seq) + ", not [.., " + std::to_string(seq) + ", " +
           std::to_string(seq) + "]";
  int64_t planes = mask.numel() / (seq * seq);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t i = 0; i < seq; ++i)
      for (int64_t j = 0; j < seq; ++j) {
        int64_t at = (p * seq + i) * seq + j;
        bool keep;
        if (use != MaskUse::Additive) {
          bool set = mask.dtype() == DType::Bool ? mask.data<uint8_t>()[at] != 0
                                                 : mask.intAt(at) != 0;
          keep = use == MaskUse::Keep ? set : !set;
        } else {
          float v = mask.dtype() == DType::F32 ? mask.data<float>()[at] : float(mask.intAt(at));
          if (v != 0.0f && !(v <= kDropped))
            return "mask value " + std::to_string(v) + " is neither 0 nor a large negative";
          keep = v == 0.0f;
        }
        if (keep != (j <= i))
          return "at sequence length " + std::to_string(seq) + ", query " + std::to_string(i) +
                 (keep ? " sees later key " : " does not see earlier key ") + std::to_string(j);
      }
  return "";
}

} // namespace

std::string proveCausal(func::FuncOp func, Value mask, MaskUse use, int64_t opset) {
  for (int64_t batch : {1, 2})
    for (int64_t seq : {1, 2, 3, 5}) {
      KernelEvaluator eval = bindArguments(func, batch, seq, opset);
      Tensor m;
      try {
        m = eval.evaluate(mask);
      } catch (const Error &e) {
        return std::string("its mask cannot be evaluated at compile time: ") + e.what();
      }
      std::string why = checkCausal(m, use, seq);
      if (!why.empty())
        return "its mask is not causal: " + why;
    }
  return "";
}

} // namespace resa
