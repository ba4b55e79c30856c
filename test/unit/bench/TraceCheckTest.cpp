// resa-bench quality's trace check (bench/quality/TraceCheck.h) on traces
// written with the task tokenizer: right lines, the first wrong line's first
// token, traces that end early or are cut.
#include "quality/TraceCheck.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

namespace {

using resa::bench::checkTrace;
using resa::bench::TraceCheck;

const char *kReference = "r0 = k5729, k5729 = 22\n"
                         "r1 = (r0 * k6869) mod 31, k6869 = 8, (22 * 8) mod 31 = 21\n"
                         "r2 = (r1 - k9542) mod 31, k9542 = 4, (21 - 4) mod 31 = 17\n"
                         "Answer: 17\n";

class TraceCheckTest : public ::testing::Test {
protected:
  void SetUp() override {
    tok_ = resa::loadTokenizer(RESA_TASK_TOKENIZER);
    eos_ = *tok_->eosId();
  }
  std::vector<int64_t> ids(const std::string &text, bool eos) const {
    std::vector<int64_t> t = tok_->encode(text, false);
    if (eos)
      t.push_back(eos_);
    return t;
  }
  // The check of a generation of `text` (then EOS when `eos`), as the
  // benchmark runs it: the text is what the tokens decode to.
  TraceCheck check(const std::string &text, bool eos, const std::string &ref = kReference) const {
    std::vector<int64_t> t = ids(text, eos);
    return checkTrace(t, tok_->decode(t, true), ref, *tok_);
  }
  // Tokens of `prefix`, asserting that `text` is tokenized as `prefix` then
  // the rest (the task tokenizer splits at newlines).
  int64_t tokensOf(const std::string &prefix, const std::string &text) const {
    std::vector<int64_t> p = ids(prefix, false), t = ids(text, false);
    EXPECT_TRUE(t.size() >= p.size() && std::equal(p.begin(), p.end(), t.begin())) << prefix;
    return static_cast<int64_t>(p.size());
  }
  std::unique_ptr<resa::Tokenizer> tok_;
  int64_t eos_ = 0;
};

TEST_F(TraceCheckTest, RightTrace) {
  TraceCheck c = check(kReference, true);
  EXPECT_EQ(c.referenceLines, 4);
  EXPECT_EQ(c.linesRight, 4);
  EXPECT_EQ(c.firstWrongToken, -1);
  // Text after the reference's last line does not make it wrong.
  EXPECT_EQ(check(std::string(kReference) + "r3 = 1\n", true).firstWrongToken, -1);
}

TEST_F(TraceCheckTest, FirstWrongLine) {
  const std::string right = "r0 = k5729, k5729 = 22\n"
                            "r1 = (r0 * k6869) mod 31, k6869 = 8, (22 * 8) mod 31 = 21\n";
  const std::string text = right + "r2 = (r1 - k9542) mod 31, k9542 = 5, (21 - 5) mod 31 = 16\n"
                                   "Answer: 16\n";
  TraceCheck c = check(text, true);
  EXPECT_EQ(c.linesRight, 2);
  EXPECT_EQ(c.firstWrongToken, tokensOf(right, text));
  // Wrong from the start.
  TraceCheck first = check("r0 = k5729, k5729 = 23\n", true);
  EXPECT_EQ(first.linesRight, 0);
  EXPECT_EQ(first.firstWrongToken, 0);
  // A later line that happens to be right again does not count.
  std::string back = "r0 = k5729, k5729 = 23\n"
                     "r1 = (r0 * k6869) mod 31, k6869 = 8, (22 * 8) mod 31 = 21\n";
  EXPECT_EQ(check(back, true).linesRight, 0);
}

TEST_F(TraceCheckTest, EndsEarlyOrCut) {
  const std::string right = "r0 = k5729, k5729 = 22\n";
  // Stopped after a right line: wrong from the stop token.
  TraceCheck stopped = check(right, true);
  EXPECT_EQ(stopped.linesRight, 1);
  EXPECT_EQ(stopped.firstWrongToken, tokensOf(right, right));
  // Cut by the token limit inside the next line: wrong from that line's start.
  const std::string cut = right + "r1 = (r0 * k68";
  TraceCheck c = check(cut, false);
  EXPECT_EQ(c.linesRight, 1);
  EXPECT_EQ(c.firstWrongToken, tokensOf(right, cut));
  // Cut right after a line: right through every token it has.
  EXPECT_EQ(check(right, false).firstWrongToken, tokensOf(right, right));
  // A line without its newline is not right.
  TraceCheck noNewline = check("r0 = k5729, k5729 = 22", true);
  EXPECT_EQ(noNewline.linesRight, 0);
  EXPECT_EQ(noNewline.firstWrongToken, 0);
  // Nothing but the stop token.
  EXPECT_EQ(check("", true).firstWrongToken, 0);
}

TEST_F(TraceCheckTest, ReferenceWithoutFinalNewline) {
  const std::string ref = "r0 = k5729, k5729 = 22\nAnswer: 22";
  TraceCheck c = check(ref, true, ref);
  EXPECT_EQ(c.referenceLines, 2);
  EXPECT_EQ(c.linesRight, 2);
  EXPECT_EQ(c.firstWrongToken, -1);
}

} // namespace
