// The runtime's paged KV cache: sequences, pages, copy-on-write, and the
// per-page key summaries that ReSA's block selection reads.
//
// The pools have exactly the layout of resa/kernels/PagedKV.h (per layer K, V
// [numPages][numKvHeads][pageSize][headDim], kmin/kmax [numPages][numKvHeads]
// [headDim]; page tables int32 [batch][maxPagesPerSeq]; seqLens int32), so the
// attention kernels read them in place. One page is one ReSA block.
//
// Page management (which sequence owns which page, refcounts, copy-on-write,
// capacity) lives in KVCache and never touches data; the data lives behind
// KVStorage, so a CUDA backend implements KVStorage alone and reuses all of
// the bookkeeping below. CpuKVStorage is the fp32 host implementation.
//
// Forward protocol (one forward at a time):
//   cache.beginForward(ids, starts, lengths);   // allocate, copy-on-write
//   for each layer: cache.writeLayer(layer, k, v); then attention reads
//                   cache.keys(layer), pageTable(), seqLens(), ...
//   cache.endForward();
// Positions [start, start + length) of each sequence are written; start may
// be below the sequence's length, which overwrites positions (ReSA's dense
// rectification rewrites the KV of its last f tokens that way).
//
// Invariant that keeps the summaries exact: all sequences that share a page
// agree on how many of its slots are valid (a shared page is copied before
// any sequence writes it or pops part of it), and kmin/kmax of every held
// page are the min/max over exactly its valid slots once a forward has
// written every layer.
//
// A cache built with summaries = false (a package whose plan selects no
// blocks: dense attention) has no kmin/kmax pools at all: forwards record no
// summary updates, keyMin/keyMax throw, the storage returns null for them, and
// a pop into a shared page copies nothing (only K and V remain, and a shared
// page is still copied before anyone writes it).
#pragma once

#include "resa/kernels/PagedKV.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

namespace resa {

struct KVCacheConfig {
  int numLayers = 0;
  int numKvHeads = 0;
  int headDim = 0;
  int pageSize = 16;    // tokens per page = ReSA block size; a power of two
  int64_t numPages = 0; // pages per layer; page ids are int32
  // Whether the per-page key summaries (kmin/kmax) are kept. ReSA's block
  // selection (a resa.block_select step) reads them; a plan without one does
  // not, and a cache without them saves their pools (1 / pageSize of the K
  // and V memory) and the summary update after every layer's write.
  bool summaries = true;

  // Throws resa::Error naming the first bad field.
  void validate() const;
  // Elements of one layer's K (or V) pool, and of one kmin (or kmax) pool
  // when summaries are kept.
  int64_t poolElements() const { return numPages * numKvHeads * pageSize * headDim; }
  int64_t summaryElements() const { return numPages * numKvHeads * headDim; }
};

// How one written page's summary is refreshed after a write: the summary
// already covers slots [0, from) (nothing when from == 0, which resets it),
// and is extended with the keys in slots [from, valid). Appends to a page
// extend (from = slots valid before); overwrites and pops recompute (from = 0),
// since a min or max cannot be decremented.
struct KVSummaryUpdate {
  int32_t page;
  int32_t from;
  int32_t valid;
};

// Where the pools live (host fp32 here, device bf16/f16 in the CUDA backend:
// runtime/src/cuda/CudaKVStorage.h). All page ids are valid and distinct where
// it matters (the cache guarantees it); implementations do not re-check them.
class KVStorage {
public:
  virtual ~KVStorage() = default;
  // True when the pools are host fp32 (what the CPU kernels read).
  virtual bool hostF32() const = 0;
  // Copies every layer's K, V, kmin and kmax (K and V alone when the config
  // keeps no summaries) of page src onto page dst.
  virtual void copyPage(int32_t src, int32_t dst) = 0;
  // Scatters one layer's new tokens: token i of k and v ([numTokens]
  // [numKvHeads][headDim], in the pools' element type and memory space) goes
  // to slot slotMapping[i] % pageSize of page slotMapping[i] / pageSize.
  // slotMapping is a host array.
  virtual void writeTokens(int layer, const int32_t *slotMapping, int64_t numTokens,
                           const void *k, const void *v) = 0;
  // Applies the summary updates (a host array) to one layer, after its
  // tokens are written. Without summaries only count 0 is valid (more is a
  // bookkeeping bug: resa::Error).
  virtual void updateSummaries(int layer, const KVSummaryUpdate *updates, size_t count) = 0;
  // Copies the keys and values of the given slots (page * pageSize + slot,
  // host array) out to host fp32 [numTokens][numKvHeads][headDim] each.
  virtual void readTokens(int layer, const int32_t *slotMapping, int64_t numTokens, float *k,
                          float *v) const = 0;
  // The raw pools of one layer, laid out as PagedKV.h says, in the pools'
  // element type and memory space; keyMin and keyMax are null when the config
  // keeps no summaries.
  virtual void *keys(int layer) = 0;
  virtual void *values(int layer) = 0;
  virtual void *keyMin(int layer) = 0;
  virtual void *keyMax(int layer) = 0;
};

// fp32 pools in host memory. Allocation failure is a resa::Error giving the
// bytes asked for.
class CpuKVStorage final : public KVStorage {
public:
  explicit CpuKVStorage(const KVCacheConfig &config);
  bool hostF32() const override { return true; }
  void copyPage(int32_t src, int32_t dst) override;
  void writeTokens(int layer, const int32_t *slotMapping, int64_t numTokens, const void *k,
                   const void *v) override;
  void updateSummaries(int layer, const KVSummaryUpdate *updates, size_t count) override;
  void readTokens(int layer, const int32_t *slotMapping, int64_t numTokens, float *k,
                  float *v) const override;
  void *keys(int layer) override { return k_[layer].data(); }
  void *values(int layer) override { return v_[layer].data(); }
  void *keyMin(int layer) override { return c_.summaries ? kmin_[layer].data() : nullptr; }
  void *keyMax(int layer) override { return c_.summaries ? kmax_[layer].data() : nullptr; }

private:
  KVCacheConfig c_;
  std::vector<std::vector<float>> k_, v_, kmin_, kmax_; // kmin_, kmax_ empty without summaries
};

class KVCache {
public:
  // Validates the config; with no storage given, allocates CpuKVStorage. A
  // storage passed in must have been built for the same config.
  explicit KVCache(const KVCacheConfig &config, std::unique_ptr<KVStorage> storage = nullptr);
  ~KVCache();
  KVCache(const KVCache &) = delete;
  KVCache &operator=(const KVCache &) = delete;

  const KVCacheConfig &config() const { return config_; }

  // --- Sequences. Every mutation below throws resa::Error (and changes
  // nothing) on an unknown or duplicate id, a bad argument, or while a
  // forward is open.
  void addSequence(int64_t id);
  // Releases the sequence's pages; a page returns to the free list when no
  // other sequence holds it.
  void removeSequence(int64_t id);
  // The child holds all of the parent's pages (partial last page included)
  // and its length; nothing is copied until one of them writes.
  void forkSequence(int64_t parent, int64_t child);
  // Drops the last n tokens. When the new last page stays partial its
  // summary is recomputed; if it is shared it is first copied, which needs a
  // free page (capacity error otherwise, cache unchanged). Without summaries
  // nothing is recomputed or copied (the page stays shared until a write).
  void popTokens(int64_t id, int64_t n);
  bool hasSequence(int64_t id) const;
  int64_t length(int64_t id) const;
  std::vector<int64_t> sequences() const; // ids, ascending

  // --- Forward.
  // Pages a beginForward with these arguments would take from the free list
  // (new pages + copies of shared pages it writes). Validates like
  // beginForward; lets a scheduler check a batch fits without throwing.
  int64_t pagesNeeded(const std::vector<int64_t> &ids, const std::vector<int64_t> &starts,
                      const std::vector<int64_t> &lengths) const;
  // Opens a forward over the batch `ids` (distinct, existing): positions
  // [starts[b], starts[b] + lengths[b]) of sequence b will be written;
  // 0 <= starts[b] <= length(ids[b]), lengths[b] >= 0. Allocates pages,
  // copies each shared page that will be written, sets each length to
  // max(old, start + length) and builds the batch tables. When the free
  // pages do not suffice throws "KV cache full: ..." and changes nothing.
  void beginForward(const std::vector<int64_t> &ids, const std::vector<int64_t> &starts,
                    const std::vector<int64_t> &lengths);
  // K and V ([totalNew][numKvHeads][headDim], the batch's new tokens in batch
  // order, each sequence's in position order, in the storage's element type
  // and memory space) of one layer; also refreshes that layer's summaries of
  // the written pages. Each layer once per forward.
  void writeLayer(int layer, const void *k, const void *v);
  // writeLayer with the write itself left to `write`, given the slot mapping
  // and the token count: for a backend that computes K and V on their way
  // into its storage (CUDA: the rotary of k); the summaries are refreshed
  // after it as writeLayer does.
  void writeLayerWith(int layer, const std::function<void(const int32_t *slots, int64_t count)> &write);
  // writeLayerWith for a `write` that also refreshes the summaries of the
  // pages it writes (CUDA: the kernel that writes the keys takes each page's
  // min and max as it goes): it gets summaryUpdates() too (empty without
  // summaries), and the storage's updateSummaries is not called.
  void writeLayerAndSummariesWith(
      int layer, const std::function<void(const int32_t *slots, int64_t count,
                                          const std::vector<KVSummaryUpdate> &updates)> &write);
  // For a backend that records a forward's layer writes and runs them later
  // (a CUDA graph): marks every layer written (once a replay wrote them all)
  // or none (after a recording abandoned before anything ran).
  void setLayersWritten();
  void clearLayersWritten();
  // Closes the forward. Throws (after closing it) when tokens were to be
  // written and some layer was not: those sequences hold incomplete KV.
  void endForward();
  bool inForward() const { return inForward_; }

  // The current forward's batch tables (throw outside a forward). Row b of
  // pageTable holds sequence b's pages; entries past its last page are 0 (a
  // valid id, never read by the kernels).
  PagedAttentionShape attentionShape(int numQHeads) const;
  int32_t batchSize() const;
  int32_t maxPagesPerSeq() const;
  const int32_t *pageTable() const;    // [batch][maxPagesPerSeq]
  const int32_t *seqLens() const;      // [batch], lengths after the forward
  const int32_t *queryStarts() const;  // [batch], first written position
  const int32_t *queryLengths() const; // [batch], tokens written
  const int32_t *queryOffsets() const; // [batch + 1], prefix sums of queryLengths
  const int32_t *slotMapping() const;  // [totalNew], page * pageSize + slot
  // The summary updates writeLayer gives the storage for every layer (none
  // when the config keeps no summaries).
  const std::vector<KVSummaryUpdate> &summaryUpdates() const;
  int64_t totalNewTokens() const;

  // --- Pools of a host fp32 storage (valid for the cache's lifetime; throw
  // when the storage is elsewhere: use storage() there). keyMin and keyMax
  // throw when the config keeps no summaries.
  const float *keys(int layer) const;
  const float *values(int layer) const;
  const float *keyMin(int layer) const;
  const float *keyMax(int layer) const;
  KVStorage &storage() { return *storage_; }

  // --- Stats.
  int64_t numPages() const { return config_.numPages; }
  int64_t freePages() const { return static_cast<int64_t>(free_.size()); }
  int64_t usedPages() const { return numPages() - freePages(); }
  std::vector<int32_t> pagesOf(int64_t id) const; // in token order
  // Copies the keys and values of positions [from, to) of sequence `id` in
  // `layer` out as [to - from][numKvHeads][headDim] each (for checks and
  // measurements; not a hot path).
  void readTokens(int64_t id, int layer, int64_t from, int64_t to, float *k, float *v) const;
  int32_t refCount(int32_t page) const;           // 0 for a free page

private:
  struct Sequence {
    std::vector<int32_t> pages;
    int64_t length = 0;
  };
  struct Batch {
    std::vector<int64_t> ids;
    int32_t maxPages = 0;
    std::vector<int32_t> pageTable, seqLens, starts, lengths, offsets, slots;
    std::vector<KVSummaryUpdate> updates;
    std::vector<bool> written; // per layer
  };

  Sequence &get(int64_t id, const char *what);
  const Sequence &get(int64_t id, const char *what) const;
  void checkNoForward(const char *what) const;
  void checkLayer(int layer, const char *what) const;
  const Batch &batch(const char *what) const;
  // Validates the batch; returns the pages a beginForward would allocate.
  int64_t planForward(const std::vector<int64_t> &ids, const std::vector<int64_t> &starts,
                      const std::vector<int64_t> &lengths) const;
  void requirePages(int64_t needed) const;
  int32_t allocatePage();
  void releasePage(int32_t page);
  // Gives the sequence its own copy of pages[index] (all layers).
  void copyOnWrite(Sequence &seq, size_t index);

  KVCacheConfig config_;
  std::unique_ptr<KVStorage> storage_;
  std::unordered_map<int64_t, Sequence> seqs_;
  std::vector<int32_t> refs_; // per page
  std::vector<int32_t> free_; // a stack; lowest ids on top at first
  bool inForward_ = false;
  Batch batch_;
};

} // namespace resa
