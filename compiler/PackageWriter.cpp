#include "compiler/PackageWriter.h"

#include "compiler/WeightConversion.h"

#include "dialects/onnx/OnnxDialect.h"
#include "dialects/resa/ResaDialect.h"
#include "passes/ShapeInference.h"
#include "resa/runtime/Package.h"
#include "resa/runtime/PlanChecksum.h"
#include "resa/runtime/Safetensors.h"

#include "plan.pb.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <unistd.h>

using namespace mlir;
namespace fs = std::filesystem;

namespace resa {
namespace {

constexpr const char *kWeightsFile = "weights.safetensors";

std::string locationName(Location loc) {
  if (auto n = dyn_cast<NameLoc>(loc))
    return n.getName().str();
  if (auto f = dyn_cast<FusedLoc>(loc))
    return f.getLocations().empty() ? "" : locationName(f.getLocations().front());
  return "";
}

DType dtypeOf(Type elementType) {
  int d = onnx::onnxDTypeOf(elementType);
  if (d == 0)
    throw Error("no package dtype for element type");
  return static_cast<DType>(d);
}

void fillTensorData(DenseElementsAttr attr, plan::TensorData *out) {
  auto type = cast<RankedTensorType>(attr.getType());
  out->set_dtype(static_cast<int>(dtypeOf(type.getElementType())));
  for (int64_t d : type.getShape())
    out->add_shape(d);
  std::string raw;
  if (type.getElementType().isInteger(1)) {
    for (bool v : attr.getValues<bool>())
      raw.push_back(v ? 1 : 0);
  } else {
    ArrayRef<char> data = attr.getRawData();
    if (attr.isSplat())
      for (int64_t i = 0; i < type.getNumElements(); ++i)
        raw.append(data.data(), data.size());
    else
      raw.assign(data.data(), data.size());
  }
  out->set_raw(raw);
}

void fillAttr(StringRef name, Attribute a, plan::Attr *out) {
  out->set_name(name.str());
  if (auto i = dyn_cast<IntegerAttr>(a))
    out->set_i(i.getInt());
  else if (auto f = dyn_cast<FloatAttr>(a))
    out->set_f(static_cast<float>(f.getValueAsDouble()));
  else if (auto s = dyn_cast<StringAttr>(a))
    out->set_s(s.str());
  else if (auto ints = dyn_cast<DenseI64ArrayAttr>(a))
    for (int64_t v : ints.asArrayRef())
      out->mutable_ints()->add_v(v);
  else if (auto floats = dyn_cast<DenseF32ArrayAttr>(a))
    for (float v : floats.asArrayRef())
      out->mutable_floats()->add_v(v);
  else if (auto arr = dyn_cast<ArrayAttr>(a)) {
    auto *strings = out->mutable_strings();
    for (Attribute e : arr) {
      auto s = dyn_cast<StringAttr>(e);
      if (!s)
        throw Error("attribute '" + name.str() + "': only arrays of strings are supported");
      strings->add_v(s.str());
    }
  } else if (auto dense = dyn_cast<DenseElementsAttr>(a))
    fillTensorData(dense, out->mutable_tensor());
  else
    throw Error("attribute '" + name.str() + "' has a kind the plan cannot hold");
}

class PlanBuilder {
public:
  explicit PlanBuilder(plan::Plan &plan) : plan_(plan) {}

  // The value id of `v`, creating its Value entry on first sight.
  int idOf(Value v) {
    if (isa<NoneType>(v.getType()))
      return -1;
    auto it = ids_.find(v);
    if (it != ids_.end())
      return it->second;
    int id = plan_.values_size();
    plan::Value *pv = plan_.add_values();
    auto type = cast<RankedTensorType>(v.getType());
    pv->set_dtype(static_cast<int>(dtypeOf(type.getElementType())));
    for (int64_t d : type.getShape()) {
      pv->add_shape(ShapedType::isDynamic(d) ? -1 : d);
      pv->add_dim_exprs(ShapedType::isDynamic(d) ? "?" : std::to_string(d));
    }
    ids_[v] = id;
    return id;
  }
  plan::Value &value(int id) { return *plan_.mutable_values(id); }

private:
  plan::Plan &plan_;
  llvm::DenseMap<Value, int> ids_;
};

// `weightNames` holds the weights already listed by earlier functions;
// `logicalF32[i]` says that weights[i] is float32 in the plan (whatever its
// stored dtype).
// Writes the rows of the model's 2-D initializers `parts` ([K, N_i] each,
// elements of `elementSize` bytes) side by side: row k of every part in turn.
void writeColumnsSideBySide(const OnnxModel &model, const std::vector<std::string> &parts,
                            size_t elementSize, const std::string &name, std::FILE *f) {
  std::vector<std::vector<char>> bytes;
  std::vector<size_t> rowBytes;
  int64_t rows = -1;
  for (const std::string &part : parts) {
    const ::onnx::TensorProto *t = model.initializer(part);
    if (!t || t->dims_size() != 2 || (rows >= 0 && t->dims(0) != rows))
      throw Error("weight '" + name + "': part '" + part + "' is not a [K, N] initializer of K " +
                  std::to_string(rows));
    rows = t->dims(0);
    bytes.push_back(model.tensorBytes(*t));
    rowBytes.push_back(static_cast<size_t>(t->dims(1)) * elementSize);
    if (bytes.back().size() != static_cast<size_t>(rows) * rowBytes.back())
      throw Error("weight '" + name + "': part '" + part + "' holds " +
                  std::to_string(bytes.back().size()) + " bytes, not [K, N] of its type");
  }
  for (int64_t r = 0; r < rows; ++r)
    for (size_t p = 0; p < parts.size(); ++p)
      if (std::fwrite(bytes[p].data() + static_cast<size_t>(r) * rowBytes[p], 1, rowBytes[p], f) !=
          rowBytes[p])
        throw Error("weight '" + name + "': write failed");
}

// The package's weights as the functions name them: their entries in the
// safetensors file, whether each is float32 in the program, and for a
// concatenation (resa.weight columns_of) the model initializers it is made of.
struct PackageWeights {
  std::vector<SafetensorsEntry> entries;
  std::vector<bool> logicalF32;
  std::set<std::string> names;
  std::map<std::string, std::vector<std::string>> columnsOf;
};

void buildFunction(func::FuncOp func, plan::Plan &plan, PlanBuilder &pb, PackageWeights &weights) {
  plan::Function *pf = plan.add_functions();
  pf->set_name(func.getSymName().str());
  std::map<std::string, bool> bound;
  for (BlockArgument arg : func.getArguments()) {
    unsigned i = arg.getArgNumber();
    int id = pb.idOf(arg);
    auto name = func.getArgAttrOfType<StringAttr>(i, "onnx.name");
    std::string argName = name ? name.str() : "arg" + std::to_string(i);
    pb.value(id).set_name(argName);
    pb.value(id).set_input(static_cast<int>(i));
    pf->add_inputs(id);
    pf->add_input_names(argName);
    auto params = func.getArgAttrOfType<ArrayAttr>(i, "onnx.dim_params");
    auto type = cast<RankedTensorType>(arg.getType());
    for (int64_t d = 0; d < type.getRank(); ++d) {
      if (!type.isDynamicDim(d))
        continue;
      StringRef param;
      if (params && d < static_cast<int64_t>(params.size()))
        param = cast<StringAttr>(params[d]).getValue();
      std::string sym = symbolName(i, d, param);
      pb.value(id).set_dim_exprs(d, sym);
      if (!bound[sym]) {
        bound[sym] = true;
        plan::Symbol *s = pf->add_symbols();
        s->set_name(sym);
        s->set_input(static_cast<int>(i));
        s->set_dim(static_cast<int>(d));
      }
    }
  }
  for (Operation &op : func.getBody().front()) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (unsigned i = 0; i < ret.getNumOperands(); ++i) {
        pf->add_outputs(pb.idOf(ret.getOperand(i)));
        auto name = func.getResultAttrOfType<StringAttr>(i, "onnx.name");
        pf->add_output_names(name ? name.str() : "out" + std::to_string(i));
      }
      continue;
    }
    if (isa<ir::NoneOp>(op))
      continue;
    if (auto w = dyn_cast<ir::WeightOp>(op)) {
      int id = pb.idOf(w.getResult());
      pb.value(id).set_name(w.getName().str());
      pb.value(id).set_weight(w.getName().str());
      if (weights.names.insert(w.getName().str()).second) {
        auto type = cast<RankedTensorType>(w.getType());
        auto stored = w.getStoredType();
        weights.entries.push_back({w.getName().str(),
                                   dtypeOf(stored ? *stored : type.getElementType()),
                                   Shape(type.getShape().begin(), type.getShape().end())});
        weights.logicalF32.push_back(type.getElementType().isF32());
        if (auto parts = w.getColumnsOf())
          for (Attribute part : *parts)
            weights.columnsOf[w.getName().str()].push_back(cast<StringAttr>(part).str());
      }
      continue;
    }
    if (auto c = dyn_cast<ir::ConstantOp>(op)) {
      int id = pb.idOf(c.getResult());
      fillTensorData(cast<DenseElementsAttr>(c.getValue()), pb.value(id).mutable_constant());
      continue;
    }
    plan::Step *step = pf->add_steps();
    step->set_location(locationName(op.getLoc()));
    if (auto se = dyn_cast<ir::ShapeExprOp>(op)) {
      step->set_kernel("resa.shape_expr");
      fillAttr("exprs", se.getExprs(), step->add_attrs());
      fillAttr("scalar", IntegerAttr::get(IntegerType::get(op.getContext(), 64),
                                          se.getScalar() ? 1 : 0),
               step->add_attrs());
    } else if (auto call = dyn_cast<ir::KernelCallOp>(op)) {
      step->set_kernel(call.getKernel().str());
      for (NamedAttribute a : call.getAttrs())
        fillAttr(a.getName().getValue(), a.getValue(), step->add_attrs());
    } else {
      throw Error("op '" + op.getName().getStringRef().str() + "' at '" +
                  locationName(op.getLoc()) + "' is not lowered to a kernel call");
    }
    for (Value in : op.getOperands())
      step->add_inputs(pb.idOf(in));
    for (Value out : op.getResults()) {
      if (isa<NoneType>(out.getType()) || out.use_empty()) {
        step->add_outputs(-1);
        continue;
      }
      int id = pb.idOf(out);
      pb.value(id).set_computed(true);
      step->add_outputs(id);
    }
  }
}

} // namespace

void writePackage(ModuleOp lowered, const OnnxModel &model, const std::string &outDir,
                  std::optional<DType> weightType) {
  plan::Plan plan;
  plan.set_format_version(kPlanFormatVersion);
  plan.set_producer("resa-compile 0.1");
  plan.set_source_model(model.path());
  plan.set_opset(model.opset(""));
  plan.set_weights_file(kWeightsFile);
  PlanBuilder pb(plan);
  PackageWeights pw;
  for (auto func : lowered.getOps<func::FuncOp>())
    buildFunction(func, plan, pb, pw);
  std::vector<SafetensorsEntry> &weights = pw.entries;
  std::vector<DType> modelDType; // as the model stores each weight
  for (size_t i = 0; i < weights.size(); ++i) {
    modelDType.push_back(weights[i].dtype);
    if (weightType && pw.logicalF32[i])
      weights[i].dtype = *weightType;
  }
  const WeightSource &source = model.weightSource();
  if (source.random) {
    plan.mutable_random_weights()->set_seed(source.seed);
    for (const auto &[name, parts] : pw.columnsOf) {
      plan::ColumnsOf *c = plan.mutable_random_weights()->add_columns_of();
      c->set_weight(name);
      for (const std::string &part : parts) {
        const ::onnx::TensorProto *t = model.initializer(part);
        if (!t || t->dims_size() != 2)
          throw Error("weight '" + name + "': part '" + part + "' is not a 2-D initializer");
        c->add_parts(part);
        c->add_columns(t->dims(1));
      }
    }
    for (const SafetensorsEntry &w : weights)
      if (w.dtype != DType::F32 && w.dtype != DType::BF16 && w.dtype != DType::F16)
        throw Error("weight '" + w.name + "' is " + dtypeName(w.dtype) +
                    ": --weights=random makes float weights only");
  }
  if (auto kv = lowered->getAttrOfType<DictionaryAttr>("resa.kv_cache")) {
    auto get = [&](StringRef n) { return static_cast<int32_t>(kv.getAs<IntegerAttr>(n).getInt()); };
    plan.mutable_kv_cache()->set_layers(get("layers"));
    plan.mutable_kv_cache()->set_kv_heads(get("kv_heads"));
    plan.mutable_kv_cache()->set_head_dim(get("head_dim"));
    plan.mutable_kv_cache()->set_block_size(kv.get("block_size") ? get("block_size") : 16);
  }
  for (auto g : lowered.getOps<ir::GsrPipelineOp>()) {
    plan::GsrSpec *spec = plan.mutable_gsr();
    spec->set_candidates(g.getCandidatesAttr().getInt());
    spec->set_refine_template(g.getRefineTemplate().str());
    spec->set_candidate_temperature(g.getCandidateTemperature().convertToFloat());
    spec->set_candidate_top_p(g.getCandidateTopP().convertToFloat());
    spec->set_candidate_max_tokens(g.getCandidateMaxTokensAttr().getInt());
    spec->set_refine_temperature(g.getRefineTemperature().convertToFloat());
    spec->set_refine_top_p(g.getRefineTopP().convertToFloat());
    spec->set_refine_max_tokens(g.getRefineMaxTokensAttr().getInt());
    for (Attribute s : g.getStop())
      spec->add_stop(cast<StringAttr>(s).str());
    spec->set_answer(g.getAnswer().str());
  }
  for (auto schedule : lowered.getOps<ir::RectificationScheduleOp>()) {
    plan.mutable_rectify()->set_function(schedule.getFunction().str());
    plan.mutable_rectify()->set_interval(schedule.getIntervalAttr().getInt());
    plan.mutable_rectify()->set_window(schedule.getWindowAttr().getInt());
  }

  fs::path out(outDir);
  if (fs::exists(out) && !fs::exists(out / kPlanFileName))
    throw Error(outDir + ": exists and is not a resa package; not overwriting it");
  fs::path tmp = out;
  tmp += ".tmp-" + std::to_string(::getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  if (!fs::create_directories(tmp, ec))
    throw Error(tmp.string() + ": cannot create: " + ec.message());
  try {
    // Weight i's bytes as the model stores them: an initializer, or the
    // rows of several side by side.
    auto writeModelBytes = [&](size_t i, std::FILE *f) {
      auto parts = pw.columnsOf.find(weights[i].name);
      if (parts == pw.columnsOf.end())
        return model.writeInitializer(weights[i].name, f);
      writeColumnsSideBySide(model, parts->second, dtypeSize(modelDType[i]), weights[i].name, f);
    };
    std::function<void(size_t, std::FILE *)> writeData = [&](size_t i, std::FILE *f) {
      if (weights[i].dtype == modelDType[i])
        return writeModelBytes(i, f);
      std::FILE *sink = openConvertingSink(f, modelDType[i], weights[i].dtype);
      try {
        writeModelBytes(i, sink);
      } catch (...) {
        std::fclose(sink);
        throw;
      }
      if (std::fclose(sink) != 0)
        throw Error("converting weight '" + weights[i].name + "' failed");
    };
    if (source.random)
      writeData = nullptr; // the header alone
    uint64_t size = writeSafetensors((tmp / kWeightsFile).string(), weights, writeData);
    plan.set_weights_bytes(size);
    std::string planBytes;
    if (!plan.SerializeToString(&planBytes))
      throw Error(outDir + ": the plan does not serialize");
    planBytes = sealPlan(std::move(planBytes),
                         SafetensorsFile((tmp / kWeightsFile).string(),
                                         source.random ? SafetensorsData::Absent
                                                       : SafetensorsData::Present)
                             .header());
    std::ofstream planFile(tmp / kPlanFileName, std::ios::binary);
    if (!planFile.write(planBytes.data(), static_cast<std::streamsize>(planBytes.size())) ||
        !planFile.flush())
      throw Error((tmp / kPlanFileName).string() + ": write failed");
    planFile.close();
    fs::remove_all(out, ec);
    fs::rename(tmp, out, ec);
    if (ec)
      throw Error(outDir + ": cannot move the package into place: " + ec.message());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

} // namespace resa
