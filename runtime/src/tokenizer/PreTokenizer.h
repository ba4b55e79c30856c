// The text stages of a tokenizer.json before the model: the normalizer and
// the pre-tokenizer, built from their JSON specs.
//
// Normalizers: none, NFC, NFD, NFKC, NFKD and Sequence of these.
// Pre-tokenizers: ByteLevel (add_prefix_space, use_regex with GPT-2's
// pattern), Split (Regex or String pattern; behaviors Isolated and Removed;
// invert) and Sequence of these. Anything else is a resa::Error.
#pragma once

#include "Json.h"
#include "Regex.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace resa {

class Normalizer {
public:
  explicit Normalizer(const json::Value *spec); // nullptr: none
  bool identity() const { return forms_.empty(); }
  std::string apply(std::string_view text) const;

private:
  std::vector<std::string> forms_;
};

class PreTokenizer {
public:
  explicit PreTokenizer(const json::Value *spec); // nullptr: the whole text is one word
  // Appends the words of `text` (in the model's alphabet: byte-level
  // characters after a ByteLevel step).
  void split(std::string_view text, std::vector<std::string> &words) const;

private:
  struct Step {
    enum Kind { Split, ByteLevel } kind;
    std::shared_ptr<Regex> regex; // Split; ByteLevel with use_regex
    bool removed = false, invert = false;
    bool addPrefixSpace = false;
  };
  void add(const json::Value &spec);
  std::vector<Step> steps_;
};

} // namespace resa
