// What resa-bench reads off a package's plan: see PackageFacts.h.
#include "PackageFacts.h"

#include "plan.pb.h"

#include <map>
#include <set>

namespace resa::bench {
namespace {

bool isFloat(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64;
}

// The selection rule of a resa.block_select step, defaults where an
// attribute is absent (as the backends read it).
BlockSelectParams selectParams(const plan::Step &step) {
  BlockSelectParams p;
  for (const plan::Attr &a : step.attrs()) {
    if (a.name() == "kept_ratio" && a.value_case() == plan::Attr::kF)
      p.keptRatio = a.f();
    else if (a.name() == "min_blocks" && a.value_case() == plan::Attr::kI)
      p.minBlocks = static_cast<int32_t>(a.i());
    else if (a.name() == "local_blocks" && a.value_case() == plan::Attr::kI)
      p.localBlocks = static_cast<int32_t>(a.i());
  }
  return p;
}

// Whether `step` reads its input `i` only by rows that index tensors pick
// (resa.embedding's table; a Gather along axis 0).
bool readsRows(const plan::Step &step, int i) {
  if (i != 0)
    return false;
  if (step.kernel() == "resa.embedding")
    return true;
  if (step.kernel() != "Gather")
    return false;
  for (const plan::Attr &a : step.attrs())
    if (a.name() == "axis")
      return a.value_case() == plan::Attr::kI && a.i() == 0;
  return true; // (ONNX's default axis)
}

} // namespace

PackageFacts readPackageFacts(const Package &package) {
  if (!package.plan().has_kv_cache())
    throw Error(package.path() + ": the package has no KV-cache program");
  return readPlanFacts(package.plan(), package.function("decode"));
}

PackageFacts readPlanFacts(const plan::Plan &plan, const plan::Function &decode) {
  PackageFacts f;
  const plan::KVCacheSpec &kv = plan.kv_cache();
  f.layers = kv.layers();
  f.kvHeads = kv.kv_heads();
  f.headDim = kv.head_dim();
  f.blockSize = kv.block_size() > 0 ? kv.block_size() : 16; // the runtime's default
  // Each weight decode reads: true where some step reads it whole.
  std::map<std::string, bool> readWhole;
  for (const plan::Step &step : decode.steps())
    for (int i = 0; i < step.inputs_size(); ++i) {
      const int id = step.inputs(i);
      if (id < 0 || id >= plan.values_size() || plan.values(id).source_case() != plan::Value::kWeight)
        continue;
      readWhole[plan.values(id).weight()] |= !readsRows(step, i);
    }
  std::set<std::string> seen;
  for (const plan::Value &v : plan.values()) {
    if (v.source_case() != plan::Value::kWeight || !seen.insert(v.weight()).second)
      continue;
    int64_t n = 1;
    for (int64_t d : v.shape())
      n *= d;
    const DType t = static_cast<DType>(v.dtype());
    const int64_t bytes = n * static_cast<int64_t>(isFloat(t) ? 2 : dtypeSize(t));
    f.weightBytes += bytes;
    const auto read = readWhole.find(v.weight());
    if (read == readWhole.end())
      continue;
    if (read->second)
      f.decodeWholeBytes += bytes;
    else if (v.shape_size() > 0 && v.shape(0) > 0)
      f.decodeRowBytes += bytes / v.shape(0);
  }
  for (const plan::Step &step : decode.steps())
    if (step.kernel() == "resa.block_select") {
      f.selectsBlocks = true;
      f.select = selectParams(step);
      break;
    }
  if (plan.has_rectify()) {
    f.rectifyInterval = plan.rectify().interval();
    f.rectifyWindow = plan.rectify().window();
  }
  f.policy = f.rectifyInterval > 0 ? "resa" : f.selectsBlocks ? "sparse" : "dense";
  return f;
}

StepBytes decodeStepBytes(const PackageFacts &f, int64_t batch, int64_t context) {
  // Two 16-bit vectors per layer and KV head: one token's K and V, or one
  // block's kmin and kmax.
  const double pair = 2.0 * 2.0 * static_cast<double>(f.layers * f.kvHeads * f.headDim);
  const double denseKV = pair * static_cast<double>(batch * context);
  StepBytes b;
  b.weights = static_cast<double>(f.decodeWholeBytes + batch * f.decodeRowBytes);
  if (f.selectsBlocks) {
    const int64_t blocks = (context + f.blockSize - 1) / f.blockSize;
    const int32_t kept = selectedBlockCount(static_cast<int32_t>(blocks), f.select);
    b.kv = pair * static_cast<double>(batch * kept * f.blockSize);
    b.summaries = pair * static_cast<double>(batch * blocks);
  } else {
    b.kv = denseKV;
  }
  if (f.rectifyInterval > 0)
    b.rectify = denseKV / static_cast<double>(f.rectifyInterval);
  return b;
}

} // namespace resa::bench
