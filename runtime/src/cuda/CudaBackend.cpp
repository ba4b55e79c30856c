// The CUDA backend: one stream, one caching allocator, cuBLASLt, the
// attention plans, the package's weights on the device, and the executors of
// the cached functions.
#include "../Backend.h"
#include "CudaExecutor.h"
#include "CudaKVStorage.h"

#include "resa/cuda/Gemm.h"
#include "resa/cuda/Sampling.h"

#include "plan.pb.h"

#include <cstdlib>
#include <cstring>
#include <string>

namespace resa {
namespace {

using namespace resa::cuda;

// The storage type of weights and KV: bf16 unless the package stores its
// float weights in f16 (resa-compile --dtype f16).
DType storageTypeOf(const Package &package) {
  for (const plan::Value &v : package.plan().values())
    if (v.source_case() == plan::Value::kWeight &&
        package.weightEntry(v.weight()).dtype == DType::F16)
      return DType::F16;
  return DType::BF16;
}

// Pinned host bytes, grown on demand, for a step's sampling draws and its
// one download of tokens and log-probabilities: a copy to pageable memory
// goes through the driver's staging and blocks on its own, and two of them
// cost ~20 us a decode step (the timeline's DtoH rows and the idle gap
// between them).
class PinnedBytes {
public:
  PinnedBytes() = default;
  PinnedBytes(const PinnedBytes &) = delete;
  PinnedBytes &operator=(const PinnedBytes &) = delete;
  ~PinnedBytes() {
    if (p_) cudaFreeHost(p_);
  }
  void *get(size_t bytes) {
    if (bytes > size_) {
      if (p_) gpu::checkCuda(cudaFreeHost(p_), "freeing pinned memory");
      p_ = nullptr, size_ = 0;
      gpu::checkCuda(cudaHostAlloc(&p_, bytes, cudaHostAllocDefault),
                     "pinned memory for the chosen tokens");
      size_ = bytes;
    }
    return p_;
  }

private:
  void *p_ = nullptr;
  size_t size_ = 0;
};

class CudaBackend final : public ProgramBackend {
public:
  explicit CudaBackend(const Package &package)
      : storageType_(storageTypeOf(package)),
        kvType_(storageType_ == DType::F16 ? gpu::KVDType::F16 : gpu::KVDType::BF16),
        stream_(makeStream()), alloc_(), attention_(alloc_, stream_),
        weights_(ctx_, storageType_, DType::F32) {
    ctx_.stream = stream_;
    ctx_.alloc = &alloc_;
    gpu::checkCuda(cudaGetDevice(&ctx_.device), "cudaGetDevice");
    blas_.attach(ctx_);
    // Prefill runs eagerly (its lengths vary call to call); decode and
    // rectification as CUDA graphs unless RESA_CUDA_GRAPHS=0.
    const char *env = std::getenv("RESA_CUDA_GRAPHS");
    const bool graphs = !env || std::string(env) != "0";
    for (const char *name : {"prefill", "decode", "rectify"})
      executors_.emplace(name, std::make_unique<CudaExecutor>(
                                   package, name, ctx_, weights_, DType::F32,
                                   graphs && std::string(name) != "prefill"));
    for (RingSlot &slot : ring_)
      gpu::checkCuda(cudaEventCreateWithFlags(&slot.done, cudaEventDisableTiming),
                     "creating a choice event");
    gpu::checkCuda(cudaStreamSynchronize(stream_), "uploading the weights");
  }
  ~CudaBackend() override {
    executors_.clear();
    cudaStreamSynchronize(stream_);
    for (RingSlot &slot : ring_)
      if (slot.done)
        cudaEventDestroy(slot.done);
    cudaStreamDestroy(stream_);
  }

  std::unique_ptr<KVStorage> makeStorage(const KVCacheConfig &config) override {
    return std::make_unique<CudaKVStorage>(config, kvType_, stream_);
  }

  std::vector<Tensor> run(const std::string &function, const std::vector<Tensor> &inputs,
                          KVCache &cache, int64_t start) override {
    return executors_.at(function)->run(inputs,
                                        {cache, attention_, kvType_, storageType_, start});
  }

  // The logits (output 0) stay on the device: the sampling kernel picks each
  // row's token there and only tokens and log-probabilities come back.
  TokenChoice runAndChoose(const std::string &function, const std::vector<Tensor> &inputs,
                           KVCache &cache, int64_t start, const TokenRequest &request) override {
    if (pendingChoices() != 0)
      throw Error("runAndChoose with " + std::to_string(pendingChoices()) +
                  " enqueued steps not taken");
    enqueueChoice(function, inputs, cache, start, request, false);
    return takeChoice();
  }

  int64_t graphReplays() const override {
    int64_t n = 0;
    for (const auto &[name, e] : executors_)
      n += static_cast<int64_t>(e->graphReplays());
    return n;
  }

protected:
  // Each step's choice lands in device memory (`chosen`: what a chained
  // step after it copies into its token ids) and then in a pinned slot of
  // the ring, with an event the host waits on in take(), so that the stream
  // may hold the next step meanwhile.
  std::shared_ptr<PendingChoice> startChoice(const std::string &function,
                                             const std::vector<Tensor> &inputs, KVCache &cache,
                                             int64_t start, const TokenRequest &request,
                                             const PendingChoice *chainedFrom) override {
    const int64_t rows = static_cast<int64_t>(request.draws.size());
    const int64_t *ids = nullptr;
    if (chainedFrom)
      ids = static_cast<const int64_t *>(chainedStep<DeviceChoice>(chainedFrom).chosen.get());
    RingSlot &slot = ring_[enqueued_ % kRing];
    auto step = std::make_shared<DeviceChoice>(&slot, rows);
    auto choose = [&](size_t i, const DeviceTensor &logits) -> Tensor {
      if (i != 0)
        return gpu::download(logits, ctx_);
      checkChoiceLogits(logits.dtype(), logits.shape(), rows);
      const int64_t len = logits.dim(1), vocab = logits.dim(2);
      step->vocab = vocab;
      // Tokens, then log-probabilities, in one block: one copy back.
      const size_t bytes = static_cast<size_t>(rows) * (sizeof(int64_t) + sizeof(float));
      step->chosen = alloc_.allocateBytes(bytes);
      int64_t *tokens = static_cast<int64_t *>(step->chosen.get());
      float *logProbs = reinterpret_cast<float *>(tokens + rows);
      // The slot's pinned bytes: the draws (uploaded from there: a copy
      // from pageable memory may wait for the stream), then the choice.
      const size_t drawBytes = static_cast<size_t>(rows) * sizeof(double);
      char *host = static_cast<char *>(slot.host.get(drawBytes + bytes));
      step->choice = host + drawBytes;
      gpu::SampleArgs a;
      a.logits = logits.data<float>() + (len - 1) * vocab;
      a.rows = rows;
      a.vocab = vocab;
      a.rowStride = len * vocab;
      a.temperature = request.temperature;
      a.topP = request.topP;
      std::shared_ptr<void> draws;
      if (request.temperature != 0.0f && rows > 0) {
        std::memcpy(host, request.draws.data(), drawBytes);
        draws = alloc_.allocateBytes(drawBytes);
        gpu::checkCuda(cudaMemcpyAsync(draws.get(), host, drawBytes, cudaMemcpyHostToDevice, stream_),
                       "uploading the sampling draws");
        a.uniforms = static_cast<const double *>(draws.get());
      }
      a.tokens = tokens;
      a.logProbs = logProbs;
      gpu::sampleTokens(a, stream_);
      if (bytes > 0)
        gpu::checkCuda(cudaMemcpyAsync(step->choice, step->chosen.get(), bytes,
                                       cudaMemcpyDeviceToHost, stream_),
                       "downloading the chosen tokens");
      gpu::checkCuda(cudaEventRecord(slot.done, stream_), "recording a step's choice");
      return Tensor();
    };
    executors_.at(function)->run(inputs, {cache, attention_, kvType_, storageType_, start}, choose,
                                 ids);
    if (!step->chosen)
      throw Error("'" + function + "' returns no logits");
    ++enqueued_;
    return step;
  }

  size_t maxPendingChoices() const override { return kRing; }

private:
  static cudaStream_t makeStream() {
    cudaStream_t s = nullptr;
    gpu::checkCuda(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
    return s;
  }

  DType storageType_;
  gpu::KVDType kvType_;
  cudaStream_t stream_;
  gpu::DeviceAllocator alloc_;
  gpu::BlasLtHandle blas_;
  gpu::DeviceContext ctx_;
  gpu::PagedAttentionState attention_;
  DeviceWeights weights_;
  std::map<std::string, std::unique_ptr<CudaExecutor>> executors_;
  // Enqueued steps' pinned slots, a ring: the base class holds at most kRing
  // steps not taken, so a slot is reused only after its step was taken.
  struct RingSlot {
    PinnedBytes host;
    cudaEvent_t done = nullptr; // after the choice's download
  };
  class DeviceChoice final : public PendingChoice {
  public:
    DeviceChoice(RingSlot *s, int64_t r) : slot(s), rows(r) {}
    TokenChoice take() override {
      gpu::checkCuda(cudaEventSynchronize(slot->done), "downloading the chosen tokens");
      const int64_t *t = reinterpret_cast<const int64_t *>(choice);
      const float *lp = reinterpret_cast<const float *>(t + rows);
      TokenChoice c;
      c.tokens.assign(t, t + rows);
      c.logProbs.assign(lp, lp + rows);
      c.vocab = vocab;
      return c;
    }
    RingSlot *slot;
    int64_t rows;
    int64_t vocab = 0;
    std::shared_ptr<void> chosen; // device tokens, then log-probabilities
    char *choice = nullptr;       // their copy in the slot's pinned bytes
  };
  static constexpr size_t kRing = 4;
  RingSlot ring_[kRing];
  size_t enqueued_ = 0;
};

} // namespace

std::unique_ptr<ProgramBackend> makeCudaBackend(const Package &package) {
  return std::make_unique<CudaBackend>(package);
}

} // namespace resa
