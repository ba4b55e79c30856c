// Runs one cached function of a package (prefill, decode or rectify) on CUDA.
//
// Precision: weights and the KV cache are bf16 (or f16), activations fp32.
// The GEMMs read bf16 weights with their inputs rounded to bf16 and
// accumulate in fp32; the residual stream, norms and rotary stay fp32, which
// keeps the logits within 2e-2 of the CPU's where bf16 activations drift
// past it on the test models (bench/NOTES.md).
//
// Where each step runs is decided once, at load: values known on the host
// (graph inputs, plan constants, shape arithmetic, positions, Shape) stay on
// the host, and a step whose inputs are all host values runs there on the
// exact CPU kernel (the rotary tables' cos/sin, index arithmetic: small
// tensors). Every other step runs on the device kernel of the same name
// (resa/cuda/DeviceKernel.h), reading weights uploaded once at load and host
// values uploaded when a device step first needs them in a call. A step with
// no CUDA kernel is an error at load naming its ONNX node.
#pragma once

#include "../ProgramPlan.h"
#include "CudaForward.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace resa::cuda {

// The package's weights and constants on the device, uploaded once and
// shared by the functions (weights by name, constants by value id). Float
// weights are stored in the storage type (bf16/f16: what the GEMMs stream),
// float constants (small: norm scales, rotary frequencies) in the activation
// type; integers keep their type. Random weights (resa-compile
// --weights=random) are made on the device instead, the same values as the
// CPU's.
class DeviceWeights {
public:
  DeviceWeights(DeviceContext &ctx, DType storageType, DType activationType)
      : ctx_(ctx), storageType_(storageType), activationType_(activationType) {}
  // Uploads fixed value v of `plan` unless it already is.
  void require(const ProgramPlan &plan, int v);
  const DeviceTensor &get(const ProgramPlan &plan, int v) const;
  size_t bytes() const { return bytes_; }

private:
  std::string key(const ProgramPlan &plan, int v) const;
  // A random weight made of other weights' columns (Package::randomColumnsOf).
  void fillRandomColumns(const Package &package, const SafetensorsEntry &e,
                         const std::vector<Package::ColumnPart> &parts, DeviceTensor &t);
  DeviceContext &ctx_;
  DType storageType_, activationType_;
  std::map<std::string, DeviceTensor> tensors_;
  size_t bytes_ = 0;
};

// How a call reaches the KV cache (CudaForward's arguments).
struct CallContext {
  KVCache &cache;
  gpu::PagedAttentionState &attention;
  gpu::KVDType kvType;
  DType kvElement;
  int64_t start;
};

// Decode and rectification run as CUDA graphs: the first call of a batch
// size and plan length (CudaForward) captures the call's kernels into a graph
// with its own allocator and attention workspaces (their addresses are baked
// into it), later calls of that key only recompute the host values that
// change from call to call (those derived from the token ids and positions),
// copy them and the KV tables into the graph's staging buffers and launch it:
// no per-step interpretation, allocation or kernel launch on the host. A
// call that cannot be captured (a kernel that needs a changing value on the
// host) is reported once on stderr and the function runs eagerly.
class CudaExecutor {
public:
  CudaExecutor(const Package &package, const std::string &function, DeviceContext &ctx,
               DeviceWeights &weights, DType activationType, bool graphs);
  ~CudaExecutor();
  // How output i reaches the host: downloaded whole (the default), or
  // reduced on the device first (the next tokens from the logits), on the
  // context's stream; returns what stands for the output on the host.
  using OutputFetch = std::function<Tensor(size_t i, const DeviceTensor &value)>;
  // Runs the function over the cache's open forward (tokens from
  // call.start). Outputs come back to the host through `fetch` (default:
  // downloaded; floats as fp32). deviceIds: input 0 (int64 token ids) is
  // there, on the device, written by work already on the stream (inputs[0]
  // gives its shape only): a replay copies it into the graph's staging on
  // the stream; an eager call (or a plan whose host steps read the ids)
  // downloads it first, waiting for the stream.
  std::vector<Tensor> run(const std::vector<Tensor> &inputs, const CallContext &call,
                          const OutputFetch &fetch = {}, const int64_t *deviceIds = nullptr);

  size_t graphsCaptured() const { return captures_; }
  size_t graphReplays() const { return replays_; }

private:
  enum class Where { Host, ShapeExpr, Positions, Shape, Device, Context };
  struct Graph;
  // One pass over the steps: eager (capture null: outputs downloaded) or
  // recorded into `capture` (outputs kept on the device).
  std::vector<Tensor> execute(const std::vector<Tensor> &inputs, CudaForward &forward,
                              DeviceContext &ctx, Graph *capture, const OutputFetch &fetch);
  // A step that runs on the host (resa.positions or a CPU kernel), its
  // inputs from `hostOf`.
  void runHostStep(size_t s, const std::function<const Tensor *(int)> &hostOf, int64_t start,
                   std::vector<Tensor> &out) const;
  std::unique_ptr<Graph> capture(const std::vector<Tensor> &inputs, const CallContext &call);
  std::vector<Tensor> replay(Graph &graph, const std::vector<Tensor> &inputs,
                             const CallContext &call, const OutputFetch &fetch,
                             const int64_t *deviceIds);
  // inputs with input 0 read from deviceIds (after the stream's work).
  std::vector<Tensor> withIdsFrom(const int64_t *deviceIds, const std::vector<Tensor> &inputs);
  // Output i on the host: fetch's, or downloaded.
  Tensor fetchOutput(size_t i, const DeviceTensor &value, const OutputFetch &fetch) const;
  std::vector<int64_t> graphKey(const std::vector<Tensor> &inputs, const CallContext &call) const;

  ProgramPlan plan_;
  std::string function_;
  DeviceContext &ctx_;
  DeviceWeights &weights_;
  DType activationType_;
  std::vector<bool> hostKnown_;             // per value
  std::vector<bool> varying_;               // per value: host, changes from call to call
  std::vector<Where> where_;                // per step
  std::vector<KernelFn> hostFns_;           // per step (Host)
  std::vector<gpu::DeviceKernelFn> devFns_; // per step (Device)
  // Per step: a fused q/k/v projection on the device whose outputs the next
  // step reading them, a rotary append, may get unsummed
  // (ProgramPlan::rotaryAppendProjections, gpu::SlicedOutputs).
  std::vector<bool> defersSum_;
  std::vector<size_t> replaySteps_;         // host steps computing varying values
  bool idsReadOnHost_ = false;              // a host step reads input 0 or what derives from it
  bool graphs_;
  std::map<std::vector<int64_t>, std::unique_ptr<Graph>> graphCache_;
  uint64_t clock_ = 0;
  size_t captures_ = 0, replays_ = 0;
};

} // namespace resa::cuda
