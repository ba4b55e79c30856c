// GSR's text pieces: the refinement prompt (golden), answer extraction,
// majority vote.
#include "resa/runtime/Gsr.h"

#include <gtest/gtest.h>

using resa::buildRefinePrompt;
using resa::extractAnswer;
using resa::majorityVote;

TEST(Gsr, RefinementPromptGolden) {
  std::string tmpl = "Q: {problem}\n{n} tries:\n{candidates}\nBetter:";
  std::string got = buildRefinePrompt(tmpl, "2+2?", {"  It is 4. ", "five\n", "{problem} 3"});
  EXPECT_EQ(got, "Q: 2+2?\n3 tries:\n"
                 "Candidate 1:\nIt is 4.\n\n"
                 "Candidate 2:\nfive\n\n"
                 "Candidate 3:\n{problem} 3\n"
                 "Better:");
}

TEST(Gsr, AnswerRules) {
  EXPECT_EQ(extractAnswer("so x = 12, then -3.5 and 7", "last-number"), "7");
  EXPECT_EQ(extractAnswer("total is -3.25.", "last-number"), "-3.25");
  EXPECT_EQ(extractAnswer("no digits", "last-number"), "");
  EXPECT_EQ(extractAnswer("a \\boxed{1} b \\boxed{x^{2}}", "boxed"), "x^{2}");
  EXPECT_EQ(extractAnswer("\\boxed{open", "boxed"), "");
  EXPECT_EQ(extractAnswer("Answer: 3\nnote\nAnswer:  42 \nend", "after:Answer:"), "42");
  EXPECT_EQ(extractAnswer("nothing", "after:Answer:"), "");
  EXPECT_THROW(extractAnswer("x", "first-number"), resa::Error);
}

TEST(Gsr, MajorityVote) {
  EXPECT_EQ(majorityVote({"3", "4", "4", "", "3"}), "3"); // tie: the earliest
  EXPECT_EQ(majorityVote({"", "5", "5", "6"}), "5");
  EXPECT_EQ(majorityVote({"", ""}), "");
}
