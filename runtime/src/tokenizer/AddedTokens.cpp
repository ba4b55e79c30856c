#include "AddedTokens.h"

#include "Unicode.h"

#include <map>

namespace resa {

// A byte trie; terminal nodes name the token index.
struct AddedTokenMatcher::Trie {
  struct Node {
    std::map<unsigned char, int32_t> next;
    int32_t token = -1;
  };
  std::vector<Node> nodes{Node{}};

  void insert(std::string_view s, int32_t token) {
    if (s.empty()) return;
    int32_t n = 0;
    for (unsigned char c : s) {
      auto it = nodes[size_t(n)].next.find(c);
      if (it == nodes[size_t(n)].next.end()) {
        nodes.push_back(Node{});
        int32_t fresh = int32_t(nodes.size() - 1);
        nodes[size_t(n)].next.emplace(c, fresh);
        n = fresh;
      } else {
        n = it->second;
      }
    }
    if (nodes[size_t(n)].token < 0) nodes[size_t(n)].token = token; // first added wins
  }

  // Longest token starting at `pos`: its index and length, or -1.
  int32_t longestAt(std::string_view s, size_t pos, size_t &len) const {
    int32_t n = 0, best = -1;
    for (size_t i = pos; i < s.size(); ++i) {
      auto it = nodes[size_t(n)].next.find(static_cast<unsigned char>(s[i]));
      if (it == nodes[size_t(n)].next.end()) break;
      n = it->second;
      if (nodes[size_t(n)].token >= 0) best = nodes[size_t(n)].token, len = i + 1 - pos;
    }
    return best;
  }
};

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens,
                                     const std::vector<std::string> &patterns)
    : tokens_(std::move(tokens)), trie_(std::make_unique<Trie>()) {
  for (size_t i = 0; i < tokens_.size(); ++i) trie_->insert(patterns[i], int32_t(i));
}

AddedTokenMatcher::~AddedTokenMatcher() = default;

namespace {

// The last / first code point of a UTF-8 string.
char32_t lastChar(std::string_view s) {
  size_t i = s.size();
  while (i > 0 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) --i;
  if (i > 0) --i;
  std::u32string c = unicode::toCodePoints(s.substr(i));
  return c.empty() ? 0 : c[0];
}
char32_t firstChar(std::string_view s) {
  size_t n = 1;
  while (n < s.size() && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) ++n;
  std::u32string c = unicode::toCodePoints(s.substr(0, n));
  return c.empty() ? 0 : c[0];
}

} // namespace

std::vector<AddedTokenMatcher::Segment> AddedTokenMatcher::split(std::string_view text) const {
  std::vector<Segment> out;
  size_t done = 0; // end of the last emitted segment
  size_t pos = 0;
  while (pos < text.size()) {
    size_t len = 0;
    int32_t t = trie_->longestAt(text, pos, len);
    if (t < 0) {
      ++pos;
      continue;
    }
    const AddedToken &tok = tokens_[size_t(t)];
    size_t start = pos, stop = pos + len;
    pos = stop; // matches never overlap, even when one is rejected below
    if (tok.singleWord) {
      bool spaceBefore = start == 0 || !unicode::isAlphanumeric(lastChar(text.substr(0, start)));
      bool spaceAfter = stop == text.size() || !unicode::isAlphanumeric(firstChar(text.substr(stop)));
      if (!spaceBefore || !spaceAfter) continue;
    }
    if (tok.lstrip) {
      size_t s = start;
      while (s > done) {
        size_t b = s - 1;
        while (b > done && (static_cast<unsigned char>(text[b]) & 0xC0) == 0x80) --b;
        if (!unicode::isWhiteSpace(firstChar(text.substr(b, s - b)))) break;
        s = b;
      }
      start = s;
    }
    if (tok.rstrip) {
      while (stop < text.size() && unicode::isWhiteSpace(firstChar(text.substr(stop)))) {
        size_t n = 1;
        while (stop + n < text.size() && (static_cast<unsigned char>(text[stop + n]) & 0xC0) == 0x80)
          ++n;
        stop += n;
      }
      pos = stop;
    }
    if (start > done) out.push_back({done, start, -1});
    out.push_back({start, stop, tok.id});
    done = stop;
  }
  if (done < text.size()) out.push_back({done, text.size(), -1});
  return out;
}

} // namespace resa
