// The BPE model of a tokenizer.json: vocabulary, ranked merges, and the merge
// loop of the `tokenizers` package (lowest rank first, leftmost on ties).
#pragma once

#include "Json.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace resa {

class BpeModel {
public:
  // `model` is tokenizer.json's "model" object; unsupported settings are a
  // resa::Error.
  explicit BpeModel(const json::Value &model);

  // Appends the ids of one pre-tokenized word (already in the model's
  // alphabet, e.g. byte-level characters).
  void encodeWord(std::string_view word, std::vector<int64_t> &out) const;

  std::optional<int64_t> tokenToId(std::string_view token) const;
  const std::string *idToToken(int64_t id) const; // nullptr if none
  int64_t size() const { return int64_t(tokens_.size()); }

private:
  struct Merge {
    int32_t rank;
    int64_t id;
  };
  static uint64_t pairKey(int64_t a, int64_t b) { return (uint64_t(a) << 32) | uint64_t(b); }

  std::unordered_map<std::string, int64_t> vocab_;
  std::vector<std::string> tokens_;
  std::vector<bool> hasToken_;
  std::unordered_map<uint64_t, Merge> merges_;
  std::optional<int64_t> unk_;
  std::string prefix_, suffix_; // continuing_subword_prefix, end_of_word_suffix
  bool fuseUnk_ = false, byteFallback_ = false, ignoreMerges_ = false;
};

} // namespace resa
