// resa-fuse-projection-norm: a resa.linear without bias, or a resa.gated_mlp, read only by a resa.add_rms_norm (either addend) becomes resa.projection_add_rms_norm with the other addend as the residual; projections with a bias or another reader stay.
// RUN: resa-opt %s --split-input-file --resa-fuse-projection-norm | FileCheck %s

// The output projection (the norm's b): fused at the norm; the sum keeps
// its other reader.
// CHECK-LABEL: func.func @linear(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<1x4x16xf32>, %[[W:[a-z0-9]+]]: tensor<16x8xf32>, %[[R:[a-z0-9]+]]: tensor<1x4x8xf32>, %[[NW:[a-z0-9]+]]: tensor<8xf32>
// CHECK-NEXT: %[[S:[a-z0-9_]+]], %[[N:[a-z0-9_]+]] = resa.projection_add_rms_norm %[[X]], [%[[W]]], %[[R]], %[[NW]] {epsilon = 9.99999974E-6 : f32, weight_offset = 1.000000e+00 : f32}
// CHECK-NOT: resa.linear
// CHECK-NOT: resa.add_rms_norm
// CHECK: return %[[N]], %[[S]]
func.func @linear(%x: tensor<1x4x16xf32>, %w: tensor<16x8xf32>, %r: tensor<1x4x8xf32>, %nw: tensor<8xf32>) -> (tensor<1x4x8xf32>, tensor<1x4x8xf32>) {
  %p = resa.linear %x, %w : (tensor<1x4x16xf32>, tensor<16x8xf32>) -> tensor<1x4x8xf32>
  %s, %n = resa.add_rms_norm %r, %p, %nw {epsilon = 1.0e-5 : f32, weight_offset = 1.0 : f32} : (tensor<1x4x8xf32>, tensor<1x4x8xf32>, tensor<8xf32>) -> (tensor<1x4x8xf32>, tensor<1x4x8xf32>)
  return %n, %s : tensor<1x4x8xf32>, tensor<1x4x8xf32>
}

// -----

// The gated MLP (the norm's a), fused gate-up weight: its weights and
// activation carried over, the other addend the residual.
// CHECK-LABEL: func.func @gated_mlp(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x8xf32>, %[[GU:[a-z0-9]+]]: tensor<8x32xf32>, %[[D:[a-z0-9]+]]: tensor<16x8xf32>, %[[R:[a-z0-9]+]]: tensor<?x8xf32>, %[[NW:[a-z0-9]+]]: tensor<8xf32>
// CHECK-NEXT: %[[S:[a-z0-9_]+]], %[[N:[a-z0-9_]+]] = resa.projection_add_rms_norm %[[X]], [%[[GU]], %[[D]]], %[[R]], %[[NW]] {activation = "gelu_tanh", epsilon = 9.99999997E-7 : f32}
// CHECK-NEXT: return %[[N]]
func.func @gated_mlp(%x: tensor<?x8xf32>, %gu: tensor<8x32xf32>, %d: tensor<16x8xf32>, %r: tensor<?x8xf32>, %nw: tensor<8xf32>) -> tensor<?x8xf32> {
  %p = resa.gated_mlp %x, %gu, %d {activation = "gelu_tanh"} : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  %s, %n = resa.add_rms_norm %p, %r, %nw {epsilon = 1.0e-6 : f32} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>)
  return %n : tensor<?x8xf32>
}

// -----

// A projection with a bias, or with a second reader: not fused.
// CHECK-LABEL: func.func @not_fused(
// CHECK: resa.linear
// CHECK: resa.add_rms_norm
// CHECK: resa.linear
// CHECK: resa.add_rms_norm
// CHECK-NOT: resa.projection_add_rms_norm
func.func @not_fused(%x: tensor<4x16xf32>, %w: tensor<16x8xf32>, %b: tensor<8xf32>, %r: tensor<4x8xf32>, %nw: tensor<8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) {
  %p = resa.linear %x, %w, %b : (tensor<4x16xf32>, tensor<16x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  %s, %n = resa.add_rms_norm %r, %p, %nw {epsilon = 1.0e-5 : f32} : (tensor<4x8xf32>, tensor<4x8xf32>, tensor<8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>)
  %q = resa.linear %x, %w : (tensor<4x16xf32>, tensor<16x8xf32>) -> tensor<4x8xf32>
  %s2, %n2 = resa.add_rms_norm %n, %q, %nw {epsilon = 1.0e-5 : f32} : (tensor<4x8xf32>, tensor<4x8xf32>, tensor<8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>)
  return %n2, %q, %s2 : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>
}
