// The generator's KV cache keeps the per-page key summaries (kmin/kmax) only
// for a package whose plan selects blocks (a resa.block_select step in any
// function): packages with KV-cache programs written here, their functions
// holding nothing but the steps that matter. Compiled dense and ReSA packages
// are checked end to end by resa-decode-check and resa-rectify-check.
#include "TempPackage.h"

#include "resa/runtime/Generator.h"
#include "resa/runtime/Package.h"

#include "plan.pb.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace {

class GeneratorCache : public resa::test::TempDirTest {
protected:
  GeneratorCache() : TempDirTest("generator-cache") {}

  // A package of a 2-layer KV cache whose prefill, decode and rectify hold
  // one resa.cache_attention step each, plus a resa.block_select step in
  // `selecting` ("" for none: a dense package).
  std::unique_ptr<resa::Package> write(const std::string &selecting) {
    resa::plan::Plan p = resa::test::oneWeightPlan(dir, "GeneratorCacheTest", {2}, {1, 2});
    resa::plan::KVCacheSpec *kv = p.mutable_kv_cache();
    kv->set_layers(2);
    kv->set_kv_heads(2);
    kv->set_head_dim(8);
    kv->set_block_size(4);
    for (const char *name : {"prefill", "decode", "rectify"}) {
      resa::plan::Function *f = p.add_functions();
      f->set_name(name);
      auto step = [&](const char *kernel) {
        resa::plan::Step *s = f->add_steps();
        s->set_kernel(kernel);
        s->set_location(std::string(name) + "/" + kernel);
        resa::plan::Attr *layer = s->add_attrs();
        layer->set_name("layer");
        layer->set_i(0);
      };
      if (selecting == name)
        step("resa.block_select");
      step("resa.cache_attention");
    }
    resa::test::sealPlanTo(dir, p);
    return resa::Package::load(dir.string());
  }
};

} // namespace

TEST_F(GeneratorCache, DensePackageKeepsNoSummaries) {
  auto package = write("");
  resa::Generator gen(*package, 8);
  EXPECT_FALSE(gen.cache().config().summaries);
  EXPECT_EQ(gen.cache().config().numLayers, 2);
  EXPECT_EQ(gen.cache().config().pageSize, 4);
  EXPECT_EQ(gen.cache().storage().keyMin(0), nullptr);
  EXPECT_EQ(gen.cache().storage().keyMax(1), nullptr);
  try {
    gen.cache().keyMin(0);
    ADD_FAILURE() << "keyMin of a dense package's cache returned";
  } catch (const resa::Error &e) {
    EXPECT_NE(std::string(e.what()).find("keeps no block summaries"), std::string::npos)
        << e.what();
  }
  // Forwards record no summary updates.
  gen.cache().addSequence(1);
  gen.cache().beginForward({1}, {0}, {5});
  EXPECT_EQ(gen.cache().totalNewTokens(), 5);
  EXPECT_TRUE(gen.cache().summaryUpdates().empty());
  gen.cache().setLayersWritten();
  gen.cache().endForward();
}

TEST_F(GeneratorCache, SelectingPackageKeepsSummaries) {
  for (const char *where : {"decode", "prefill", "rectify"}) {
    SCOPED_TRACE(std::string("resa.block_select in ") + where);
    auto package = write(where);
    resa::Generator gen(*package, 8);
    EXPECT_TRUE(gen.cache().config().summaries);
    ASSERT_NE(gen.cache().keyMin(0), nullptr);
    EXPECT_EQ(gen.cache().keyMin(0)[0], INFINITY); // an empty summary
    EXPECT_EQ(gen.cache().keyMax(1)[0], -INFINITY);
    gen.cache().addSequence(1);
    gen.cache().beginForward({1}, {0}, {5});
    EXPECT_EQ(gen.cache().summaryUpdates().size(), 2u); // pages of 4: two written
    gen.cache().setLayersWritten();
    gen.cache().endForward();
  }
}
