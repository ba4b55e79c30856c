// DimPoly: arithmetic, printing and parsing round trip, evaluation.
#include "resa/runtime/DimPoly.h"

#include "resa/kernels/Tensor.h"

#include <gtest/gtest.h>

using resa::DimPoly;

TEST(DimPoly, ArithmeticAndPrinting) {
  DimPoly b = DimPoly::symbol("batch"), s = DimPoly::symbol("seq");
  EXPECT_EQ((s + 1).toString(), "seq + 1");
  EXPECT_EQ((b * s * 4 + s - 1).toString(), "4*batch*seq + seq - 1");
  EXPECT_EQ((s - s).toString(), "0");
  EXPECT_TRUE((s - s).isConstant());
  EXPECT_EQ((DimPoly(3) * 4).constant(), 12);
  EXPECT_FALSE(s.constant().has_value());
}

TEST(DimPoly, ExactDivision) {
  DimPoly b = DimPoly::symbol("batch"), s = DimPoly::symbol("seq");
  EXPECT_EQ((b * s * 64).divExact(DimPoly(64)), b * s);
  EXPECT_EQ((b * s * 64).divExact(b * 4), s * 16);
  EXPECT_EQ((s + 1).divExact(s + 1), DimPoly(1));
  EXPECT_FALSE((s + 1).divExact(DimPoly(2)).has_value());
  EXPECT_FALSE((b * 3).divExact(s).has_value());
}

TEST(DimPoly, ParseRoundTripAndEvaluate) {
  for (const char *text : {"0", "7", "seq", "seq + 1", "4*batch*seq + seq - 1", "-seq + 3",
                           "past_len + seq"}) {
    DimPoly p = DimPoly::parse(text);
    EXPECT_EQ(DimPoly::parse(p.toString()), p) << text;
  }
  EXPECT_EQ(DimPoly::parse("2*batch*seq + seq - 1").evaluate({{"batch", 3}, {"seq", 5}}), 34);
  EXPECT_THROW(DimPoly::parse("seq").evaluate({}), resa::Error);
  EXPECT_THROW(DimPoly::parse("seq +"), resa::Error);
  EXPECT_THROW(DimPoly::parse("seq / 2"), resa::Error);
}
