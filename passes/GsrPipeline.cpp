// resa-gsr-pipeline: see Passes.td.
#include "passes/Passes.h"

#include "passes/DefaultGsrTemplate.h" // generated from data/gsr/refine-template.txt

#include "mlir/IR/Builders.h"

#include <fstream>
#include <sstream>

using namespace mlir;

namespace resa {
#define GEN_PASS_DEF_GSRPIPELINE
#include "passes/Passes.h.inc"

namespace {
struct GsrPipelinePass : impl::GsrPipelineBase<GsrPipelinePass> {
  using GsrPipelineBase::GsrPipelineBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::string text = kDefaultGsrTemplate;
    if (!templatePath.empty()) {
      std::ifstream in(templatePath);
      if (!in) {
        module.emitError() << "cannot read the refinement template '" << templatePath << "'";
        return signalPassFailure();
      }
      std::stringstream buf;
      buf << in.rdbuf();
      text = buf.str();
    }
    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToEnd(module.getBody());
    SmallVector<StringRef> stops(stop.begin(), stop.end());
    auto op = b.create<ir::GsrPipelineOp>(
        module.getLoc(), b.getI64IntegerAttr(candidates), b.getStringAttr(text),
        b.getF32FloatAttr(float(candidateTemperature)), b.getF32FloatAttr(float(candidateTopP)),
        b.getI64IntegerAttr(candidateMaxTokens), b.getF32FloatAttr(float(refineTemperature)),
        b.getF32FloatAttr(float(refineTopP)), b.getI64IntegerAttr(refineMaxTokens),
        b.getStrArrayAttr(stops), b.getStringAttr(answer));
    if (failed(op.verify())) // the options are checked where the op is
      signalPassFailure();
  }
};
} // namespace
} // namespace resa
