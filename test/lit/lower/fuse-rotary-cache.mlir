// resa-fuse-rotary-cache: a multi_rotary of two tensors whose results are only a cache_attention's q and k (with its head counts) becomes resa.rotary_cache_attention of the unrotated tensors; a rotated q read elsewhere keeps them apart. One whose rotated k only a cache_write reads (the block-sparse decode step) becomes resa.rotary_cache_write, its result the rotated q, when every reader of that q comes after the write.
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

// -----

// The block-sparse decode step: k rotated into the cache, the rotated q read
// by the block selection and attention after the write.
// CHECK-LABEL: func.func @fused_write(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<?x?x64xf32>, %[[K:[a-z0-9]+]]: tensor<?x?x32xf32>, %[[V:[a-z0-9]+]]: tensor<?x?x32xf32>, %[[C:[a-z0-9]+]]: tensor<?x?x8xf32>, %[[S:[a-z0-9]+]]: tensor<?x?x8xf32>
// CHECK-NEXT: %[[R:.*]] = resa.rotary_cache_write %[[Q]], %[[K]], %[[V]], %[[C]], %[[S]] {interleaved = 1 : i64, kv_heads = 2 : i64, layer = 5 : i64, layout = "bsd", num_heads = 4 : i64, rotary_dim = 16 : i64} : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x64xf32>
// CHECK-NEXT: %[[B:.*]] = resa.block_select %[[R]]
// CHECK-NEXT: %[[A:.*]] = resa.block_attention %[[R]], %[[B]]
// CHECK-NOT: resa.multi_rotary
// CHECK-NOT: resa.cache_write
// CHECK: return %[[A]]
func.func @fused_write(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xf32>, %v: tensor<?x?x32xf32>, %cos: tensor<?x?x8xf32>, %sin: tensor<?x?x8xf32>) -> tensor<?x?x64xf32> {
  %r:2 = resa.multi_rotary %cos, %sin, %q, %k {num_heads = array<i64: 4, 2>, rotary_dim = 16 : i64, interleaved = 1 : i64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x64xf32>, tensor<?x?x32xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x32xf32>)
  resa.cache_write %r#1, %v {kv_heads = 2 : i64, layer = 5 : i64, layout = "bsd"} : tensor<?x?x32xf32>, tensor<?x?x32xf32>
  %b = resa.block_select %r#0 {kept_ratio = 1.000000e-01 : f32, kv_heads = 2 : i64, layer = 5 : i64, layout = "bsd", local_blocks = 1 : i64, min_blocks = 16 : i64, num_heads = 4 : i64, scale = 2.500000e-01 : f32} : (tensor<?x?x64xf32>) -> tensor<2x?xi32>
  %a = resa.block_attention %r#0, %b {kv_heads = 2 : i64, layer = 5 : i64, layout = "bsd", num_heads = 4 : i64, scale = 2.500000e-01 : f32} : (tensor<?x?x64xf32>, tensor<2x?xi32>) -> tensor<?x?x64xf32>
  return %a : tensor<?x?x64xf32>
}

// -----

// The rotated q is read before the write: not fused (the fused op stands in
// the write's place).
// CHECK-LABEL: func.func @q_read_before_write(
// CHECK: resa.multi_rotary
// CHECK: resa.cache_write
// CHECK-NOT: resa.rotary_cache_write
func.func @q_read_before_write(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xf32>, %v: tensor<?x?x32xf32>, %cos: tensor<?x?x8xf32>, %sin: tensor<?x?x8xf32>) -> tensor<2x?xi32> {
  %r:2 = resa.multi_rotary %cos, %sin, %q, %k {num_heads = array<i64: 4, 2>, rotary_dim = 16 : i64, interleaved = 0 : i64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x64xf32>, tensor<?x?x32xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x32xf32>)
  %b = resa.block_select %r#0 {kept_ratio = 1.000000e-01 : f32, kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd", local_blocks = 1 : i64, min_blocks = 16 : i64, num_heads = 4 : i64, scale = 2.500000e-01 : f32} : (tensor<?x?x64xf32>) -> tensor<2x?xi32>
  resa.cache_write %r#1, %v {kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd"} : tensor<?x?x32xf32>, tensor<?x?x32xf32>
  return %b : tensor<2x?xi32>
}

// -----

// The rotated k has another reader: not fused.
// CHECK-LABEL: func.func @k_read_elsewhere(
// CHECK: resa.multi_rotary
// CHECK: resa.cache_write
// CHECK-NOT: resa.rotary_cache_write
func.func @k_read_elsewhere(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xf32>, %v: tensor<?x?x32xf32>, %cos: tensor<?x?x8xf32>, %sin: tensor<?x?x8xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x32xf32>) {
  %r:2 = resa.multi_rotary %cos, %sin, %q, %k {num_heads = array<i64: 4, 2>, rotary_dim = 16 : i64, interleaved = 0 : i64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x64xf32>, tensor<?x?x32xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x32xf32>)
  resa.cache_write %r#1, %v {kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd"} : tensor<?x?x32xf32>, tensor<?x?x32xf32>
  return %r#0, %r#1 : tensor<?x?x64xf32>, tensor<?x?x32xf32>
}
