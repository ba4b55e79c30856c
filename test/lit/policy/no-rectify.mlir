// resa needs @rectify for its schedule; sparse (no rectification) does not.
// RUN: resa-opt %s --resa-attention-resa -verify-diagnostics
// RUN: resa-opt %s --resa-attention-sparse | FileCheck %s

// CHECK: module attributes {resa.kv_cache = {block_size = 16 : i64, head_dim = 16 : i64, kv_heads = 1 : i64, layers = 1 : i64}}
// CHECK-LABEL: func.func @decode(
// CHECK: resa.cache_write
// CHECK-NEXT: resa.block_select {{.*}}kept_ratio = 1.000000e-01 : f32
// CHECK-NEXT: resa.block_attention
// CHECK-NOT: resa.rectification_schedule
// expected-error @+1 {{not a KV-cache program: no @rectify}}
module attributes {resa.kv_cache = {head_dim = 16 : i64, kv_heads = 1 : i64, layers = 1 : i64}} {
  func.func @decode(%q: tensor<1x1x32xf32>, %k: tensor<1x1x16xf32>) -> tensor<1x1x32xf32> {
    %a = resa.cache_attention %q, %k, %k {kv_heads = 1 : i64, layer = 0 : i64, layout = "bsd", num_heads = 2 : i64, scale = 0.25 : f32} : (tensor<1x1x32xf32>, tensor<1x1x16xf32>, tensor<1x1x16xf32>) -> tensor<1x1x32xf32>
    return %a : tensor<1x1x32xf32>
  }
}
