// Tokenizers on the committed fixtures (test/fixtures/tokenizers/): ids
// produced once by the reference packages (`tokenizers` 0.23, `sentencepiece`
// 0.2) and pasted here; malformed and unsupported files are clear errors.
// tokenizer_check.py regenerates the fixtures and checks the full corpus.
#include "resa/runtime/Tokenizer.h"

#include "resa/kernels/Tensor.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace {

using Ids = std::vector<int64_t>;

const std::string kFixtures = std::string(RESA_FIXTURES_DIR) + "/tokenizers/";

std::string tempPath(const std::string &name) {
  return (std::filesystem::temp_directory_path() /
          ("resa-unit-" + std::to_string(::getpid()) + "-" + name))
      .string();
}

std::string writeFile(const std::string &name, const std::string &text) {
  std::string path = tempPath(name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// The error message of loading `text` as a tokenizer.json.
std::string loadError(const std::string &name, const std::string &text) {
  std::string path = writeFile(name, text);
  try {
    resa::loadTokenizer(path);
  } catch (const resa::Error &e) {
    std::filesystem::remove(path);
    return e.what();
  }
  std::filesystem::remove(path);
  return "(no error)";
}

// A minimal byte-level BPE tokenizer.json with `field` replaced.
std::string tinyJson(const std::string &normalizer = "null",
                     const std::string &preTokenizer = R"({"type":"ByteLevel","add_prefix_space":false})",
                     const std::string &modelType = "BPE") {
  return R"({"version":"1.0","added_tokens":[],"normalizer":)" + normalizer +
         R"(,"pre_tokenizer":)" + preTokenizer +
         R"(,"post_processor":null,"decoder":{"type":"ByteLevel"},)"
         R"("model":{"type":")" +
         modelType + R"(","vocab":{"a":0,"b":1,"ab":2,"Ġ":3},"merges":[["a","b"]]}})";
}

class Llama3Fixture : public ::testing::Test {
protected:
  static void SetUpTestSuite() { tok = resa::loadTokenizer(kFixtures + "llama3-bpe.json"); }
  static void TearDownTestSuite() { tok.reset(); }
  static std::unique_ptr<resa::Tokenizer> tok;
};
std::unique_ptr<resa::Tokenizer> Llama3Fixture::tok;

TEST_F(Llama3Fixture, EncodesLikeTheReference) {
  EXPECT_EQ(tok->kind(), "hf-bpe");
  EXPECT_EQ(tok->encode("Hello, world!", false), (Ids{50, 79, 284, 89, 22, 271, 678, 11}));
  EXPECT_EQ(tok->encode("The cat's hat isn't what we'd've thought", false),
            (Ids{62, 269, 282, 283, 370, 303, 283, 231, 331, 88, 433, 472, 372, 382, 376, 375, 278,
                 81, 82, 94}));
  // Digits in groups of at most three: 123 456 7.
  EXPECT_EQ(tok->encode("1234567", false), (Ids{27, 28, 29, 690, 32, 33}));
  EXPECT_EQ(tok->encode("Café 日本語 😀", false), (Ids{45, 75, 383, 765, 651}));
  EXPECT_EQ(tok->encode("tabs\tand  \n\n spaces", false),
            (Ids{94, 75, 76, 93, 208, 339, 267, 388, 275, 697, 77, 79, 93}));
  EXPECT_EQ(tok->encode("", false), Ids{});
}

TEST_F(Llama3Fixture, SpecialTokensAndTemplate) {
  // Special tokens written in the text are recognised mid-text.
  EXPECT_EQ(tok->encode("<|begin_of_text|>Hi<|eot_id|> there", false),
            (Ids{0, 50, 83, 4, 280, 276}));
  // The post-processor template adds <|begin_of_text|>.
  EXPECT_EQ(tok->encode("Hi", true), (Ids{0, 50, 83}));
  EXPECT_EQ(tok->encode("", true), (Ids{0}));
  EXPECT_EQ(tok->bosId(), 0);
  EXPECT_FALSE(tok->eosId().has_value()); // no tokenizer_config.json beside the fixture
  EXPECT_TRUE(tok->isSpecial(4));
  EXPECT_FALSE(tok->isSpecial(50));
  EXPECT_EQ(tok->tokenToId("<|eot_id|>"), 4);
  EXPECT_EQ(tok->tokenToId("Ġthe"), 280);
  EXPECT_EQ(tok->idToToken(765), "ĠæĹ¥æľ¬èªŀ");
  EXPECT_FALSE(tok->tokenToId("no such token").has_value());
  EXPECT_FALSE(tok->idToToken(100000).has_value());
  EXPECT_EQ(tok->vocabSize(), 767);
}

TEST_F(Llama3Fixture, DecodesAndRoundTrips) {
  EXPECT_EQ(tok->decode({0, 50, 83, 4, 280, 276}), "<|begin_of_text|>Hi<|eot_id|> there");
  EXPECT_EQ(tok->decode({0, 50, 83, 4, 280, 276}, true), "Hi there");
  for (const char *text : {"Hello, world!", "Café 日本語 😀 שלום", "  many   spaces\t\n\r\n", "",
                           "it's 12345678 'LL", "<|eot_id|><|eot_id|>x"})
    EXPECT_EQ(tok->decode(tok->encode(text, false)), text) << text;
  // Ids past the vocabulary are dropped; a cut UTF-8 sequence becomes U+FFFD.
  EXPECT_EQ(tok->decode({50, 99999, 83}), "Hi");
  Ids emoji = tok->encode("😀", false);
  ASSERT_FALSE(emoji.empty());
  std::string bytes = tok->decode(emoji);
  EXPECT_EQ(bytes, "😀");
}

TEST_F(Llama3Fixture, RejectsInvalidUtf8) {
  EXPECT_THROW(tok->encode("abc\xff", false), resa::Error);
  EXPECT_THROW(tok->encode("\xe6\x97", false), resa::Error); // truncated
}

TEST(Tokenizer, TokenizerConfigGivesBosAndEos) {
  auto dir = std::filesystem::path(tempPath("tokdir"));
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(kFixtures + "llama3-bpe.json", dir / "tokenizer.json");
  std::ofstream(dir / "tokenizer_config.json")
      << R"({"bos_token": "<|begin_of_text|>", "eos_token": {"content": "<|eot_id|>"}})";
  auto tok = resa::loadTokenizer(dir.string()); // a folder works too
  EXPECT_EQ(tok->bosId(), 0);
  EXPECT_EQ(tok->eosId(), 4);
  std::filesystem::remove_all(dir);
}

TEST(Tokenizer, FolderFallsBackToTokenizerModel) {
  // A SentencePiece model's tokenizer.json (Metaspace) is not implemented; its
  // tokenizer.model beside it is used instead.
  auto dir = std::filesystem::path(tempPath("spdir"));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tokenizer.json") << tinyJson("null", R"({"type":"Metaspace"})");
  std::filesystem::copy_file(kFixtures + "sp-bpe.model", dir / "tokenizer.model");
  EXPECT_EQ(resa::loadTokenizer(dir.string())->kind(), "sentencepiece");
  // Given the file itself, the error stands.
  EXPECT_THROW(resa::loadTokenizer((dir / "tokenizer.json").string()), resa::Error);
  std::filesystem::remove_all(dir);
}

TEST(Tokenizer, SentencePieceFixture) {
  auto tok = resa::loadTokenizer(kFixtures + "sp-bpe.model");
  EXPECT_EQ(tok->kind(), "sentencepiece");
  EXPECT_EQ(tok->encode("Hello world", false), (Ids{424, 491, 425, 272, 427, 262, 273, 299}));
  EXPECT_EQ(tok->encode("Hello world", true).front(), 1); // BOS
  // A user-defined symbol is kept whole; an unseen character falls back to bytes.
  EXPECT_EQ(tok->encode("<|im_start|>user", false), (Ids{424, 3, 446, 431, 264}));
  EXPECT_EQ(tok->encode("Ω", false), (Ids{424, 211, 174}));
  EXPECT_EQ(tok->decode({1, 424, 211, 174, 2}), "Ω");
  EXPECT_EQ(tok->bosId(), 1);
  EXPECT_EQ(tok->eosId(), 2);
  EXPECT_EQ(tok->vocabSize(), 600);
  EXPECT_EQ(tok->tokenToId("<|im_start|>"), 3);
  EXPECT_FALSE(tok->tokenToId("no such piece").has_value());
  EXPECT_EQ(tok->specialIds(), (Ids{0, 1, 2}));
  for (const char *text : {"Hello world", "日本語 😀", "  spaces\tand\nnewlines ", ""})
    EXPECT_EQ(tok->decode(tok->encode(text, false)), text) << text;
}

TEST(Tokenizer, TinyJsonWorks) {
  std::string path = writeFile("tiny.json", tinyJson());
  auto tok = resa::loadTokenizer(path);
  EXPECT_EQ(tok->encode("ab a", false), (Ids{2, 3, 0}));
  EXPECT_EQ(tok->decode({2, 3, 0}), "ab a");
  std::filesystem::remove(path);
}

TEST(Tokenizer, MalformedJsonIsAnErrorNamingTheFile) {
  std::string text = tinyJson();
  std::string err = loadError("bad.json", text.substr(0, text.size() / 2));
  EXPECT_NE(err.find("bad.json"), std::string::npos) << err;
  EXPECT_NE(err.find("JSON line 1"), std::string::npos) << err;
  err = loadError("bad2.json", R"({"model": {"type": "BPE", "vocab": {"a": 0,}, "merges": []}})");
  EXPECT_NE(err.find("bad2.json"), std::string::npos) << err;
  err = loadError("bad3.json", R"({"a": "\ud800"})");
  EXPECT_NE(err.find("surrogate"), std::string::npos) << err;
  err = loadError("bad4.json", "[1, 2]");
  EXPECT_NE(err.find("not a tokenizer.json"), std::string::npos) << err;
}

TEST(Tokenizer, UnsupportedFeaturesAreNamed) {
  std::string err = loadError("wp.json", tinyJson("null", R"({"type":"ByteLevel"})", "WordPiece"));
  EXPECT_NE(err.find("wp.json"), std::string::npos) << err;
  EXPECT_NE(err.find("model type \"WordPiece\" is not supported"), std::string::npos) << err;
  err = loadError("uni.json", tinyJson("null", R"({"type":"ByteLevel"})", "Unigram"));
  EXPECT_NE(err.find("\"Unigram\""), std::string::npos) << err;
  err = loadError("meta.json", tinyJson("null", R"({"type":"Metaspace","replacement":"▁"})"));
  EXPECT_NE(err.find("pre_tokenizer \"Metaspace\" is not supported"), std::string::npos) << err;
  err = loadError("lower.json", tinyJson(R"({"type":"Lowercase"})"));
  EXPECT_NE(err.find("normalizer \"Lowercase\" is not supported"), std::string::npos) << err;
  err = loadError("lazy.json",
                  tinyJson("null", R"({"type":"Split","pattern":{"Regex":"a+?"},"behavior":"Isolated"})"));
  EXPECT_NE(err.find("lazy"), std::string::npos) << err;
  err = loadError("behind.json",
                  tinyJson("null", R"({"type":"Split","pattern":{"Regex":"(?<=a)b"},"behavior":"Isolated"})"));
  EXPECT_NE(err.find("unsupported group"), std::string::npos) << err;
  err = loadError("merged.json",
                  tinyJson("null", R"({"type":"Split","pattern":{"String":" "},"behavior":"MergedWithNext"})"));
  EXPECT_NE(err.find("MergedWithNext"), std::string::npos) << err;
}

TEST(Tokenizer, MissingFileAndNotAModel) {
  EXPECT_THROW(resa::loadTokenizer(tempPath("does-not-exist.json")), resa::Error);
  std::string path = writeFile("garbage.model", "this is not a sentencepiece model");
  try {
    resa::loadTokenizer(path);
    ADD_FAILURE() << "no error";
  } catch (const resa::Error &e) {
    EXPECT_NE(std::string(e.what()).find("garbage.model"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

} // namespace
