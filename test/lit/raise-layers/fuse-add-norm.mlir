// resa-fuse-add-norm: a residual Add of two same-shape values whose sum a resa.rms_norm reads becomes resa.add_rms_norm (sum and norm); broadcasting Adds stay.
// RUN: resa-opt %s --split-input-file --resa-fuse-add-norm | FileCheck %s

// Symbolic dims the same on both sides: fused; the sum keeps its other
// reader.
// CHECK-LABEL: func.func @residual(
// CHECK-SAME: %[[A:[a-z0-9]+]]: tensor<?x?x8xf32> {{.*}}, %[[B:[a-z0-9]+]]: tensor<?x?x8xf32> {{.*}}, %[[W:[a-z0-9]+]]: tensor<8xf32>
// CHECK-NEXT: %[[S:[a-z0-9_]+]], %[[N:[a-z0-9_]+]] = resa.add_rms_norm %[[A]], %[[B]], %[[W]] {epsilon = 9.99999974E-6 : f32, weight_offset = 1.000000e+00 : f32}
// CHECK-NOT: onnx.Add
// CHECK-NOT: resa.rms_norm
// CHECK: return %[[N]], %[[S]]
func.func @residual(%a: tensor<?x?x8xf32> {onnx.dim_params = ["b", "s", ""]}, %b: tensor<?x?x8xf32> {onnx.dim_params = ["b", "s", ""]}, %w: tensor<8xf32>) -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>) {
  %s = onnx.Add %a, %b : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %n = resa.rms_norm %s, %w {epsilon = 1.0e-5 : f32, weight_offset = 1.0 : f32} : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
  return %n, %s : tensor<?x?x8xf32>, tensor<?x?x8xf32>
}

// -----

// Dims that may differ (one may broadcast): not fused.
// CHECK-LABEL: func.func @maybe_broadcast(
// CHECK: onnx.Add
// CHECK: resa.rms_norm
// CHECK-NOT: resa.add_rms_norm
func.func @maybe_broadcast(%a: tensor<?x?x8xf32> {onnx.dim_params = ["b", "s", ""]}, %b: tensor<?x?x8xf32> {onnx.dim_params = ["b", "t", ""]}, %w: tensor<8xf32>) -> tensor<?x?x8xf32> {
  %s = onnx.Add %a, %b : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %n = resa.rms_norm %s, %w {epsilon = 1.0e-5 : f32} : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
  return %n : tensor<?x?x8xf32>
}

// -----

// A static broadcast ([8] + [2, 8]): not fused.
// CHECK-LABEL: func.func @static_broadcast(
// CHECK-NOT: resa.add_rms_norm
func.func @static_broadcast(%a: tensor<8xf32>, %b: tensor<2x8xf32>, %w: tensor<8xf32>) -> tensor<2x8xf32> {
  %s = onnx.Add %a, %b : (tensor<8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %n = resa.rms_norm %s, %w {epsilon = 1.0e-5 : f32} : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return %n : tensor<2x8xf32>
}

// -----

// Shapes seen through the layer ops that lowering makes (resa.multi_linear,
// resa.add_rms_norm) and through block-sparse attention: the second residual
// Add of a layer is fused too.
// CHECK-LABEL: func.func @through_layer_ops(
// CHECK: resa.add_rms_norm
// CHECK: resa.multi_linear
// CHECK: resa.add_rms_norm
// CHECK-NOT: onnx.Add
func.func @through_layer_ops(%x: tensor<?x?x8xf32> {onnx.dim_params = ["b", "s", ""]}, %r: tensor<?x?x8xf32> {onnx.dim_params = ["b", "s", ""]}, %w: tensor<8xf32>, %wq: tensor<8x8xf32>, %wk: tensor<8x8xf32>, %blocks: tensor<2x?xi32>) -> tensor<?x?x8xf32> {
  %s = onnx.Add %x, %r : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %n = resa.rms_norm %s, %w {epsilon = 1.0e-5 : f32} : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
  %none = resa.none
  %qk:2 = resa.multi_linear %n, %wq, %none, %wk, %none : (tensor<?x?x8xf32>, tensor<8x8xf32>, none, tensor<8x8xf32>, none) -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>)
  %a = resa.block_attention %qk#0, %blocks {kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd", num_heads = 2 : i64, scale = 0.5 : f32} : (tensor<?x?x8xf32>, tensor<2x?xi32>) -> tensor<?x?x8xf32>
  %s2 = onnx.Add %a, %s : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %n2 = resa.rms_norm %s2, %w {epsilon = 1.0e-5 : f32} : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
  return %n2 : tensor<?x?x8xf32>
}

// -----

// Shapes seen through resa.multi_rotary (each result repeats its tensor's
// dims): the residual Add after attention over rotated q and k is fused.
// CHECK-LABEL: func.func @through_multi_rotary(
// CHECK: resa.multi_rotary
// CHECK: resa.add_rms_norm
// CHECK-NOT: onnx.Add
func.func @through_multi_rotary(%x: tensor<?x?x8xf32> {onnx.dim_params = ["b", "s", ""]}, %q: tensor<?x?x8xf32> {onnx.dim_params = ["b", "s", ""]}, %k: tensor<?x?x4xf32> {onnx.dim_params = ["b", "s", ""]}, %v: tensor<?x?x4xf32> {onnx.dim_params = ["b", "s", ""]}, %c: tensor<?x?x2xf32> {onnx.dim_params = ["b", "s", ""]}, %s: tensor<?x?x2xf32> {onnx.dim_params = ["b", "s", ""]}, %w: tensor<8xf32>) -> tensor<?x?x8xf32> {
  %r:2 = resa.multi_rotary %c, %s, %q, %k {interleaved = 0 : i64, num_heads = array<i64: 2, 1>, rotary_dim = 4 : i64} : (tensor<?x?x2xf32>, tensor<?x?x2xf32>, tensor<?x?x8xf32>, tensor<?x?x4xf32>) -> (tensor<?x?x8xf32>, tensor<?x?x4xf32>)
  %a = resa.cache_attention %r#0, %r#1, %v {kv_heads = 1 : i64, layer = 0 : i64, layout = "bsd", num_heads = 2 : i64, scale = 0.5 : f32} : (tensor<?x?x8xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
  %sum = onnx.Add %a, %x : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %n = resa.rms_norm %sum, %w {epsilon = 1.0e-5 : f32} : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
  return %n : tensor<?x?x8xf32>
}
