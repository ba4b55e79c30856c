// resa-fuse-rotary-cache: a multi_rotary of two tensors whose results are only a cache_attention's q and k (with its head counts) becomes resa.rotary_cache_attention of the unrotated tensors; a rotated q read elsewhere (ReSA's block selection) keeps them apart.
// RUN: resa-opt %s --split-input-file --resa-fuse-rotary-cache | FileCheck %s

// CHECK-LABEL: func.func @fused(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<1x4x1x8xf32>, %[[K:[a-z0-9]+]]: tensor<1x2x1x8xf32>, %[[V:[a-z0-9]+]]: tensor<1x2x1x8xf32>, %[[C:[a-z0-9]+]]: tensor<1x1x4xf32>, %[[S:[a-z0-9]+]]: tensor<1x1x4xf32>
// CHECK-NEXT: %[[A:.*]] = resa.rotary_cache_attention %[[Q]], %[[K]], %[[V]], %[[C]], %[[S]] {interleaved = 0 : i64, kv_heads = 2 : i64, layer = 3 : i64, layout = "bhsd", num_heads = 4 : i64, rotary_dim = 8 : i64, scale = 5.000000e-01 : f32}
// CHECK-NOT: resa.multi_rotary
// CHECK-NOT: resa.cache_attention
// CHECK: return %[[A]]
func.func @fused(%q: tensor<1x4x1x8xf32>, %k: tensor<1x2x1x8xf32>, %v: tensor<1x2x1x8xf32>, %cos: tensor<1x1x4xf32>, %sin: tensor<1x1x4xf32>) -> tensor<1x4x1x8xf32> {
  %r:2 = resa.multi_rotary %cos, %sin, %q, %k {num_heads = array<i64: 4, 2>, rotary_dim = 8 : i64, interleaved = 0 : i64} : (tensor<1x1x4xf32>, tensor<1x1x4xf32>, tensor<1x4x1x8xf32>, tensor<1x2x1x8xf32>) -> (tensor<1x4x1x8xf32>, tensor<1x2x1x8xf32>)
  %a = resa.cache_attention %r#0, %r#1, %v {num_heads = 4 : i64, kv_heads = 2 : i64, scale = 0.5 : f32, layout = "bhsd", layer = 3 : i64} : (tensor<1x4x1x8xf32>, tensor<1x2x1x8xf32>, tensor<1x2x1x8xf32>) -> tensor<1x4x1x8xf32>
  return %a : tensor<1x4x1x8xf32>
}

// -----

// The rotated q has another reader: not fused.
// CHECK-LABEL: func.func @q_read_elsewhere(
// CHECK: resa.multi_rotary
// CHECK: resa.cache_attention
// CHECK-NOT: resa.rotary_cache_attention
func.func @q_read_elsewhere(%q: tensor<1x4x1x8xf32>, %k: tensor<1x2x1x8xf32>, %v: tensor<1x2x1x8xf32>, %cos: tensor<1x1x4xf32>, %sin: tensor<1x1x4xf32>) -> (tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32>) {
  %r:2 = resa.multi_rotary %cos, %sin, %q, %k {num_heads = array<i64: 4, 2>, rotary_dim = 8 : i64, interleaved = 0 : i64} : (tensor<1x1x4xf32>, tensor<1x1x4xf32>, tensor<1x4x1x8xf32>, tensor<1x2x1x8xf32>) -> (tensor<1x4x1x8xf32>, tensor<1x2x1x8xf32>)
  %a = resa.cache_attention %r#0, %r#1, %v {num_heads = 4 : i64, kv_heads = 2 : i64, scale = 0.5 : f32, layout = "bhsd", layer = 0 : i64} : (tensor<1x4x1x8xf32>, tensor<1x2x1x8xf32>, tensor<1x2x1x8xf32>) -> tensor<1x4x1x8xf32>
  return %a, %r#0 : tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32>
}
