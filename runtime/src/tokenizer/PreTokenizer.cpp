#include "PreTokenizer.h"

#include "ByteLevel.h"
#include "Unicode.h"
#include "resa/kernels/Tensor.h"

namespace resa {

namespace {

// GPT-2's pattern, used by the ByteLevel pre-tokenizer with use_regex.
const char *kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

const std::string &typeOf(const json::Value &spec, const char *what) {
  const json::Value *t = spec.get("type");
  if (!t) throw Error(std::string(what) + " has no \"type\"");
  return t->asString(std::string(what) + ".type");
}

bool flag(const json::Value &spec, const char *key, bool dflt) {
  const json::Value *v = spec.get(key);
  return v ? v->asBool(key) : dflt;
}

std::string escapeLiteral(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}-").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

} // namespace

Normalizer::Normalizer(const json::Value *spec) {
  if (!spec || spec->isNull()) return;
  const std::string &type = typeOf(*spec, "normalizer");
  if (type == "Sequence") {
    const json::Value *list = spec->find("normalizers");
    if (!list) throw Error("normalizer Sequence has no \"normalizers\"");
    for (const json::Value &n : list->items("normalizer.normalizers")) {
      Normalizer inner(&n);
      forms_.insert(forms_.end(), inner.forms_.begin(), inner.forms_.end());
    }
  } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    forms_.push_back(type);
  } else {
    throw Error("normalizer \"" + type +
                "\" is not supported (supported: NFC, NFD, NFKC, NFKD, Sequence)");
  }
}

std::string Normalizer::apply(std::string_view text) const {
  std::string s(text);
  for (const std::string &form : forms_) s = unicode::normalize(form, s);
  return s;
}

PreTokenizer::PreTokenizer(const json::Value *spec) {
  if (spec && !spec->isNull()) add(*spec);
}

void PreTokenizer::add(const json::Value &spec) {
  const std::string &type = typeOf(spec, "pre_tokenizer");
  if (type == "Sequence") {
    const json::Value *list = spec.find("pretokenizers");
    if (!list) throw Error("pre_tokenizer Sequence has no \"pretokenizers\"");
    for (const json::Value &p : list->items("pre_tokenizer.pretokenizers")) add(p);
    return;
  }
  Step step;
  if (type == "ByteLevel") {
    step.kind = Step::ByteLevel;
    step.addPrefixSpace = flag(spec, "add_prefix_space", true);
    if (flag(spec, "use_regex", true)) {
      static const auto gpt2 = std::make_shared<Regex>(kGpt2Pattern);
      step.regex = gpt2;
    }
  } else if (type == "Split") {
    step.kind = Step::Split;
    const json::Value *pattern = spec.get("pattern");
    if (!pattern) throw Error("pre_tokenizer Split has no \"pattern\"");
    if (const json::Value *re = pattern->get("Regex"))
      step.regex = std::make_shared<Regex>(re->asString("Split pattern.Regex"));
    else if (const json::Value *lit = pattern->get("String"))
      step.regex = std::make_shared<Regex>(escapeLiteral(lit->asString("Split pattern.String")));
    else
      throw Error("pre_tokenizer Split: pattern is neither {\"Regex\": ...} nor {\"String\": ...}");
    const json::Value *behavior = spec.get("behavior");
    std::string b = behavior ? behavior->asString("Split behavior") : "Isolated";
    if (b == "Removed") step.removed = true;
    else if (b != "Isolated")
      throw Error("pre_tokenizer Split: behavior \"" + b +
                  "\" is not supported (supported: Isolated, Removed)");
    step.invert = flag(spec, "invert", false);
  } else {
    throw Error("pre_tokenizer \"" + type +
                "\" is not supported (supported: ByteLevel, Split, Sequence)");
  }
  steps_.push_back(std::move(step));
}

namespace {

// Cuts `piece` at the matches of `re`; keeps the matches and the text between
// them, dropping what `removeMatches` / `removeGaps` says and empty pieces.
void splitByRegex(const Regex &re, const std::string &piece, bool removeMatches, bool removeGaps,
                  std::vector<std::string> &out) {
  std::u32string cps = unicode::toCodePoints(piece);
  // Code-point offsets to byte offsets.
  std::vector<size_t> byteAt(cps.size() + 1, 0);
  for (size_t i = 0, b = 0; i < cps.size(); ++i) {
    char32_t c = cps[i];
    b += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    byteAt[i + 1] = b;
  }
  size_t prev = 0;
  auto emit = [&](size_t from, size_t to, bool remove) {
    if (!remove && to > from) out.push_back(piece.substr(byteAt[from], byteAt[to] - byteAt[from]));
  };
  for (auto [begin, end] : re.findAll(cps)) {
    emit(prev, begin, removeGaps);
    emit(begin, end, removeMatches);
    prev = end;
  }
  emit(prev, cps.size(), removeGaps);
}

} // namespace

void PreTokenizer::split(std::string_view text, std::vector<std::string> &words) const {
  std::vector<std::string> pieces, next;
  if (!text.empty()) pieces.emplace_back(text);
  for (const Step &step : steps_) {
    next.clear();
    for (std::string &piece : pieces) {
      if (step.kind == Step::Split) {
        // Removed drops the matches (or, inverted, the text between them);
        // Isolated keeps both.
        splitByRegex(*step.regex, piece, step.removed && !step.invert, step.removed && step.invert,
                     next);
        continue;
      }
      if (step.addPrefixSpace && piece[0] != ' ') piece.insert(0, " ");
      if (!step.regex) {
        next.push_back(bytelevel::encode(piece));
        continue;
      }
      size_t first = next.size();
      splitByRegex(*step.regex, piece, false, false, next);
      for (size_t i = first; i < next.size(); ++i) next[i] = bytelevel::encode(next[i]);
    }
    pieces.swap(next);
  }
  for (std::string &p : pieces) words.push_back(std::move(p));
}

} // namespace resa
