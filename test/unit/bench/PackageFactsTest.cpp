// resa-bench's byte floor of a decode step (bench/e2e/PackageFacts.h): the
// weights a decode function reads whole count once, those it reads only by
// rows that its tokens or positions pick (an embedding table, a rotary cache)
// count a row a sequence, and weights decode does not read count nowhere.
#include "e2e/PackageFacts.h"

#include "plan.pb.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using resa::bench::PackageFacts;

class FactsPlan {
public:
  FactsPlan() {
    plan.mutable_kv_cache()->set_layers(2);
    plan.mutable_kv_cache()->set_kv_heads(1);
    plan.mutable_kv_cache()->set_head_dim(4);
    plan.mutable_kv_cache()->set_block_size(16);
    decode.set_name("decode");
    ids = value("input_ids", resa::DType::I64, {-1, 1});
    plan.mutable_values(ids)->set_input(0);
  }
  int weight(const std::string &name, resa::DType t, std::vector<int64_t> shape) {
    const int v = value(name, t, shape);
    plan.mutable_values(v)->set_weight(name);
    return v;
  }
  // A step of `kernel` over `inputs`, one computed output; `axis` >= 0 sets
  // that attribute.
  int step(const std::string &kernel, std::vector<int> inputs, int64_t axis = -1) {
    resa::plan::Step *s = decode.add_steps();
    s->set_kernel(kernel);
    for (int i : inputs)
      s->add_inputs(i);
    if (axis >= 0) {
      resa::plan::Attr *a = s->add_attrs();
      a->set_name("axis");
      a->set_i(axis);
    }
    const int out = value("t" + std::to_string(plan.values_size()), resa::DType::F32, {-1});
    plan.mutable_values(out)->set_computed(true);
    s->add_outputs(out);
    return out;
  }
  PackageFacts facts() const { return resa::bench::readPlanFacts(plan, decode); }

  resa::plan::Plan plan;
  resa::plan::Function decode;
  int ids = -1;

private:
  int value(const std::string &name, resa::DType t, std::vector<int64_t> shape) {
    resa::plan::Value *v = plan.add_values();
    v->set_name(name);
    v->set_dtype(static_cast<int>(t));
    for (int64_t d : shape)
      v->add_shape(d);
    return plan.values_size() - 1;
  }
};

TEST(PackageFacts, RowReadWeightsCountARowASequence) {
  FactsPlan p;
  const int embed = p.weight("embed", resa::DType::F32, {100, 8}); // 1600 bytes as 16-bit
  const int cos = p.weight("cos", resa::DType::F32, {64, 4});      // 512
  const int w = p.weight("w", resa::DType::F32, {8, 16});          // 256
  p.weight("prefill_only", resa::DType::F32, {10, 10});             // 200, unread by decode
  const int x = p.step("resa.embedding", {embed, p.ids});
  p.step("Gather", {cos, p.ids}, 0);
  p.step("resa.linear", {x, w});
  const PackageFacts f = p.facts();
  EXPECT_EQ(f.weightBytes, 1600 + 512 + 256 + 200);
  EXPECT_EQ(f.decodeWholeBytes, 256);
  EXPECT_EQ(f.decodeRowBytes, 16 + 8);
  const resa::bench::StepBytes b = resa::bench::decodeStepBytes(f, 3, 32);
  EXPECT_DOUBLE_EQ(b.weights, 256 + 3 * (16 + 8));
  // Dense: every token's K and V, 16-bit, per layer and KV head.
  EXPECT_DOUBLE_EQ(b.kv, 3.0 * 32 * 2 * 2 * 2 * 1 * 4);
}

TEST(PackageFacts, AWeightAlsoReadWholeCountsWhole) {
  FactsPlan p;
  // A tied embedding: the logits' projection reads the table whole.
  const int table = p.weight("tied", resa::DType::BF16, {100, 8});
  const int x = p.step("resa.embedding", {table, p.ids});
  p.step("MatMul", {x, table});
  // A Gather along another axis reads more than rows.
  const int g = p.weight("gathered", resa::DType::F32, {4, 50});
  p.step("Gather", {g, p.ids}, 1);
  const PackageFacts f = p.facts();
  EXPECT_EQ(f.decodeWholeBytes, 1600 + 400);
  EXPECT_EQ(f.decodeRowBytes, 0);
}

} // namespace
