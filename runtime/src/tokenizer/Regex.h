// The regular expressions of pre-tokenizers (GPT-2, Llama-3, Qwen2, GPT-4o
// style), matched over code points with Oniguruma's semantics as the
// `tokenizers` package uses them: leftmost-first alternation, greedy
// backtracking, Unicode classes.
//
// Supported: literals and escapes (\r \n \t \f \v \x.. \u.... \\ and escaped
// punctuation), `.`, classes [...] with ranges and negation, \s \S \d \D \w \W,
// \p{..} \P{..} over general categories (L, Lu, N, Nd, ...), groups (...),
// (?:...), (?i:...) (case-insensitive by simple case folding), lookahead
// (?=...) (?!...), alternation, the greedy quantifiers ? * + {n} {n,} {n,m}
// on single-character atoms and ? on groups. Anything else (backreferences,
// lazy or possessive quantifiers, * + {..} on groups, anchors, lookbehind) is
// a resa::Error at construction.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace resa {

class Regex {
public:
  explicit Regex(std::string_view pattern);
  ~Regex();
  Regex(Regex &&) noexcept;
  Regex &operator=(Regex &&) noexcept;

  // Non-overlapping leftmost matches as [begin, end) code-point offsets;
  // empty matches are skipped.
  std::vector<std::pair<size_t, size_t>> findAll(std::u32string_view text) const;

  struct Node;

private:
  std::unique_ptr<Node> root_;
};

} // namespace resa
