// A module holds one rectification schedule and one GSR pipeline at most
// (running a policy or pipeline pass twice is refused).
// RUN: not resa-opt %s --pass-pipeline='builtin.module(resa-attention-resa,resa-attention-resa)' 2>&1 | FileCheck %s --check-prefix=TWICE
// TWICE: error: 'resa.rectification_schedule' op appears more than once in the module
// RUN: not resa-opt %s --pass-pipeline='builtin.module(resa-gsr-pipeline,resa-gsr-pipeline)' 2>&1 | FileCheck %s --check-prefix=GSR
// GSR: error: 'resa.gsr_pipeline' op appears more than once in the module
module attributes {resa.kv_cache = {head_dim = 16 : i64, kv_heads = 2 : i64, layers = 1 : i64}} {
  func.func @prefill() { return }
  func.func @decode() { return }
  func.func @rectify() { return }
}
