#include "CudaExecutor.h"

#include "resa/cuda/RandomWeights.h"

#include <algorithm>
#include <functional>
#include <iostream>

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
    if (const auto *parts = package.randomColumnsOf(name))
      fillRandomColumns(package, e, *parts, t);
    else
      gpu::fillRandomWeight(t, randomWeightStream(package.randomSeed(), name, e.shape), e.dtype,
                            ctx_.stream);
  } else {
    t = gpu::upload(package.weight(plan.weightName(v)), storageType_, ctx_);
  }
  bytes_ += t.nbytes();
  tensors_.emplace(std::move(k), std::move(t));
}

void DeviceWeights::fillRandomColumns(const Package &package, const SafetensorsEntry &e,
                                      const std::vector<Package::ColumnPart> &parts,
                                      DeviceTensor &t) {
  // Each part from its own name into a scratch [K, N_i], then copied into
  // its columns (the CPU's Package::weight places them the same way).
  Package::checkColumns(e, parts);
  const int64_t rows = e.shape[0], total = e.shape[1];
  const size_t elem = dtypeSize(t.dtype());
  size_t offset = 0;
  for (const Package::ColumnPart &p : parts) {
    const Shape shape = {rows, p.columns};
    DeviceTensor part = ctx_.alloc->allocate(t.dtype(), shape);
    gpu::fillRandomWeight(part, randomWeightStream(package.randomSeed(), p.name, shape), e.dtype,
                          ctx_.stream);
    const size_t width = static_cast<size_t>(p.columns) * elem;
    gpu::checkCuda(cudaMemcpy2DAsync(static_cast<char *>(t.raw()) + offset,
                                     static_cast<size_t>(total) * elem, part.raw(), width, width,
                                     static_cast<size_t>(rows), cudaMemcpyDeviceToDevice,
                                     ctx_.stream),
                   "placing a random weight's columns");
    offset += width;
  }
}

const DeviceTensor &DeviceWeights::get(const ProgramPlan &plan, int v) const {
  auto it = tensors_.find(key(plan, v));
  if (it == tensors_.end())
    throw Error("value " + std::to_string(v) + " was not uploaded to the device");
  return it->second;
}

// A captured call: the graph, and what it keeps to be replayed (its memory,
// its staging slots, the host values it reads, its outputs).
struct CudaExecutor::Graph {
  Graph(const DeviceContext &base)
      : alloc(base.device), ctx(base), attention(alloc, base.stream), staging(base.device) {
    ctx.alloc = &alloc;
  }
  ~Graph() {
    if (exec)
      (void)cudaGraphExecDestroy(exec);
  }
  gpu::DeviceAllocator alloc; // the graph's own memory: no other call reuses it
  DeviceContext ctx;
  gpu::PagedAttentionState attention;
  CallStaging staging;
  cudaGraphExec_t exec = nullptr;
  CudaForward::TableSlots tables;
  struct Staged {
    int value, slot;
    Tensor fixed; // the value, when it does not change between calls
  };
  std::vector<Staged> staged;
  int idsSlot = -1; // input 0's slot (the token ids; -1: no device step reads them)
  std::map<int, Tensor> fixedInputs;  // unchanging host inputs of the replayed steps
  std::vector<DeviceTensor> outputs;  // per plan output
  uint64_t lastUse = 0;
};

namespace {

constexpr size_t kMaxGraphs = 24; // per function; least recently used goes first

// Ends a capture that failed midway, dropping what it recorded.
void abandonCapture(cudaStream_t stream) {
  cudaGraph_t partial = nullptr;
  (void)cudaStreamEndCapture(stream, &partial);
  if (partial)
    (void)cudaGraphDestroy(partial);
  (void)cudaGetLastError();
}

// Lets each kernel captured with programmatic dependent launch start once
// every block of the kernel before it has started, instead of once they have
// all finished (or triggered): it waits at griddepcontrol.wait for that
// kernel's completion and memory anyway, and its launch and set-up then
// overlap the kernel before it (cuBLASLt's kernels trigger nothing, so each
// kernel after a projection otherwise started a launch latency after it;
// H200, Llama-3-8B shape: dense decode 0.25-0.29 ms a step faster at 1x4K to
// 1x64K, bench/NOTES.md session 11). What this relies on: every kernel
// launched with the attribute (detail::launchPdl) executes the wait in every
// block before it reads anything an earlier kernel of the step writes, and
// writes nothing before it, so that the waits chain: the kernel before has
// completed only once the one before that has.
void startDependentsAtLaunch(cudaGraph_t graph) {
  size_t n = 0;
  gpu::checkCuda(cudaGraphGetEdges(graph, nullptr, nullptr, nullptr, &n), "counting a graph's edges");
  std::vector<cudaGraphNode_t> from(n), to(n);
  std::vector<cudaGraphEdgeData> data(n);
  gpu::checkCuda(cudaGraphGetEdges(graph, from.data(), to.data(), data.data(), &n), "reading a graph's edges");
  for (size_t i = 0; i < n; ++i) {
    if (data[i].type != cudaGraphDependencyTypeProgrammatic ||
        data[i].from_port != cudaGraphKernelNodePortProgrammatic)
      continue;
    cudaGraphEdgeData early = data[i];
    early.from_port = cudaGraphKernelNodePortLaunchCompletion;
    gpu::checkCuda(cudaGraphRemoveDependencies(graph, &from[i], &to[i], &data[i], 1),
                   "removing a programmatic edge");
    gpu::checkCuda(cudaGraphAddDependencies(graph, &from[i], &to[i], &early, 1),
                   "adding a launch-completion edge");
  }
}

} // namespace

CudaExecutor::CudaExecutor(const Package &package, const std::string &function,
                           DeviceContext &ctx, DeviceWeights &weights, DType activationType,
                           bool graphs)
    : plan_(package, function), function_(function), ctx_(ctx), weights_(weights),
      activationType_(activationType), graphs_(graphs) {
  const size_t n = plan_.numValues();
  hostKnown_.assign(n, false);
  varying_.assign(n, false);
  for (size_t v = 0; v < n; ++v)
    hostKnown_[v] = plan_.isConstant(static_cast<int>(v));
  for (int v : plan_.inputValues())
    hostKnown_[v] = varying_[v] = true;
  std::vector<bool> derivedFromIds(n, false); // input 0 and host values computed from it
  if (!plan_.inputValues().empty())
    derivedFromIds[plan_.inputValues()[0]] = true;
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
    // Symbols come from the input shapes, which a graph's key fixes: only
    // token ids and positions, and what the host computes from them, change
    // from one call of a graph to the next.
    bool changes = w == Where::Positions;
    if (w == Where::Host)
      for (int v : step.inputs)
        changes = changes || (v >= 0 && varying_[v]);
    if (changes)
      replaySteps_.push_back(s);
    // Positions and Shape read their input's shape only.
    bool fromIds = false;
    if (w == Where::Host)
      for (int v : step.inputs)
        fromIds = fromIds || (v >= 0 && derivedFromIds[v]);
    idsReadOnHost_ = idsReadOnHost_ || fromIds;
    for (int v : step.outputs)
      if (v >= 0) {
        hostKnown_[v] = onHost;
        varying_[v] = onHost && changes;
        derivedFromIds[v] = fromIds;
      }
  }
  defersSum_ = plan_.rotaryAppendProjections();
  for (size_t s = 0; s < steps.size(); ++s)
    defersSum_[s] = defersSum_[s] && where_[s] == Where::Device;
}

CudaExecutor::~CudaExecutor() = default;

std::vector<Tensor> CudaExecutor::execute(const std::vector<Tensor> &inputs,
                                          CudaForward &forward, DeviceContext &ctx,
                                          Graph *capture, const OutputFetch &fetch) {
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
      if (!capture) {
        dev[v] = gpu::upload(host[v], activationType_, ctx);
      } else {
        // A staging slot the graph reads, refreshed before each replay.
        const Tensor &t = host[v];
        // (Host floats are fp32, as the activations: a staged value is copied as is.)
        if (t.dtype() != activationType_ && (t.dtype() == DType::F64 || t.dtype() == DType::F16 ||
                                             t.dtype() == DType::BF16 || t.dtype() == DType::F32))
          throw Error("host value " + std::to_string(v) + " is " + dtypeName(t.dtype()) +
                      ", not the activation type");
        const int slot = capture->staging.add(t.nbytes());
        capture->staged.push_back({v, slot, varying_[v] ? Tensor() : t});
        if (!plan_.inputValues().empty() && v == plan_.inputValues().front())
          capture->idsSlot = slot;
        dev[v] = DeviceTensor::borrow(t.dtype(), t.shape(), capture->staging.device(slot));
      }
    }
    return &dev[v];
  };
  const std::vector<PlanStep> &steps = plan_.steps();
  // A fused q/k/v projection's unsummed outputs, from it to the rotary
  // append that reads them (defersSum_); holds their partial products.
  gpu::SlicedOutputs sliced;
  size_t nextReplayStep = 0;
  for (size_t s = 0; s < steps.size(); ++s) {
    const PlanStep &step = steps[s];
    if (capture && nextReplayStep < replaySteps_.size() && replaySteps_[nextReplayStep] == s) {
      ++nextReplayStep;
      for (int v : step.inputs)
        if (v >= 0 && !varying_[v] && !plan_.isConstant(v))
          capture->fixedInputs[v] = host[v];
    }
    std::vector<Tensor> hostOut;
    std::vector<DeviceTensor> devOut;
    try {
      switch (where_[s]) {
      case Where::ShapeExpr:
        hostOut.push_back(ProgramPlan::evaluateShapeExpr(step, symbols));
        break;
      case Where::Positions:
      case Where::Host:
        runHostStep(s, hostOf, forward.start(), hostOut);
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
      case Where::Device: {
        gpu::DeviceKernelArgs args;
        for (int v : step.inputs) {
          args.inputs.push_back(devOf(v));
          // A graph must not bake in what changes between its calls: the
          // kernel gets no host copy of such a value (one that needs it
          // fails the capture).
          args.host.push_back(capture && v >= 0 && varying_[v] ? nullptr : hostOf(v));
        }
        args.attrs = &step.attrs;
        args.opset = plan_.opset();
        args.numOutputs = step.outputs.size();
        args.ctx = &ctx;
        args.deferSum = defersSum_[s] ? &sliced : nullptr;
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
        const gpu::SlicedOutputs *unsummed = sliced.count ? &sliced : nullptr;
        if (step.kernel == "resa.cache_write")
          forward.cacheWrite(layer, at(0), at(1), step.attrs);
        else if (step.kernel == "resa.cache_attention")
          devOut.push_back(forward.cacheAttention(layer, at(0), at(1), at(2), step.attrs));
        else if (step.kernel == "resa.rotary_cache_attention")
          devOut.push_back(
              forward.rotaryCacheAttention(layer, at(0), at(1), at(2), at(3), at(4), step.attrs, unsummed));
        else if (step.kernel == "resa.rotary_cache_write")
          devOut.push_back(
              forward.rotaryCacheWrite(layer, at(0), at(1), at(2), at(3), at(4), step.attrs, unsummed));
        else if (step.kernel == "resa.block_select")
          devOut.push_back(forward.blockSelect(layer, at(0), step.attrs));
        else
          devOut.push_back(forward.blockAttention(layer, at(0), at(1), step.attrs));
        if (ProgramPlan::isRotaryAppend(step.kernel))
          sliced = gpu::SlicedOutputs(); // summed: the partial products go
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
    if (capture) {
      if (hostKnown_[v])
        throw Error("output value " + std::to_string(v) + " is computed on the host");
      capture->outputs.push_back(*devOf(v));
    } else if (hostKnown_[v]) {
      out.push_back(*hostOf(v));
    } else {
      out.push_back(fetchOutput(out.size(), *devOf(v), fetch));
    }
  }
  return out;
}

Tensor CudaExecutor::fetchOutput(size_t i, const DeviceTensor &value,
                                 const OutputFetch &fetch) const {
  return fetch ? fetch(i, value) : gpu::download(value, ctx_);
}

void CudaExecutor::runHostStep(size_t s, const std::function<const Tensor *(int)> &hostOf,
                               int64_t start, std::vector<Tensor> &out) const {
  const PlanStep &step = plan_.steps()[s];
  if (where_[s] == Where::Positions) {
    out.push_back(ProgramPlan::positions(*hostOf(step.inputs.at(0)), start));
    return;
  }
  KernelArgs args;
  for (int v : step.inputs)
    args.inputs.push_back(hostOf(v));
  args.attrs = &step.attrs;
  args.opset = plan_.opset();
  args.numOutputs = step.outputs.size();
  hostFns_[s](args, out);
}

std::vector<int64_t> CudaExecutor::graphKey(const std::vector<Tensor> &inputs,
                                            const CallContext &call) const {
  const KVCache &cache = call.cache;
  const int32_t *lens = cache.seqLens();
  const int32_t longest = *std::max_element(lens, lens + cache.batchSize());
  // Whether the tokens end every sequence (a decode step): CudaForward's
  // choice between the decode and the prefill kernels.
  const bool appends = call.start + cache.queryLengths()[0] == longest;
  std::vector<int64_t> key = {cache.batchSize(), CudaForward::planLengthOf(cache),
                              cache.totalNewTokens(),
                              static_cast<int64_t>(cache.summaryUpdates().size()), appends,
                              CudaForward::sharedPagesOf(cache)};
  for (const Tensor &t : inputs) {
    key.push_back(t.rank());
    key.insert(key.end(), t.shape().begin(), t.shape().end());
  }
  return key;
}

std::unique_ptr<CudaExecutor::Graph> CudaExecutor::capture(const std::vector<Tensor> &inputs,
                                                            const CallContext &call) {
  auto graph = std::make_unique<Graph>(ctx_);
  const cudaStream_t stream = ctx_.stream;
  // Relaxed: the graph's allocator may cudaMalloc while capturing (its
  // first use of a size); nothing else here touches the device outside the
  // stream.
  gpu::checkCuda(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed),
                 "beginning a CUDA graph capture");
  try {
    CudaForward forward(call.cache, graph->attention, graph->ctx, call.kvType, call.kvElement,
                        call.start, &graph->staging);
    execute(inputs, forward, graph->ctx, graph.get(), {});
    graph->tables = forward.tableSlots();
  } catch (...) {
    abandonCapture(stream);
    throw;
  }
  cudaGraph_t g = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(stream, &g);
  if (ended != cudaSuccess) {
    if (g)
      (void)cudaGraphDestroy(g);
    (void)cudaGetLastError();
    throw Error(std::string("the capture failed: ") + cudaGetErrorString(ended));
  }
  try {
    startDependentsAtLaunch(g);
  } catch (...) {
    (void)cudaGraphDestroy(g);
    throw;
  }
  const cudaError_t made = cudaGraphInstantiate(&graph->exec, g, 0);
  (void)cudaGraphDestroy(g);
  gpu::checkCuda(made, "instantiating a CUDA graph");
  graph->staging.finalize();
  ++captures_;
  return graph;
}

std::vector<Tensor> CudaExecutor::replay(Graph &graph, const std::vector<Tensor> &inputs,
                                         const CallContext &call, const OutputFetch &fetch,
                                         const int64_t *deviceIds) {
  // The values that change: inputs, then the replayed host steps.
  plan_.bind(inputs); // checks the inputs as an eager call would
  std::vector<Tensor> host(plan_.numValues());
  for (size_t i = 0; i < inputs.size(); ++i)
    host[plan_.inputValues()[i]] = inputs[i];
  auto hostOf = [&](int v) -> const Tensor * {
    if (v < 0)
      return nullptr;
    if (plan_.isConstant(v))
      return &plan_.constant(v);
    return varying_[v] ? &host[v] : &graph.fixedInputs.at(v);
  };
  const std::vector<PlanStep> &steps = plan_.steps();
  for (size_t s : replaySteps_) {
    const PlanStep &step = steps[s];
    std::vector<Tensor> out;
    try {
      runHostStep(s, hostOf, call.start, out);
    } catch (const Error &e) {
      throw Error("node '" + step.location + "' (" + step.kernel + ", host): " + e.what());
    }
    for (size_t i = 0; i < step.outputs.size() && i < out.size(); ++i)
      if (step.outputs[i] >= 0)
        host[step.outputs[i]] = std::move(out[i]);
  }
  for (const Graph::Staged &st : graph.staged) {
    const Tensor &t = varying_[st.value] ? host[st.value] : st.fixed;
    graph.staging.set(st.slot, t.raw(), t.nbytes());
  }
  CudaForward::stage(call.cache, graph.tables, graph.staging);
  graph.staging.flush(ctx_.stream);
  if (deviceIds && graph.idsSlot >= 0)
    gpu::checkCuda(cudaMemcpyAsync(graph.staging.device(graph.idsSlot), deviceIds,
                                   graph.staging.bytes(graph.idsSlot), cudaMemcpyDeviceToDevice,
                                   ctx_.stream),
                   "copying the chained step's token ids");
  gpu::checkCuda(cudaGraphLaunch(graph.exec, ctx_.stream), "launching a CUDA graph");
  call.cache.setLayersWritten(); // the graph wrote every layer's K and V
  ++replays_;
  std::vector<Tensor> out;
  for (const DeviceTensor &t : graph.outputs)
    out.push_back(fetchOutput(out.size(), t, fetch));
  return out;
}

std::vector<Tensor> CudaExecutor::withIdsFrom(const int64_t *deviceIds,
                                              const std::vector<Tensor> &inputs) {
  std::vector<Tensor> in = inputs;
  if (in.empty() || in[0].dtype() != DType::I64)
    throw Error("'" + function_ + "': device token ids need an int64 input 0");
  in[0] = Tensor(DType::I64, inputs[0].shape());
  gpu::checkCuda(cudaMemcpyAsync(in[0].raw(), deviceIds, in[0].nbytes(), cudaMemcpyDeviceToHost,
                                 ctx_.stream),
                 "downloading the chained step's token ids");
  gpu::checkCuda(cudaStreamSynchronize(ctx_.stream), "downloading the chained step's token ids");
  return in;
}

std::vector<Tensor> CudaExecutor::run(const std::vector<Tensor> &inputs,
                                      const CallContext &call, const OutputFetch &fetch,
                                      const int64_t *deviceIds) {
  if (deviceIds && (idsReadOnHost_ || !graphs_))
    return run(withIdsFrom(deviceIds, inputs), call, fetch);
  if (graphs_) {
    const std::vector<int64_t> key = graphKey(inputs, call);
    auto it = graphCache_.find(key);
    if (it == graphCache_.end()) {
      std::unique_ptr<Graph> graph;
      try {
        graph = capture(inputs, call);
      } catch (const Error &e) {
        // Nothing ran: the capture only recorded. Said once, then eager.
        call.cache.clearLayersWritten();
        graphs_ = false;
        std::cerr << "resa: " << plan_.package().path() << ": '" << function_
                  << "' runs without CUDA graphs: " << e.what() << "\n";
      }
      if (graph) {
        if (graphCache_.size() >= kMaxGraphs) {
          auto oldest = graphCache_.begin();
          for (auto g = graphCache_.begin(); g != graphCache_.end(); ++g)
            if (g->second->lastUse < oldest->second->lastUse)
              oldest = g;
          graphCache_.erase(oldest);
        }
        it = graphCache_.emplace(key, std::move(graph)).first;
      }
    }
    if (it != graphCache_.end()) {
      it->second->lastUse = ++clock_;
      return replay(*it->second, inputs, call, fetch, deviceIds);
    }
    if (deviceIds) // the capture failed just now: eager, the ids on the host
      return run(withIdsFrom(deviceIds, inputs), call, fetch);
  }
  CudaForward forward(call.cache, call.attention, ctx_, call.kvType, call.kvElement, call.start);
  return execute(inputs, forward, ctx_, nullptr, fetch);
}

} // namespace resa::cuda
