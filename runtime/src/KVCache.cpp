// Page management of the paged KV cache: sequences, refcounts, copy-on-write,
// capacity, batch tables. Data moves only through KVStorage.
//
// Every mutating operation first validates and counts the pages it needs,
// then mutates; the mutation itself cannot fail, so an error leaves the cache
// exactly as it was.
#include "resa/runtime/KVCache.h"

#include "resa/kernels/Tensor.h"

#include <algorithm>
#include <limits>
#include <set>
#include <string>

namespace resa {

namespace {
std::string str(int64_t v) { return std::to_string(v); }
int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
// The storage, when its pools are host fp32 (what the typed accessors return).
KVStorage *hostPool(KVStorage &storage, const char *what) {
  if (!storage.hostF32())
    throw Error(std::string("KV cache: ") + what +
                ": the pools are not host fp32 (a device cache); use storage()");
  return &storage;
}
// Throws when the cache keeps no kmin/kmax (what = the accessor asked).
void requireSummaries(const KVCacheConfig &config, const char *what) {
  if (!config.summaries)
    throw Error(std::string("KV cache: ") + what +
                ": this cache keeps no block summaries (its package selects no blocks)");
}
} // namespace

KVCache::KVCache(const KVCacheConfig &config, std::unique_ptr<KVStorage> storage)
    : config_(config) {
  config_.validate();
  storage_ = storage ? std::move(storage) : std::make_unique<CpuKVStorage>(config_);
  refs_.assign(static_cast<size_t>(config_.numPages), 0);
  free_.resize(static_cast<size_t>(config_.numPages));
  // A stack: page 0 is handed out first, which keeps tests readable.
  for (size_t i = 0; i < free_.size(); ++i)
    free_[i] = static_cast<int32_t>(free_.size() - 1 - i);
}

KVCache::~KVCache() = default;

// --- Helpers.

KVCache::Sequence &KVCache::get(int64_t id, const char *what) {
  auto it = seqs_.find(id);
  if (it == seqs_.end())
    throw Error(std::string("KV cache: ") + what + ": no sequence " + str(id));
  return it->second;
}

const KVCache::Sequence &KVCache::get(int64_t id, const char *what) const {
  return const_cast<KVCache *>(this)->get(id, what);
}

void KVCache::checkNoForward(const char *what) const {
  if (inForward_)
    throw Error(std::string("KV cache: ") + what +
                " while a forward is open (call endForward first)");
}

void KVCache::checkLayer(int layer, const char *what) const {
  if (layer < 0 || layer >= config_.numLayers)
    throw Error(std::string("KV cache: ") + what + ": layer " + str(layer) + " out of [0, " +
                str(config_.numLayers) + ")");
}

const KVCache::Batch &KVCache::batch(const char *what) const {
  if (!inForward_)
    throw Error(std::string("KV cache: ") + what + " outside a forward (call beginForward)");
  return batch_;
}

void KVCache::requirePages(int64_t needed) const {
  if (needed > freePages())
    throw Error("KV cache full: needs " + str(needed) + " more pages, " + str(freePages()) +
                " free (capacity " + str(config_.numPages) + " pages of " +
                str(config_.pageSize) + " tokens)");
}

int32_t KVCache::allocatePage() {
  // Callers have checked capacity; running dry here is a bookkeeping bug.
  if (free_.empty())
    throw Error("KV cache: internal error: page allocation past the capacity check");
  int32_t page = free_.back();
  free_.pop_back();
  refs_[page] = 1;
  return page;
}

void KVCache::releasePage(int32_t page) {
  if (--refs_[page] == 0)
    free_.push_back(page);
}

void KVCache::copyOnWrite(Sequence &seq, size_t index) {
  int32_t old = seq.pages[index];
  int32_t fresh = allocatePage();
  storage_->copyPage(old, fresh);
  --refs_[old]; // others still hold it: refcount was > 1
  seq.pages[index] = fresh;
}

// --- Sequences.

void KVCache::addSequence(int64_t id) {
  checkNoForward("addSequence");
  if (seqs_.count(id))
    throw Error("KV cache: addSequence: sequence " + str(id) + " already exists");
  seqs_.emplace(id, Sequence{});
}

void KVCache::removeSequence(int64_t id) {
  checkNoForward("removeSequence");
  Sequence &seq = get(id, "removeSequence");
  // Last page first, so that the free stack hands the pages out again in
  // ascending order: a sequence's consecutive pages load as one box a tile
  // in the CUDA prefill (PrefillAttentionWgmma.cu).
  for (auto it = seq.pages.rbegin(); it != seq.pages.rend(); ++it)
    releasePage(*it);
  seqs_.erase(id);
}

void KVCache::forkSequence(int64_t parent, int64_t child) {
  checkNoForward("forkSequence");
  const Sequence &p = get(parent, "forkSequence");
  if (seqs_.count(child))
    throw Error("KV cache: forkSequence: child sequence " + str(child) + " already exists");
  for (int32_t page : p.pages)
    ++refs_[page];
  Sequence copy = p; // `p` may dangle once the map rehashes
  seqs_.emplace(child, std::move(copy));
}

void KVCache::popTokens(int64_t id, int64_t n) {
  checkNoForward("popTokens");
  Sequence &seq = get(id, "popTokens");
  if (n < 0 || n > seq.length)
    throw Error("KV cache: popTokens: cannot pop " + str(n) + " tokens of sequence " + str(id) +
                " (length " + str(seq.length) + ")");
  if (n == 0)
    return;
  const int64_t ps = config_.pageSize;
  const int64_t newLen = seq.length - n;
  const size_t keep = static_cast<size_t>(ceilDiv(newLen, ps));
  // When the new length ends inside a page, that page loses valid slots and
  // its summary must be recomputed (on a copy when the page is shared).
  // Without summaries no data changes: the page stays as it is, shared or not.
  const int32_t lastValid = static_cast<int32_t>(newLen % ps);
  const bool recompute = lastValid != 0 && config_.summaries;
  const bool copy = recompute && refs_[seq.pages[keep - 1]] > 1;
  if (copy) {
    int64_t released = 0;
    for (size_t i = keep; i < seq.pages.size(); ++i)
      released += refs_[seq.pages[i]] == 1;
    if (freePages() + released < 1)
      requirePages(1);
  }
  for (size_t i = seq.pages.size(); i > keep; --i) // last first, as removeSequence
    releasePage(seq.pages[i - 1]);
  seq.pages.resize(keep);
  seq.length = newLen;
  if (recompute) {
    if (copy)
      copyOnWrite(seq, keep - 1);
    const KVSummaryUpdate up{seq.pages[keep - 1], 0, lastValid};
    for (int l = 0; l < config_.numLayers; ++l)
      storage_->updateSummaries(l, &up, 1);
  }
}

bool KVCache::hasSequence(int64_t id) const { return seqs_.count(id) != 0; }

int64_t KVCache::length(int64_t id) const { return get(id, "length").length; }

std::vector<int64_t> KVCache::sequences() const {
  std::vector<int64_t> ids;
  for (const auto &kv : seqs_)
    ids.push_back(kv.first);
  std::sort(ids.begin(), ids.end());
  return ids;
}

// --- Forward.

int64_t KVCache::planForward(const std::vector<int64_t> &ids, const std::vector<int64_t> &starts,
                             const std::vector<int64_t> &lengths) const {
  if (ids.empty())
    throw Error("KV cache: beginForward: empty batch");
  if (starts.size() != ids.size() || lengths.size() != ids.size())
    throw Error("KV cache: beginForward: " + str(ids.size()) + " ids but " +
                str(starts.size()) + " starts and " + str(lengths.size()) + " lengths");
  std::set<int64_t> seen;
  // Copies already planned per shared page, so that a page shared by two
  // sequences of the batch is copied once, for the first writer only.
  std::unordered_map<int32_t, int32_t> copied;
  const int64_t ps = config_.pageSize;
  int64_t needed = 0;
  for (size_t b = 0; b < ids.size(); ++b) {
    const Sequence &seq = get(ids[b], "beginForward");
    if (!seen.insert(ids[b]).second)
      throw Error("KV cache: beginForward: sequence " + str(ids[b]) + " appears twice");
    const int64_t start = starts[b], len = lengths[b];
    if (start < 0 || start > seq.length || len < 0)
      throw Error("KV cache: beginForward: sequence " + str(ids[b]) + " of length " +
                  str(seq.length) + " cannot write " + str(len) + " tokens at " + str(start) +
                  " (need 0 <= start <= length, tokens >= 0)");
    const int64_t end = start + len;
    if (end > std::numeric_limits<int32_t>::max())
      throw Error("KV cache: beginForward: sequence " + str(ids[b]) + " would reach " +
                  str(end) + " tokens, over the int32 limit of the kernels' seqLens");
    if (len == 0)
      continue;
    const int64_t have = static_cast<int64_t>(seq.pages.size());
    needed += std::max<int64_t>(0, ceilDiv(end, ps) - have);
    for (int64_t i = start / ps; i <= (end - 1) / ps && i < have; ++i) {
      const int32_t page = seq.pages[static_cast<size_t>(i)];
      if (refs_[page] - copied[page] > 1) {
        ++copied[page];
        ++needed;
      }
    }
  }
  return needed;
}

int64_t KVCache::pagesNeeded(const std::vector<int64_t> &ids, const std::vector<int64_t> &starts,
                             const std::vector<int64_t> &lengths) const {
  return planForward(ids, starts, lengths);
}

void KVCache::beginForward(const std::vector<int64_t> &ids, const std::vector<int64_t> &starts,
                           const std::vector<int64_t> &lengths) {
  checkNoForward("beginForward");
  requirePages(planForward(ids, starts, lengths));
  // From here on nothing can fail.
  const int64_t ps = config_.pageSize;
  Batch nb;
  nb.ids = ids;
  nb.offsets.push_back(0);
  for (size_t b = 0; b < ids.size(); ++b) {
    Sequence &seq = seqs_.at(ids[b]);
    const int64_t start = starts[b], len = lengths[b], end = start + len;
    const int64_t oldLen = seq.length, newLen = std::max(oldLen, end);
    if (len > 0) {
      const int64_t first = start / ps, last = (end - 1) / ps;
      for (int64_t i = first; i <= last && i < static_cast<int64_t>(seq.pages.size()); ++i)
        if (refs_[seq.pages[static_cast<size_t>(i)]] > 1)
          copyOnWrite(seq, static_cast<size_t>(i));
      while (static_cast<int64_t>(seq.pages.size()) < ceilDiv(end, ps))
        seq.pages.push_back(allocatePage());
      for (int64_t pos = start; pos < end; ++pos)
        nb.slots.push_back(
            static_cast<int32_t>(seq.pages[static_cast<size_t>(pos / ps)] * ps + pos % ps));
      // The summary update of every written page (none without summaries).
      for (int64_t i = first; config_.summaries && i <= last; ++i) {
        const int64_t pageStart = i * ps;
        const int64_t oldValid = std::clamp<int64_t>(oldLen - pageStart, 0, ps);
        // Slots the write overwrites (rather than appends) invalidate the
        // summary: recompute from slot 0.
        const bool overwrites = std::max(start, pageStart) < oldLen;
        nb.updates.push_back({seq.pages[static_cast<size_t>(i)],
                              static_cast<int32_t>(overwrites ? 0 : oldValid),
                              static_cast<int32_t>(std::min(ps, newLen - pageStart))});
      }
    }
    seq.length = newLen;
    nb.starts.push_back(static_cast<int32_t>(start));
    nb.lengths.push_back(static_cast<int32_t>(len));
    nb.seqLens.push_back(static_cast<int32_t>(newLen));
    nb.offsets.push_back(nb.offsets.back() + static_cast<int32_t>(len));
    nb.maxPages = std::max(nb.maxPages, static_cast<int32_t>(seq.pages.size()));
  }
  nb.maxPages = std::max(nb.maxPages, 1); // a valid row stride for empty sequences
  nb.pageTable.assign(ids.size() * static_cast<size_t>(nb.maxPages), 0);
  for (size_t b = 0; b < ids.size(); ++b) {
    const std::vector<int32_t> &pages = seqs_.at(ids[b]).pages;
    std::copy(pages.begin(), pages.end(), nb.pageTable.begin() + b * nb.maxPages);
  }
  nb.written.assign(static_cast<size_t>(config_.numLayers), false);
  batch_ = std::move(nb);
  inForward_ = true;
}

void KVCache::writeLayer(int layer, const void *k, const void *v) {
  writeLayerWith(layer, [&](const int32_t *slots, int64_t count) {
    if (!k || !v)
      throw Error("KV cache: writeLayer: null K or V for " + str(count) + " tokens");
    storage_->writeTokens(layer, slots, count, k, v);
  });
}

void KVCache::writeLayerWith(int layer,
                             const std::function<void(const int32_t *slots, int64_t count)> &write) {
  writeLayerAndSummariesWith(layer, [&](const int32_t *slots, int64_t count,
                                        const std::vector<KVSummaryUpdate> &updates) {
    write(slots, count);
    storage_->updateSummaries(layer, updates.data(), updates.size());
  });
}

void KVCache::writeLayerAndSummariesWith(
    int layer, const std::function<void(const int32_t *slots, int64_t count,
                                        const std::vector<KVSummaryUpdate> &updates)> &write) {
  const Batch &b = batch("writeLayer");
  checkLayer(layer, "writeLayer");
  if (b.written[static_cast<size_t>(layer)])
    throw Error("KV cache: writeLayer: layer " + str(layer) +
                " already written in this forward (its summaries would double-count)");
  if (!b.slots.empty())
    write(b.slots.data(), static_cast<int64_t>(b.slots.size()), b.updates);
  batch_.written[static_cast<size_t>(layer)] = true;
}

void KVCache::setLayersWritten() {
  batch("setLayersWritten");
  batch_.written.assign(batch_.written.size(), true);
}

void KVCache::clearLayersWritten() {
  batch("clearLayersWritten");
  batch_.written.assign(batch_.written.size(), false);
}

void KVCache::endForward() {
  batch("endForward");
  inForward_ = false;
  Batch done = std::move(batch_);
  batch_ = Batch{};
  if (done.slots.empty())
    return;
  for (size_t l = 0; l < done.written.size(); ++l)
    if (!done.written[l])
      throw Error("KV cache: endForward: layer " + str(l) + " of " + str(config_.numLayers) +
                  " was not written; the batch's sequences hold incomplete KV");
}

PagedAttentionShape KVCache::attentionShape(int numQHeads) const {
  const Batch &b = batch("attentionShape");
  if (numQHeads <= 0 || numQHeads % config_.numKvHeads != 0)
    throw Error("KV cache: attentionShape: " + str(numQHeads) +
                " query heads is not a positive multiple of " + str(config_.numKvHeads) +
                " KV heads");
  PagedAttentionShape s;
  s.batch = static_cast<int32_t>(b.ids.size());
  s.numQHeads = numQHeads;
  s.numKvHeads = config_.numKvHeads;
  s.headDim = config_.headDim;
  s.pageSize = config_.pageSize;
  s.numPages = static_cast<int32_t>(config_.numPages);
  s.maxPagesPerSeq = b.maxPages;
  return s;
}

int32_t KVCache::batchSize() const {
  return static_cast<int32_t>(batch("batchSize").ids.size());
}
int32_t KVCache::maxPagesPerSeq() const { return batch("maxPagesPerSeq").maxPages; }
const int32_t *KVCache::pageTable() const { return batch("pageTable").pageTable.data(); }
const int32_t *KVCache::seqLens() const { return batch("seqLens").seqLens.data(); }
const int32_t *KVCache::queryStarts() const { return batch("queryStarts").starts.data(); }
const int32_t *KVCache::queryLengths() const { return batch("queryLengths").lengths.data(); }
const int32_t *KVCache::queryOffsets() const { return batch("queryOffsets").offsets.data(); }
const int32_t *KVCache::slotMapping() const { return batch("slotMapping").slots.data(); }
const std::vector<KVSummaryUpdate> &KVCache::summaryUpdates() const {
  return batch("summaryUpdates").updates;
}
int64_t KVCache::totalNewTokens() const {
  return static_cast<int64_t>(batch("totalNewTokens").slots.size());
}

// --- Pools and stats.

const float *KVCache::keys(int layer) const {
  checkLayer(layer, "keys");
  return static_cast<const float *>(hostPool(*storage_, "keys")->keys(layer));
}
const float *KVCache::values(int layer) const {
  checkLayer(layer, "values");
  return static_cast<const float *>(hostPool(*storage_, "values")->values(layer));
}
const float *KVCache::keyMin(int layer) const {
  checkLayer(layer, "keyMin");
  requireSummaries(config_, "keyMin");
  return static_cast<const float *>(hostPool(*storage_, "keyMin")->keyMin(layer));
}
const float *KVCache::keyMax(int layer) const {
  checkLayer(layer, "keyMax");
  requireSummaries(config_, "keyMax");
  return static_cast<const float *>(hostPool(*storage_, "keyMax")->keyMax(layer));
}

std::vector<int32_t> KVCache::pagesOf(int64_t id) const { return get(id, "pagesOf").pages; }

void KVCache::readTokens(int64_t id, int layer, int64_t from, int64_t to, float *k,
                         float *v) const {
  const std::vector<int32_t> &pages = get(id, "readTokens").pages;
  if (from < 0 || to < from || to > length(id) || layer < 0 || layer >= config_.numLayers)
    throw Error("readTokens: positions [" + std::to_string(from) + ", " + std::to_string(to) +
                ") of layer " + std::to_string(layer) + " are outside the sequence");
  std::vector<int32_t> slots;
  for (int64_t t = from; t < to; ++t)
    slots.push_back(pages[t / config_.pageSize] * config_.pageSize +
                    static_cast<int32_t>(t % config_.pageSize));
  storage_->readTokens(layer, slots.data(), static_cast<int64_t>(slots.size()), k, v);
}

int32_t KVCache::refCount(int32_t page) const {
  if (page < 0 || page >= config_.numPages)
    throw Error("KV cache: refCount: page " + str(page) + " out of [0, " +
                str(config_.numPages) + ")");
  return refs_[static_cast<size_t>(page)];
}

} // namespace resa
