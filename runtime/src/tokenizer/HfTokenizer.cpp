// A Hugging Face tokenizer.json with a BPE model: the pipeline of the
// `tokenizers` package (added tokens, normalizer, pre-tokenizer, model,
// post-processor; decoder) for the byte-level BPE tokenizers of GPT-2,
// Llama-3 and Qwen2.
#include "AddedTokens.h"
#include "Bpe.h"
#include "ByteLevel.h"
#include "Json.h"
#include "Loaders.h"
#include "PreTokenizer.h"
#include "Unicode.h"
#include "resa/kernels/Tensor.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace resa {

namespace {

const std::string &typeOf(const json::Value &spec, const char *what) {
  const json::Value *t = spec.get("type");
  if (!t) throw Error(std::string(what) + " has no \"type\"");
  return t->asString(std::string(what) + ".type");
}

class HfTokenizer : public Tokenizer {
public:
  HfTokenizer(const json::Value &doc, const std::string &configPath);

  std::string kind() const override { return "hf-bpe"; }
  std::vector<int64_t> encode(std::string_view text, bool addSpecial) const override;
  std::string decode(const std::vector<int64_t> &ids, bool skipSpecial) const override;
  int64_t vocabSize() const override { return vocabSize_; }
  std::optional<int64_t> tokenToId(std::string_view token) const override;
  std::optional<std::string> idToToken(int64_t id) const override;
  bool isSpecial(int64_t id) const override { return special_.count(id) != 0; }
  std::vector<int64_t> specialIds() const override;

private:
  // One element of the post-processor's template: the encoded text
  // (ids empty) or fixed ids.
  struct TemplatePiece {
    bool sequence;
    std::vector<int64_t> ids;
  };
  void loadAddedTokens(const json::Value *list);
  void loadPostProcessor(const json::Value *spec);
  void loadDecoder(const json::Value *spec);
  void loadConfig(const std::string &path);
  void encodePlain(std::string_view text, std::vector<int64_t> &out) const;

  std::unique_ptr<BpeModel> model_;
  Normalizer normalizer_;
  PreTokenizer preTokenizer_;
  std::vector<AddedToken> added_;
  std::unordered_map<std::string, int64_t> addedByContent_;
  std::unordered_map<int64_t, std::string> addedById_;
  std::unordered_set<int64_t> special_;
  std::unique_ptr<AddedTokenMatcher> rawMatcher_, normalizedMatcher_;
  std::vector<TemplatePiece> template_; // empty: nothing added
  enum class Decoder { None, ByteLevel } decoder_ = Decoder::None;
  int64_t vocabSize_ = 0;
};

HfTokenizer::HfTokenizer(const json::Value &doc, const std::string &configPath)
    : normalizer_(doc.find("normalizer")), preTokenizer_(doc.find("pre_tokenizer")) {
  if (!doc.isObject()) throw Error("not a tokenizer.json (the document is not an object)");
  const json::Value *model = doc.get("model");
  if (!model) throw Error("no \"model\"");
  // Files from before tokenizers 0.10 have no model.type; they are BPE only
  // when they have merges.
  const json::Value *type = model->get("type");
  std::string modelType = type ? type->asString("model.type") : model->find("merges") ? "BPE" : "";
  if (modelType != "BPE")
    throw Error("model type \"" + modelType +
                "\" is not supported (supported: BPE; use a SentencePiece .model for others)");
  model_ = std::make_unique<BpeModel>(*model);
  vocabSize_ = model_->size();
  loadAddedTokens(doc.find("added_tokens"));
  loadPostProcessor(doc.get("post_processor"));
  loadDecoder(doc.get("decoder"));
  if (!configPath.empty()) loadConfig(configPath);
}

void HfTokenizer::loadAddedTokens(const json::Value *list) {
  if (list && !list->isNull()) {
    for (const json::Value &t : list->items("added_tokens")) {
      AddedToken a;
      a.content = t.find("content") ? t.find("content")->asString("added_tokens.content") : "";
      if (a.content.empty()) throw Error("added_tokens: an entry without content");
      const json::Value *id = t.get("id");
      if (!id) throw Error("added_tokens: \"" + a.content + "\" has no id");
      a.id = id->asInt("added_tokens.id");
      if (a.id < 0) throw Error("added_tokens: negative id for \"" + a.content + "\"");
      auto flag = [&](const char *key, bool dflt) {
        const json::Value *v = t.get(key);
        return v ? v->asBool(key) : dflt;
      };
      a.special = flag("special", false);
      a.singleWord = flag("single_word", false);
      a.lstrip = flag("lstrip", false);
      a.rstrip = flag("rstrip", false);
      a.normalized = flag("normalized", !a.special);
      addedByContent_[a.content] = a.id;
      addedById_[a.id] = a.content;
      if (a.special) special_.insert(a.id);
      vocabSize_ = std::max(vocabSize_, a.id + 1);
      added_.push_back(std::move(a));
    }
  }
  // Special tokens first, as in `tokenizers` (this decides ties between equal
  // contents).
  std::vector<AddedToken> raw, normalized;
  std::vector<std::string> rawPatterns, normalizedPatterns;
  for (int pass = 0; pass < 2; ++pass)
    for (const AddedToken &a : added_) {
      if (a.special != (pass == 0)) continue;
      if (a.normalized) {
        normalized.push_back(a);
        normalizedPatterns.push_back(normalizer_.apply(a.content));
      } else {
        raw.push_back(a);
        rawPatterns.push_back(a.content);
      }
    }
  rawMatcher_ = std::make_unique<AddedTokenMatcher>(std::move(raw), rawPatterns);
  normalizedMatcher_ = std::make_unique<AddedTokenMatcher>(std::move(normalized), normalizedPatterns);
}

void HfTokenizer::loadPostProcessor(const json::Value *spec) {
  if (!spec) return;
  const std::string &type = typeOf(*spec, "post_processor");
  auto idsOf = [&](const json::Value &pair, const char *what) {
    // ["<s>", 0]
    const auto &items = pair.items(what);
    if (items.size() != 2) throw Error(std::string(what) + ": expected [token, id]");
    return items[1].asInt(what);
  };
  if (type == "Sequence") {
    const json::Value *list = spec->find("processors");
    if (!list) throw Error("post_processor Sequence has no \"processors\"");
    for (const json::Value &p : list->items("post_processor.processors")) loadPostProcessor(&p);
  } else if (type == "ByteLevel") {
    // Only adjusts offsets.
  } else if (type == "TemplateProcessing") {
    if (!template_.empty()) throw Error("post_processor: more than one template");
    const json::Value *single = spec->get("single");
    if (!single) throw Error("post_processor TemplateProcessing has no \"single\"");
    const json::Value *specials = spec->get("special_tokens");
    for (const json::Value &piece : single->items("post_processor.single")) {
      if (const json::Value *seq = piece.get("Sequence")) {
        const json::Value *id = seq->get("id");
        if (!id || id->asString("Sequence.id") != "A")
          throw Error("post_processor.single: only the sequence $A can appear");
        template_.push_back({true, {}});
      } else if (const json::Value *tok = piece.get("SpecialToken")) {
        const json::Value *id = tok->get("id");
        if (!id) throw Error("post_processor.single: SpecialToken without id");
        const std::string &name = id->asString("SpecialToken.id");
        const json::Value *entry = specials ? specials->get(name) : nullptr;
        if (!entry || !entry->get("ids"))
          throw Error("post_processor: special token \"" + name + "\" is not in special_tokens");
        TemplatePiece p{false, {}};
        for (const json::Value &i : entry->get("ids")->items("special_tokens.ids"))
          p.ids.push_back(i.asInt("special_tokens.ids"));
        template_.push_back(std::move(p));
      } else {
        throw Error("post_processor.single: unknown template piece");
      }
    }
  } else if (type == "RobertaProcessing" || type == "BertProcessing") {
    const json::Value *cls = spec->get("cls"), *sep = spec->get("sep");
    if (!cls || !sep) throw Error("post_processor " + type + " needs cls and sep");
    template_ = {{false, {idsOf(*cls, "cls")}}, {true, {}}, {false, {idsOf(*sep, "sep")}}};
  } else {
    throw Error("post_processor \"" + type +
                "\" is not supported (supported: TemplateProcessing, ByteLevel, "
                "RobertaProcessing, BertProcessing, Sequence)");
  }
  // BOS / EOS as the template frames the text, when one token does.
  if (!template_.empty()) {
    if (!template_.front().sequence && template_.front().ids.size() == 1)
      bos_ = template_.front().ids[0];
    if (!template_.back().sequence && template_.back().ids.size() == 1)
      eos_ = template_.back().ids[0];
  }
}

void HfTokenizer::loadDecoder(const json::Value *spec) {
  if (!spec) return;
  const std::string &type = typeOf(*spec, "decoder");
  if (type == "ByteLevel") {
    decoder_ = Decoder::ByteLevel;
  } else if (type == "Sequence") {
    const json::Value *list = spec->find("decoders");
    const auto &items = list ? list->items("decoder.decoders") : std::vector<json::Value>{};
    if (items.size() != 1) throw Error("decoder Sequence: only a single ByteLevel decoder is supported");
    loadDecoder(&items[0]);
  } else {
    throw Error("decoder \"" + type + "\" is not supported (supported: ByteLevel)");
  }
}

// tokenizer_config.json: "bos_token" / "eos_token" as a string or
// {"content": ...}.
void HfTokenizer::loadConfig(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return;
  std::stringstream ss;
  ss << in.rdbuf();
  json::Value cfg;
  try {
    cfg = json::parse(ss.str());
  } catch (const Error &e) {
    throw Error(path + ": " + e.what());
  }
  auto idFor = [&](const char *key) -> std::optional<int64_t> {
    const json::Value *v = cfg.get(key);
    if (!v) return std::nullopt;
    const json::Value *content = v->isObject() ? v->get("content") : v;
    if (!content || !content->isString()) return std::nullopt;
    auto id = tokenToId(content->asString());
    if (!id) throw Error(path + ": " + key + " \"" + content->asString() + "\" is not a token");
    return id;
  };
  if (auto id = idFor("bos_token")) bos_ = id;
  if (auto id = idFor("eos_token")) eos_ = id;
}

std::optional<int64_t> HfTokenizer::tokenToId(std::string_view token) const {
  auto it = addedByContent_.find(std::string(token));
  if (it != addedByContent_.end()) return it->second;
  return model_->tokenToId(token);
}

std::optional<std::string> HfTokenizer::idToToken(int64_t id) const {
  auto it = addedById_.find(id);
  if (it != addedById_.end()) return it->second;
  if (const std::string *t = model_->idToToken(id)) return *t;
  return std::nullopt;
}

std::vector<int64_t> HfTokenizer::specialIds() const {
  std::vector<int64_t> ids(special_.begin(), special_.end());
  std::sort(ids.begin(), ids.end());
  return ids;
}

// Text without the non-normalized added tokens: normalize, find the
// normalized added tokens, pre-tokenize and run the model on the rest.
void HfTokenizer::encodePlain(std::string_view text, std::vector<int64_t> &out) const {
  std::string normalized = normalizer_.identity() ? std::string(text) : normalizer_.apply(text);
  std::vector<std::string> words;
  for (const auto &seg : normalizedMatcher_->split(normalized)) {
    if (seg.id >= 0) {
      out.push_back(seg.id);
      continue;
    }
    words.clear();
    preTokenizer_.split(std::string_view(normalized).substr(seg.begin, seg.end - seg.begin), words);
    for (const std::string &w : words) model_->encodeWord(w, out);
  }
}

std::vector<int64_t> HfTokenizer::encode(std::string_view text, bool addSpecial) const {
  if (size_t bad = unicode::invalidUtf8At(text); bad != std::string_view::npos)
    throw Error("tokenizer: text is not valid UTF-8 (byte " + std::to_string(bad) + ")");
  std::vector<int64_t> ids;
  for (const auto &seg : rawMatcher_->split(text)) {
    if (seg.id >= 0) ids.push_back(seg.id);
    else encodePlain(text.substr(seg.begin, seg.end - seg.begin), ids);
  }
  if (!addSpecial || template_.empty()) return ids;
  std::vector<int64_t> framed;
  for (const TemplatePiece &p : template_) {
    const std::vector<int64_t> &src = p.sequence ? ids : p.ids;
    framed.insert(framed.end(), src.begin(), src.end());
  }
  return framed;
}

std::string HfTokenizer::decode(const std::vector<int64_t> &ids, bool skipSpecial) const {
  std::string out;
  bool first = true;
  for (int64_t id : ids) {
    if (skipSpecial && special_.count(id)) continue;
    const std::string *token = nullptr;
    auto it = addedById_.find(id);
    if (it != addedById_.end()) token = &it->second;
    else token = model_->idToToken(id);
    if (!token) continue; // outside the vocabulary
    if (decoder_ == Decoder::ByteLevel) {
      bytelevel::appendDecoded(out, *token);
    } else {
      if (!first) out += ' ';
      out += *token;
    }
    first = false;
  }
  return decoder_ == Decoder::ByteLevel ? unicode::fromUtf8Lossy(out) : out;
}

} // namespace

std::unique_ptr<Tokenizer> loadHfTokenizer(const std::string &text, const std::string &configPath) {
  json::Value doc = json::parse(text);
  return std::make_unique<HfTokenizer>(doc, configPath);
}

} // namespace resa
