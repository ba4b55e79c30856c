// ProgramPlan::rotaryAppendProjections: which fused q/k/v projections a
// backend may leave unsummed for the rotary append that reads them (the CUDA
// backend's slices of K). Plans written here hold a decode function of a
// resa.multi_linear (three widths), the steps under test and a
// resa.rotary_cache_attention; compiled packages take the same path in the
// device end-to-end check.
#include "ProgramPlan.h"
#include "TempPackage.h"

#include "resa/runtime/Package.h"

#include "plan.pb.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace {

// Value ids: 0 the weight, 1 x, 2-4 q/k/v, 5-6 cos/sin, 7 the attention's
// output, 8 another step's output.
enum : int { kW, kX, kQ, kK, kV, kCos, kSin, kOut, kOther, kValues };

class RotaryAppendProjections : public resa::test::TempDirTest {
protected:
  RotaryAppendProjections() : TempDirTest("rotary-append-projections") {}

  // A package whose "decode" steps `build` writes (it gets a step adder:
  // kernel, inputs, outputs) and whose outputs are `outputs`; returns its
  // rotaryAppendProjections.
  using AddStep = std::function<resa::plan::Step *(const std::string &, std::vector<int>, std::vector<int>)>;
  std::vector<bool> marks(const std::function<void(const AddStep &)> &build, std::vector<int> outputs = {kOut}) {
    resa::plan::Plan p = resa::test::oneWeightPlan(dir, "ProgramPlanTest", {4}, {1, 2, 3, 4});
    while (p.values_size() < kValues) {
      resa::plan::Value *v = p.add_values();
      v->set_name("v" + std::to_string(p.values_size() - 1));
      v->set_dtype(static_cast<int>(resa::DType::F32));
    }
    resa::plan::Function *f = p.add_functions();
    f->set_name("decode");
    f->add_inputs(kX);
    f->add_input_names("x");
    for (int o : outputs) {
      f->add_outputs(o);
      f->add_output_names("out" + std::to_string(o));
    }
    build([&](const std::string &kernel, std::vector<int> in, std::vector<int> out) {
      resa::plan::Step *s = f->add_steps();
      s->set_kernel(kernel);
      s->set_location("test/" + kernel);
      for (int v : in) s->add_inputs(v);
      for (int v : out) s->add_outputs(v);
      return s;
    });
    resa::test::sealPlanTo(dir, p);
    package = resa::Package::load(dir.string());
    return resa::ProgramPlan(*package, "decode").rotaryAppendProjections();
  }

  // resa.multi_linear of x over the weight into (q, k, v), `widths` of them.
  static void projection(const AddStep &add, int widths = 3) {
    resa::plan::Attr *a = add("resa.multi_linear", {kX, kW, -1, -1, -1}, {kQ, kK, kV})->add_attrs();
    a->set_name("widths");
    resa::plan::Ints *ints = a->mutable_ints();
    for (int i = 0; i < widths; ++i) ints->add_v(8);
  }
  static void rotaryAppend(const AddStep &add, const char *kernel = "resa.rotary_cache_attention",
                           std::vector<int> qkv = {kQ, kK, kV}) {
    qkv.push_back(kCos);
    qkv.push_back(kSin);
    add(kernel, qkv, {kOut});
  }

  std::unique_ptr<resa::Package> package;
};

TEST_F(RotaryAppendProjections, MarksAProjectionWhoseOutputsTheRotaryAppendReadsFirst) {
  const std::vector<bool> m = marks([](const AddStep &add) {
    projection(add);
    add("Neg", {kX}, {kOther}); // reads none of q, k, v
    rotaryAppend(add);
  });
  EXPECT_EQ(m, (std::vector<bool>{true, false, false}));
}

TEST_F(RotaryAppendProjections, MarksOneFeedingTheRotaryCacheWrite) {
  const std::vector<bool> m = marks([](const AddStep &add) {
    projection(add);
    rotaryAppend(add, "resa.rotary_cache_write");
    add("Neg", {kK}, {kOther}); // a later reader of k gets the sums
  }, {kOut, kOther});
  EXPECT_EQ(m, (std::vector<bool>{true, false, false}));
}

TEST_F(RotaryAppendProjections, LeavesOneAnotherStepReadsFirst) {
  const std::vector<bool> m = marks([](const AddStep &add) {
    projection(add);
    add("Neg", {kK}, {kOther});
    rotaryAppend(add);
  }, {kOut, kOther});
  EXPECT_EQ(m, (std::vector<bool>{false, false, false}));
}

TEST_F(RotaryAppendProjections, LeavesOneReadInAnotherOrder) {
  const std::vector<bool> m = marks([](const AddStep &add) {
    projection(add);
    rotaryAppend(add, "resa.rotary_cache_attention", {kQ, kV, kK});
  });
  EXPECT_EQ(m, (std::vector<bool>{false, false}));
}

TEST_F(RotaryAppendProjections, LeavesOneWithAFunctionOutput) {
  const std::vector<bool> m = marks([](const AddStep &add) {
    projection(add);
    rotaryAppend(add);
  }, {kOut, kV});
  EXPECT_EQ(m, (std::vector<bool>{false, false}));
}

TEST_F(RotaryAppendProjections, LeavesOneOfTwoWidthsAndOneWithoutWidths) {
  const std::vector<bool> two = marks([](const AddStep &add) {
    projection(add, 2);
    rotaryAppend(add);
  });
  EXPECT_EQ(two, (std::vector<bool>{false, false}));
  const std::vector<bool> none = marks([](const AddStep &add) {
    projection(add, 0);
    rotaryAppend(add);
  });
  EXPECT_EQ(none, (std::vector<bool>{false, false}));
}

} // namespace
