// A small backtracking regex engine over code points; see Regex.h for the
// subset. Quantifiers apply only to single-character atoms, so a match needs
// recursion only per pattern node, never per character of the text.
#include "Regex.h"

#include "Unicode.h"
#include "resa/kernels/Tensor.h"

#include <unicode/uchar.h>

namespace resa {

namespace {

struct CharSet {
  struct Item {
    enum Kind { Range, Category, Space } kind;
    char32_t lo = 0, hi = 0; // Range
    uint32_t mask = 0;       // Category
    bool negated = false;    // Category, Space: \P{..}, \S
  };
  std::vector<Item> items;
  bool negated = false; // [^...]
  bool icase = false;

  bool raw(char32_t c) const {
    for (const Item &it : items) {
      bool m;
      switch (it.kind) {
      case Item::Range: m = c >= it.lo && c <= it.hi; break;
      case Item::Category: m = (unicode::categoryMask(c) & it.mask) != 0; break;
      default: m = unicode::isWhiteSpace(c); break;
      }
      if (m != it.negated) return true;
    }
    return false;
  }
  bool contains(char32_t c) const {
    bool m = raw(c) || (icase && raw(unicode::foldCase(c)));
    return m != negated;
  }
  void addChar(char32_t c) {
    items.push_back({Item::Range, c, c});
    if (icase) {
      char32_t f = unicode::foldCase(c);
      if (f != c) items.push_back({Item::Range, f, f});
    }
  }
};

// A call-once reference to a callable, cheaper than std::function.
class Continuation {
public:
  template <class F>
  Continuation(F &f) // NOLINT: implicit on purpose
      : obj_(&f), call_([](void *o, size_t p) { return (*static_cast<F *>(o))(p); }) {}
  bool operator()(size_t p) const { return call_(obj_, p); }

private:
  void *obj_;
  bool (*call_)(void *, size_t);
};

} // namespace

struct Regex::Node {
  enum Kind { Atom, Alt, Seq, Look } kind = Seq;
  CharSet set;          // Atom
  int min = 1, max = 1; // Atom; max < 0: unbounded. Alt: min 0 for (...)?
  bool negative = false; // Look: (?!...)
  std::vector<Node> kids; // Alt: Seq alternatives; Seq: items; Look: one Alt
};

namespace {

using Node = Regex::Node;

class Parser {
public:
  explicit Parser(std::string_view p) : p_(unicode::toCodePoints(p)) {}

  Node parse() {
    bool icase = false;
    Node n = alt(icase);
    if (pos_ != p_.size()) fail("unbalanced ')'");
    return n;
  }

private:
  std::u32string p_;
  size_t pos_ = 0;

  [[noreturn]] void fail(const std::string &msg) const {
    throw Error("regex " + unicode::toUtf8(p_) + ": " + msg + " (at character " +
                std::to_string(pos_) + ")");
  }
  bool at(char32_t c) const { return pos_ < p_.size() && p_[pos_] == c; }
  bool eat(char32_t c) {
    if (!at(c)) return false;
    ++pos_;
    return true;
  }

  Node alt(bool icase) {
    Node n;
    n.kind = Node::Alt;
    n.kids.push_back(seq(icase));
    while (eat('|')) n.kids.push_back(seq(icase));
    return n;
  }

  Node seq(bool &icase) {
    Node s;
    s.kind = Node::Seq;
    while (pos_ < p_.size() && !at('|') && !at(')')) {
      if (p_.compare(pos_, 4, U"(?i)") == 0) { // inline flag: to the end of the group
        pos_ += 4;
        icase = true;
        continue;
      }
      Node item = atom(icase);
      quantifier(item);
      s.kids.push_back(std::move(item));
    }
    return s;
  }

  void quantifier(Node &n) {
    if (pos_ >= p_.size()) return;
    char32_t c = p_[pos_];
    int lo, hi;
    if (c == '?') lo = 0, hi = 1, ++pos_;
    else if (c == '*') lo = 0, hi = -1, ++pos_;
    else if (c == '+') lo = 1, hi = -1, ++pos_;
    else if (c == '{' && pos_ + 1 < p_.size() && p_[pos_ + 1] >= '0' && p_[pos_ + 1] <= '9') {
      ++pos_;
      lo = number();
      hi = lo;
      if (eat(',')) hi = at('}') ? -1 : number();
      if (!eat('}')) fail("malformed {n,m} quantifier");
      if (hi >= 0 && hi < lo) fail("quantifier {n,m} with m < n");
    } else
      return;
    if (at('?') || at('+')) fail("lazy and possessive quantifiers are not supported");
    if (n.kind == Node::Alt && lo == 0 && hi == 1) { // an optional group
      n.min = 0;
      return;
    }
    if (n.kind != Node::Atom)
      fail("quantifiers other than ? apply only to single characters or classes here");
    if (n.min != 1 || n.max != 1) fail("nested quantifier");
    n.min = lo;
    n.max = hi;
  }

  int number() {
    int v = 0;
    bool any = false;
    while (pos_ < p_.size() && p_[pos_] >= '0' && p_[pos_] <= '9') {
      v = v * 10 + int(p_[pos_++] - '0');
      any = true;
      if (v > 100000) fail("quantifier bound too large");
    }
    if (!any) fail("expected a number");
    return v;
  }

  Node atom(bool icase) {
    Node n;
    n.kind = Node::Atom;
    n.set.icase = icase;
    char32_t c = p_[pos_++];
    switch (c) {
    case '(': {
      if (eat('?')) {
        if (eat(':')) return group(icase);
        if (p_.compare(pos_, 2, U"i:") == 0) {
          pos_ += 2;
          return group(true);
        }
        if (p_.compare(pos_, 3, U"-i:") == 0) {
          pos_ += 3;
          return group(false);
        }
        if (at('=') || at('!')) {
          Node look;
          look.kind = Node::Look;
          look.negative = p_[pos_++] == '!';
          look.kids.push_back(alt(icase));
          if (!eat(')')) fail("missing ')'");
          return look;
        }
        fail("unsupported group construct (?" + unicode::toUtf8(p_.substr(pos_, 1)) + "...)");
      }
      return group(icase);
    }
    case '[': classBody(n.set); return n;
    case '.': n.set.items.push_back({CharSet::Item::Range, '\n', '\n'}); n.set.negated = true; return n;
    case '\\': escape(n.set, false); return n;
    case '^': case '$': fail("anchors are not supported");
    case ')': fail("unbalanced ')'");
    case '*': case '+': case '?': fail("quantifier without an atom");
    default: n.set.addChar(c); return n;
    }
  }

  Node group(bool icase) {
    Node g = alt(icase);
    if (!eat(')')) fail("missing ')'");
    return g;
  }

  // After '\'. Adds the escape's characters to `set`.
  void escape(CharSet &set, bool inClass) {
    if (pos_ >= p_.size()) fail("trailing backslash");
    char32_t c = p_[pos_++];
    using Item = CharSet::Item;
    switch (c) {
    case 's': set.items.push_back({Item::Space}); return;
    case 'S': { Item it{Item::Space}; it.negated = true; set.items.push_back(it); return; }
    case 'd': set.items.push_back({Item::Category, 0, 0, U_GC_ND_MASK}); return;
    case 'D': set.items.push_back({Item::Category, 0, 0, U_GC_ND_MASK, true}); return;
    case 'w':
    case 'W': {
      uint32_t m = U_GC_L_MASK | U_GC_M_MASK | U_GC_ND_MASK | U_GC_PC_MASK;
      set.items.push_back({Item::Category, 0, 0, m, c == 'W'});
      return;
    }
    case 'p':
    case 'P': {
      if (!eat('{')) fail("expected '{' after \\p");
      size_t end = p_.find('}', pos_);
      if (end == std::u32string::npos) fail("unterminated \\p{...}");
      std::string name = unicode::toUtf8(p_.substr(pos_, end - pos_));
      bool neg = c == 'P';
      if (!name.empty() && name[0] == '^') neg = !neg, name.erase(0, 1);
      uint32_t mask = unicode::categoryMaskByName(name);
      if (mask == 0) fail("unsupported Unicode property \\p{" + name + "}");
      pos_ = end + 1;
      set.items.push_back({Item::Category, 0, 0, mask, neg});
      return;
    }
    case 'r': set.addChar('\r'); return;
    case 'n': set.addChar('\n'); return;
    case 't': set.addChar('\t'); return;
    case 'f': set.addChar('\f'); return;
    case 'v': set.addChar('\v'); return;
    case 'x': case 'u': {
      size_t digits = c == 'x' ? 2 : 4;
      bool braced = eat('{');
      char32_t v = 0;
      size_t k = 0;
      for (; pos_ < p_.size() && (braced ? !at('}') : k < digits); ++k) {
        char32_t h = p_[pos_++];
        int d = h >= '0' && h <= '9' ? int(h - '0') : h >= 'a' && h <= 'f' ? int(h - 'a' + 10)
              : h >= 'A' && h <= 'F' ? int(h - 'A' + 10) : -1;
        if (d < 0) fail("malformed hexadecimal escape");
        v = v * 16 + char32_t(d);
      }
      if (braced && !eat('}')) fail("unterminated \\x{...}");
      if (k == 0 || (!braced && k != digits)) fail("malformed hexadecimal escape");
      set.addChar(v);
      return;
    }
    default:
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        fail(std::string("unsupported escape \\") + char(c));
      set.addChar(c); // escaped punctuation
      return;
    }
  }

  // After '['.
  void classBody(CharSet &set) {
    if (eat('^')) set.negated = true;
    bool first = true;
    while (true) {
      if (pos_ >= p_.size()) fail("unterminated character class");
      char32_t c = p_[pos_];
      if (c == ']' && !first) {
        ++pos_;
        return;
      }
      first = false;
      if (c == '[') fail("nested character classes are not supported");
      char32_t lo;
      if (c == '\\') {
        ++pos_;
        size_t before = set.items.size();
        escape(set, true);
        // A single character can start a range; classes cannot.
        const CharSet::Item &it = set.items[before];
        if (!(set.items.size() - before >= 1 && it.kind == CharSet::Item::Range && it.lo == it.hi &&
              at('-') && pos_ + 1 < p_.size() && p_[pos_ + 1] != ']'))
          continue;
        lo = it.lo;
        set.items.resize(before);
      } else {
        lo = c;
        ++pos_;
      }
      if (at('-') && pos_ + 1 < p_.size() && p_[pos_ + 1] != ']') {
        ++pos_;
        char32_t hi = p_[pos_++];
        if (hi == '\\') {
          CharSet tmp;
          escape(tmp, true);
          if (tmp.items.size() != 1 || tmp.items[0].kind != CharSet::Item::Range)
            fail("bad range end in a character class");
          hi = tmp.items[0].lo;
        }
        if (hi < lo) fail("reversed range in a character class");
        set.items.push_back({CharSet::Item::Range, lo, hi});
      } else {
        set.addChar(lo);
      }
    }
  }
};

class Matcher {
public:
  explicit Matcher(std::u32string_view t) : t_(t) {}

  bool seq(const std::vector<Node> &items, size_t i, size_t pos, Continuation k) const {
    if (i == items.size()) return k(pos);
    const Node &n = items[i];
    switch (n.kind) {
    case Node::Atom: {
      size_t limit = n.max < 0 ? t_.size() - pos : std::min<size_t>(size_t(n.max), t_.size() - pos);
      size_t count = 0;
      while (count < limit && n.set.contains(t_[pos + count])) ++count;
      for (size_t c = count + 1; c-- > size_t(n.min);)
        if (seq(items, i + 1, pos + c, k)) return true;
      return false;
    }
    case Node::Alt: {
      auto next = [&](size_t p) { return seq(items, i + 1, p, k); };
      for (const Node &alt : n.kids)
        if (seq(alt.kids, 0, pos, next)) return true;
      return n.min == 0 && next(pos); // (...)? tries the group first, then without
    }
    case Node::Look: {
      auto accept = [](size_t) { return true; };
      bool found = false;
      for (const Node &alt : n.kids[0].kids)
        if (seq(alt.kids, 0, pos, accept)) {
          found = true;
          break;
        }
      return found != n.negative && seq(items, i + 1, pos, k);
    }
    case Node::Seq: return false; // never an item
    }
    return false;
  }

private:
  std::u32string_view t_;
};

} // namespace

Regex::Regex(std::string_view pattern)
    : root_(std::make_unique<Node>(Parser(pattern).parse())) {}
Regex::~Regex() = default;
Regex::Regex(Regex &&) noexcept = default;
Regex &Regex::operator=(Regex &&) noexcept = default;

std::vector<std::pair<size_t, size_t>> Regex::findAll(std::u32string_view text) const {
  std::vector<std::pair<size_t, size_t>> out;
  Matcher m(text);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = 0;
    auto done = [&](size_t e) {
      end = e;
      return true;
    };
    bool found = false;
    for (const Node &alt : root_->kids)
      if (m.seq(alt.kids, 0, pos, done)) {
        found = true;
        break;
      }
    if (found && end > pos) {
      out.emplace_back(pos, end);
      pos = end;
    } else {
      ++pos;
    }
  }
  return out;
}

} // namespace resa
