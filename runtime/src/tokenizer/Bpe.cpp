#include "Bpe.h"

#include "resa/kernels/Tensor.h"

#include <cstdio>
#include <queue>

namespace resa {

namespace {

bool flag(const json::Value &model, std::string_view key) {
  const json::Value *v = model.get(key);
  return v && v->asBool("model." + std::string(key));
}

std::string optString(const json::Value &model, std::string_view key) {
  const json::Value *v = model.get(key);
  return v ? v->asString("model." + std::string(key)) : std::string();
}

} // namespace

BpeModel::BpeModel(const json::Value &model) {
  if (const json::Value *d = model.get("dropout"); d && d->asNumber("model.dropout") != 0)
    throw Error("BPE dropout is not supported (it makes encoding random)");
  fuseUnk_ = flag(model, "fuse_unk");
  byteFallback_ = flag(model, "byte_fallback");
  ignoreMerges_ = flag(model, "ignore_merges");
  prefix_ = optString(model, "continuing_subword_prefix");
  suffix_ = optString(model, "end_of_word_suffix");

  const json::Value *vocab = model.find("vocab");
  if (!vocab) throw Error("model has no \"vocab\"");
  int64_t maxId = -1;
  for (const auto &[token, id] : vocab->members("model.vocab")) {
    int64_t i = id.asInt("model.vocab id");
    if (i < 0 || i > INT32_MAX) throw Error("model.vocab: id out of range for \"" + token + "\"");
    vocab_.emplace(token, i);
    maxId = std::max(maxId, i);
  }
  tokens_.resize(size_t(maxId + 1));
  hasToken_.assign(size_t(maxId + 1), false);
  for (const auto &[token, id] : vocab_) {
    tokens_[size_t(id)] = token;
    hasToken_[size_t(id)] = true;
  }

  if (const json::Value *unk = model.get("unk_token")) {
    auto it = vocab_.find(unk->asString("model.unk_token"));
    if (it == vocab_.end()) throw Error("model.unk_token is not in the vocabulary");
    unk_ = it->second;
  }

  const json::Value *merges = model.find("merges");
  if (!merges) throw Error("model has no \"merges\"");
  int32_t rank = 0;
  for (const json::Value &m : merges->items("model.merges")) {
    std::string a, b;
    if (m.isString()) { // "a b" (tokenizers < 0.20)
      const std::string &s = m.asString();
      size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        throw Error("model.merges: \"" + s + "\" is not two tokens separated by one space");
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else { // ["a", "b"]
      const auto &pair = m.items("model.merges entry");
      if (pair.size() != 2) throw Error("model.merges: an entry is not a pair");
      a = pair[0].asString("model.merges entry");
      b = pair[1].asString("model.merges entry");
    }
    auto ia = vocab_.find(a), ib = vocab_.find(b);
    if (ia == vocab_.end() || ib == vocab_.end())
      throw Error("model.merges: \"" + a + "\" \"" + b + "\" uses a token not in the vocabulary");
    std::string merged = a + (!prefix_.empty() && b.compare(0, prefix_.size(), prefix_) == 0
                                  ? b.substr(prefix_.size())
                                  : b);
    auto im = vocab_.find(merged);
    if (im == vocab_.end())
      throw Error("model.merges: the merge of \"" + a + "\" \"" + b + "\" is not in the vocabulary");
    merges_.emplace(pairKey(ia->second, ib->second), Merge{rank++, im->second});
  }
}

std::optional<int64_t> BpeModel::tokenToId(std::string_view token) const {
  auto it = vocab_.find(std::string(token));
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string *BpeModel::idToToken(int64_t id) const {
  if (id < 0 || id >= int64_t(tokens_.size()) || !hasToken_[size_t(id)]) return nullptr;
  return &tokens_[size_t(id)];
}

void BpeModel::encodeWord(std::string_view word, std::vector<int64_t> &out) const {
  if (word.empty()) return;
  if (ignoreMerges_) {
    auto it = vocab_.find(std::string(word));
    if (it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }

  // One symbol per character (as `tokenizers` Word), unknown characters by
  // byte fallback or the unknown token.
  struct Symbol {
    int64_t id;
    int64_t prev, next; // indices, -1: none
    bool removed;
  };
  std::vector<Symbol> symbols;
  auto add = [&](int64_t id) {
    int64_t i = int64_t(symbols.size());
    if (i > 0) symbols.back().next = i;
    symbols.push_back({id, i - 1, -1, false});
  };
  int64_t pendingUnk = -1; // an unknown token not yet added (fuse_unk)
  std::string piece;
  for (size_t i = 0; i < word.size();) {
    size_t n = 1;
    unsigned char c = static_cast<unsigned char>(word[i]);
    if (c >= 0xF0) n = 4;
    else if (c >= 0xE0) n = 3;
    else if (c >= 0xC0) n = 2;
    n = std::min(n, word.size() - i);
    std::string_view ch = word.substr(i, n);
    bool first = i == 0, last = i + n == word.size();
    piece.clear();
    if (!first) piece += prefix_;
    piece.append(ch);
    if (last) piece += suffix_;
    i += n;
    if (auto it = vocab_.find(piece); it != vocab_.end()) {
      if (pendingUnk >= 0) add(pendingUnk), pendingUnk = -1;
      add(it->second);
      continue;
    }
    if (byteFallback_) {
      std::vector<int64_t> bytes;
      for (unsigned char b : piece) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", unsigned(b));
        auto it = vocab_.find(name);
        if (it == vocab_.end()) break;
        bytes.push_back(it->second);
      }
      if (bytes.size() == piece.size()) {
        for (int64_t id : bytes) add(id);
        continue;
      }
    }
    if (unk_) {
      if (pendingUnk >= 0 && !fuseUnk_) add(pendingUnk);
      pendingUnk = *unk_;
    }
    // Without byte fallback or an unknown token the character is dropped, as
    // in `tokenizers`.
  }
  if (pendingUnk >= 0) add(pendingUnk);

  struct Candidate {
    int32_t rank;
    int64_t pos, id;
    bool operator>(const Candidate &o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto consider = [&](int64_t left) {
    int64_t right = symbols[size_t(left)].next;
    if (right < 0) return;
    auto it = merges_.find(pairKey(symbols[size_t(left)].id, symbols[size_t(right)].id));
    if (it != merges_.end()) queue.push({it->second.rank, left, it->second.id});
  };
  for (int64_t i = 0; i + 1 < int64_t(symbols.size()); ++i) consider(i);
  while (!queue.empty()) {
    Candidate top = queue.top();
    queue.pop();
    Symbol &left = symbols[size_t(top.pos)];
    if (left.removed || left.next < 0) continue;
    Symbol &right = symbols[size_t(left.next)];
    auto it = merges_.find(pairKey(left.id, right.id));
    if (it == merges_.end() || it->second.id != top.id) continue; // stale entry
    left.id = top.id;
    right.removed = true;
    left.next = right.next;
    if (left.next >= 0) symbols[size_t(left.next)].prev = top.pos;
    if (left.prev >= 0) consider(left.prev);
    consider(top.pos);
  }
  for (const Symbol &s : symbols)
    if (!s.removed) out.push_back(s.id);
}

} // namespace resa
