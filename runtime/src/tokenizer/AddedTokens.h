// Added tokens of a tokenizer.json (special tokens such as <|im_start|> and
// user-added words): found in the text before pre-tokenization, leftmost
// longest first, honouring single_word / lstrip / rstrip as `tokenizers` does.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace resa {

struct AddedToken {
  std::string content;
  int64_t id = 0;
  bool special = false, singleWord = false, lstrip = false, rstrip = false, normalized = false;
};

class AddedTokenMatcher {
public:
  // `patterns[i]` is the text matched for `tokens[i]` (the content, or its
  // normalized form for normalized tokens).
  AddedTokenMatcher(std::vector<AddedToken> tokens, const std::vector<std::string> &patterns);
  ~AddedTokenMatcher();

  struct Segment {
    size_t begin, end; // byte offsets into the text
    int64_t id;        // the added token's id, or -1 for plain text
  };
  // The text cut into added tokens and the plain text between them (empty
  // plain segments are omitted).
  std::vector<Segment> split(std::string_view text) const;

private:
  struct Trie;
  std::vector<AddedToken> tokens_;
  std::unique_ptr<Trie> trie_;
};

} // namespace resa
