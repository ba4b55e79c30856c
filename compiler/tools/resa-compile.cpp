// resa-compile: ONNX model -> compiled package (or MLIR at a chosen stage).
#include "compiler/Diagnostics.h"
#include "compiler/OnnxImporter.h"
#include "compiler/PackageWriter.h"
#include "compiler/WeightConversion.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/AsmState.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Tools/Plugins/PassPlugin.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdio>
#include <optional>

namespace cl = llvm::cl;

namespace {

enum class Emit { Package, Onnx, Resa, Lowered };

cl::opt<std::string> inputPath(cl::Positional, cl::desc("MODEL.onnx (or .onnxtext)"),
                               cl::Required);
cl::opt<std::string> outputPath("o", cl::desc("output package folder"),
                                cl::value_desc("PKG"));
cl::opt<Emit> emit("emit", cl::desc("print MLIR at a stage instead of writing a package"),
                   cl::init(Emit::Package),
                   cl::values(clEnumValN(Emit::Onnx, "onnx",
                                         "the onnx dialect after shape inference and folding"),
                              clEnumValN(Emit::Resa, "resa",
                                         "the raised program: prefill/decode/rectify over the "
                                         "KV cache"),
                              clEnumValN(Emit::Lowered, "lowered",
                                         "kernel calls over buffers")));
cl::opt<bool> quiet("quiet", cl::desc("no progress lines on stderr"));
cl::opt<bool> fuseRotaryCache(
    "fuse-rotary-cache",
    cl::desc("give each cache attention its q and k unrotated, with their rotary "
             "(resa.rotary_cache_attention: on CUDA a decode step rotates q and k and "
             "appends k and v in one kernel; default on, =false to keep them apart)"),
    cl::init(true));
cl::opt<std::string> weightDType(
    "dtype",
    cl::desc("storage type of the float weights: f32, bf16 or f16 (default: as the model stores "
             "them: f32, or f16/bf16 for an initializer it reads through a Cast to float)"),
    cl::value_desc("T"));
cl::opt<std::string> weightSource(
    "weights",
    cl::desc("read (default): the weights from the model; random[:SEED] (seed 0 by default): "
             "never read them (external data may be absent), the package records their dtypes "
             "and shapes and the runtime fills them with seeded random values (benchmarks of "
             "real model shapes: tools/build_shape_model.py)"),
    cl::init("read"), cl::value_desc("SOURCE"));

enum class PrefillLogits { All, Last };
cl::opt<PrefillLogits> prefillLogits(
    "prefill-logits", cl::desc("the logits that @prefill returns"),
    cl::init(PrefillLogits::All),
    cl::values(clEnumValN(PrefillLogits::All, "all",
                          "every prompt position's, [batch, seq, vocab] (default; what the "
                          "tests compare)"),
               clEnumValN(PrefillLogits::Last, "last",
                          "the last position's only, [batch, 1, vocab]: what generation "
                          "samples from; no [seq, vocab] projection and download (long "
                          "prompts)")));

cl::OptionCategory policy("Attention policy (DESIGN.md, ReSA)");
cl::opt<std::string> attention(
    "attention",
    cl::desc("dense, sparse, resa, or a policy pass that a --load-pass-plugin registers, with "
             "its options (e.g. 'resa-attention-sliding-window{window=128}')"),
    cl::init("dense"), cl::cat(policy));
cl::opt<int64_t> blockSize("resa-block-size", cl::desc("tokens per KV block (a power of two)"),
                           cl::init(16), cl::cat(policy));
cl::opt<double> keptRatio("resa-kept-ratio", cl::desc("fraction of blocks decode attends to"),
                          cl::init(0.1), cl::cat(policy));
cl::opt<int64_t> minBlocks("resa-min-blocks", cl::desc("blocks decode attends to at least"),
                           cl::init(16), cl::cat(policy));
cl::opt<int64_t> localBlocks("resa-local-blocks", cl::desc("most recent blocks always kept"),
                             cl::init(1), cl::cat(policy));
cl::opt<int64_t> rectifyEvery("resa-rectify-every",
                              cl::desc("decode steps between dense rectifications (resa)"),
                              cl::init(32), cl::cat(policy));
cl::list<std::string> passPlugins("load-pass-plugin",
                                  cl::desc("load a pass plugin (a shared library)"),
                                  cl::cat(policy));

// A double as text that the pass option parser reads back exactly
// (std::to_string keeps 6 decimals: 1e-7 would become 0).
std::string exactDouble(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", v);
  return text;
}

cl::OptionCategory pipelineCat("Generation pipeline (DESIGN.md, GSR)");
cl::opt<std::string> pipeline("pipeline", cl::desc("generate (default) or gsr"),
                              cl::init("generate"), cl::cat(pipelineCat));
cl::opt<int64_t> gsrCandidates("gsr-candidates", cl::desc("GSR candidates (N)"), cl::init(4),
                               cl::cat(pipelineCat));
cl::opt<std::string> gsrTemplate("gsr-template",
                                 cl::desc("refinement template file (default: the shipped one)"),
                                 cl::cat(pipelineCat));
cl::opt<int64_t> gsrMaxTokens("gsr-max-tokens",
                              cl::desc("max tokens of each candidate and of the refinement"),
                              cl::init(256), cl::cat(pipelineCat));
cl::opt<double> gsrTemperature("gsr-temperature", cl::desc("candidate sampling temperature"),
                               cl::init(0.8), cl::cat(pipelineCat));
cl::list<std::string> gsrStop("gsr-stop", cl::desc("a stop string (may be repeated)"),
                              cl::cat(pipelineCat));
cl::opt<std::string> gsrAnswer("gsr-answer",
                               cl::desc("answer extraction: last-number, boxed or after:<marker>"),
                               cl::init("last-number"), cl::cat(pipelineCat));

// The GSR pass, built from the options directly: stop strings may hold any
// character, which a textual pass pipeline could not quote.
std::unique_ptr<mlir::Pass> gsrPass(const std::vector<std::string> &stops) {
  resa::GsrPipelineOptions options;
  options.candidates = gsrCandidates;
  options.templatePath = gsrTemplate;
  options.candidateMaxTokens = gsrMaxTokens;
  options.refineMaxTokens = gsrMaxTokens;
  options.candidateTemperature = gsrTemperature;
  options.stop = stops;
  options.answer = gsrAnswer;
  return resa::createGsrPipeline(options);
}

// The policy pass, with the --resa-* options that apply to it.
std::string policyPipeline() {
  std::string common = "block-size=" + std::to_string(blockSize);
  std::string sparse = common + " kept-ratio=" + exactDouble(keptRatio) +
                       " min-blocks=" + std::to_string(minBlocks) +
                       " local-blocks=" + std::to_string(localBlocks);
  if (attention == "dense")
    return "resa-attention-dense{" + common + "}";
  if (attention == "sparse")
    return "resa-attention-sparse{" + sparse + "}";
  if (attention == "resa")
    return "resa-attention-resa{" + sparse + " rectify-every=" + std::to_string(rectifyEvery) +
           "}";
  return attention;
}

// Options the chosen policy does not take are an error when given, rather
// than silently ignored; so is a pass that is not an attention policy.
// Returns the message, or "".
std::string policyMisuse() {
  std::string policy = attention;
  bool builtin = policy == "dense" || policy == "sparse" || policy == "resa";
  llvm::StringRef trimmed = llvm::StringRef(policy).trim();
  if (!builtin && !trimmed.empty() && !trimmed.starts_with("resa-attention-"))
    return "--attention=" + policy + ": not an attention policy (dense, sparse, resa, or a "
                                     "resa-attention-* pass that --load-pass-plugin registers)";
  auto given = [](const cl::Option &o) { return o.getNumOccurrences() > 0; };
  struct Use {
    const cl::Option &option;
    bool applies;
  };
  for (Use u : {Use{blockSize, builtin}, Use{keptRatio, policy == "sparse" || policy == "resa"},
                Use{minBlocks, policy == "sparse" || policy == "resa"},
                Use{localBlocks, policy == "sparse" || policy == "resa"},
                Use{rectifyEvery, policy == "resa"}})
    if (given(u.option) && !u.applies)
      return "--" + u.option.ArgStr.str() + " does not apply to --attention=" + policy;
  return "";
}

void progress(const char *what, std::chrono::steady_clock::time_point since) {
  if (quiet)
    return;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - since)
                .count();
  llvm::errs() << "resa-compile: " << what << " (" << ms << " ms)\n";
}

int compile() {
  auto start = std::chrono::steady_clock::now();
  if (emit == Emit::Package && outputPath.empty()) {
    llvm::errs() << "resa-compile: error: no output given (-o PKG, or --emit=...)\n";
    return 1;
  }
  std::optional<resa::DType> weightType;
  if (!weightDType.empty())
    weightType = resa::parseWeightDType(weightDType);
  const resa::WeightSource weights = resa::parseWeightSource(weightSource);
  mlir::MLIRContext ctx;
  ctx.loadDialect<resa::onnx::OnnxDialect, resa::ir::ResaDialect, mlir::func::FuncDialect>();
  resa::OneLineDiagnostics diagnostics(ctx, "resa-compile");

  std::unique_ptr<resa::OnnxModel> model = resa::OnnxModel::load(inputPath, weights);
  progress("loaded the model", start);
  mlir::OwningOpRef<mlir::ModuleOp> module = resa::importOnnx(ctx, *model);
  if (!module)
    return 1;
  progress("imported", start);

  mlir::PassManager pm(&ctx);
  pm.addPass(resa::createInferShapes());
  pm.addPass(resa::createFoldShapes());
  pm.addPass(resa::createFoldWeightCasts());
  if (mlir::failed(pm.run(*module)))
    return 1;
  if (emit == Emit::Onnx) {
    module->print(llvm::outs());
    return 0;
  }
  if (std::string misuse = policyMisuse(); !misuse.empty()) {
    llvm::errs() << "resa-compile: error: " << misuse << "\n";
    return 1;
  }
  mlir::PassManager raise(&ctx);
  raise.addPass(resa::createRaiseNorms());
  raise.addPass(resa::createRaiseRotary());
  raise.addPass(resa::createRaiseLinear());
  raise.addPass(resa::createRaiseAttention());
  // GroupQueryAttention's do_rotary becomes a rotary op only when attention is
  // raised: raise it too.
  raise.addPass(resa::createRaiseRotary());
  raise.addPass(resa::createFormKVProgram());
  if (prefillLogits == PrefillLogits::Last)
    raise.addPass(resa::createPrefillLastLogits());
  std::string errors;
  llvm::raw_string_ostream errorStream(errors);
  if (llvm::StringRef(attention).trim().empty() ||
      mlir::failed(mlir::parsePassPipeline(policyPipeline(), raise, errorStream))) {
    // One line: the parser's first line, without its "<source>:1:1: error: ".
    llvm::StringRef why = llvm::StringRef(errorStream.str()).trim().split('\n').first;
    if (size_t at = why.find("error: "); at != llvm::StringRef::npos)
      why = why.drop_front(at + 7);
    llvm::errs() << "resa-compile: error: --attention=" << attention << ": "
                 << (why.empty() ? "no policy given" : why);
    if (why.empty() || why.contains("does not refer to"))
      llvm::errs() << " (expected dense, sparse, resa, or a policy pass that "
                      "--load-pass-plugin registers)";
    llvm::errs() << "\n";
    return 1;
  }
  // Raising leaves each layer its own copy of shared work (the rotary
  // positions and cos/sin gathers a fused attention node implies): fold the
  // shapes its copies read, then merge the now identical pure ops.
  raise.addPass(resa::createFoldShapes());
  raise.addPass(mlir::createCSEPass());
  if (pipeline != "generate" && pipeline != "gsr") {
    llvm::errs() << "resa-compile: error: --pipeline must be generate or gsr, got '" << pipeline
                 << "'\n";
    return 1;
  }
  std::vector<std::string> stops(gsrStop.begin(), gsrStop.end());
  if (pipeline == "gsr")
    raise.addPass(gsrPass(stops));
  if (mlir::failed(raise.run(*module)))
    return 1;
  progress("raised; formed the KV-cache program", start);
  if (emit == Emit::Resa) {
    module->print(llvm::outs());
    return 0;
  }
  mlir::PassManager lower(&ctx);
  lower.addPass(resa::createGroupLinears());
  lower.addPass(resa::createFuseMultiLinear());
  lower.addPass(resa::createGroupRotary());
  lower.addPass(resa::createFuseAddNorm());
  lower.addPass(resa::createFuseGateUp());
  lower.addPass(resa::createFuseProjectionNorm());
  if (fuseRotaryCache)
    lower.addPass(resa::createFuseRotaryCache());
  lower.addPass(resa::createLowerToKernels());
  if (mlir::failed(lower.run(*module)))
    return 1;
  progress("lowered to kernel calls", start);
  if (emit == Emit::Lowered) {
    module->print(llvm::outs());
    return 0;
  }
  resa::writePackage(*module, *model, outputPath, weightType);
  progress(("wrote " + outputPath).c_str(), start);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  resa::registerResaPasses();
  mlir::registerAsmPrinterCLOptions();
  cl::ParseCommandLineOptions(argc, argv,
                              "resa-compile: compile an ONNX decoder into a resa package\n");
  for (const std::string &path : passPlugins) {
    auto plugin = mlir::PassPlugin::load(path);
    if (!plugin) {
      llvm::errs() << "resa-compile: error: cannot load pass plugin '" << path
                   << "': " << llvm::toString(plugin.takeError()) << "\n";
      return 1;
    }
    plugin->registerPassRegistryCallbacks();
  }
  try {
    return compile();
  } catch (const std::exception &e) {
    llvm::errs() << "resa-compile: error: " << e.what() << "\n";
    return 1;
  }
}
