// resa-group-rotary: the rotary ops of one block that share cos, sin, rotary_dim and interleaved become one resa.multi_rotary at the first (tensors in program order, a num_heads each); others stay.
// RUN: resa-opt %s --split-input-file --resa-group-rotary | FileCheck %s

// q and k of one layer, rank 4 and rank 3.
// CHECK-LABEL: func.func @qk(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<1x4x3x16xf32>, %[[K:[a-z0-9]+]]: tensor<1x3x32xf32>, %[[C:[a-z0-9]+]]: tensor<1x3x8xf32>, %[[S:[a-z0-9]+]]: tensor<1x3x8xf32>
// CHECK-NEXT: %[[M:.*]]:2 = resa.multi_rotary %[[C]], %[[S]], %[[Q]], %[[K]] {interleaved = 0 : i64, num_heads = array<i64: 4, 2>, rotary_dim = 16 : i64} : {{.*}} -> (tensor<1x4x3x16xf32>, tensor<1x3x32xf32>)
// CHECK-NOT: resa.rotary
// CHECK: return %[[M]]#0, %[[M]]#1
func.func @qk(%q: tensor<1x4x3x16xf32>, %k: tensor<1x3x32xf32>, %c: tensor<1x3x8xf32>, %s: tensor<1x3x8xf32>) -> (tensor<1x4x3x16xf32>, tensor<1x3x32xf32>) {
  %rq = resa.rotary %q, %c, %s {interleaved = 0 : i64, num_heads = 4 : i64, rotary_dim = 16 : i64} : (tensor<1x4x3x16xf32>, tensor<1x3x8xf32>, tensor<1x3x8xf32>) -> tensor<1x4x3x16xf32>
  %rk = resa.rotary %k, %c, %s {interleaved = 0 : i64, num_heads = 2 : i64, rotary_dim = 16 : i64} : (tensor<1x3x32xf32>, tensor<1x3x8xf32>, tensor<1x3x8xf32>) -> tensor<1x3x32xf32>
  return %rq, %rk : tensor<1x4x3x16xf32>, tensor<1x3x32xf32>
}

// -----

// Different tables, or a different rotary_dim, stay apart.
// CHECK-LABEL: func.func @apart(
// CHECK-NOT: resa.multi_rotary
// CHECK-COUNT-3: resa.rotary
// CHECK-NOT: resa.multi_rotary
func.func @apart(%q: tensor<1x3x32xf32>, %c: tensor<1x3x8xf32>, %s: tensor<1x3x8xf32>, %c2: tensor<1x3x8xf32>) -> (tensor<1x3x32xf32>, tensor<1x3x32xf32>, tensor<1x3x32xf32>) {
  %a = resa.rotary %q, %c, %s {interleaved = 0 : i64, num_heads = 2 : i64, rotary_dim = 16 : i64} : (tensor<1x3x32xf32>, tensor<1x3x8xf32>, tensor<1x3x8xf32>) -> tensor<1x3x32xf32>
  %b = resa.rotary %q, %c2, %s {interleaved = 0 : i64, num_heads = 2 : i64, rotary_dim = 16 : i64} : (tensor<1x3x32xf32>, tensor<1x3x8xf32>, tensor<1x3x8xf32>) -> tensor<1x3x32xf32>
  %d = resa.rotary %q, %c, %s {interleaved = 0 : i64, num_heads = 2 : i64, rotary_dim = 8 : i64} : (tensor<1x3x32xf32>, tensor<1x3x8xf32>, tensor<1x3x8xf32>) -> tensor<1x3x32xf32>
  return %a, %b, %d : tensor<1x3x32xf32>, tensor<1x3x32xf32>, tensor<1x3x32xf32>
}

// -----

// A tensor computed after the first rotary (here from its result) cannot join it.
// CHECK-LABEL: func.func @later(
// CHECK-NOT: resa.multi_rotary
func.func @later(%q: tensor<1x3x32xf32>, %c: tensor<1x3x8xf32>, %s: tensor<1x3x8xf32>) -> tensor<1x3x32xf32> {
  %a = resa.rotary %q, %c, %s {interleaved = 0 : i64, num_heads = 2 : i64, rotary_dim = 16 : i64} : (tensor<1x3x32xf32>, tensor<1x3x8xf32>, tensor<1x3x8xf32>) -> tensor<1x3x32xf32>
  %b = resa.rotary %a, %c, %s {interleaved = 0 : i64, num_heads = 2 : i64, rotary_dim = 16 : i64} : (tensor<1x3x32xf32>, tensor<1x3x8xf32>, tensor<1x3x8xf32>) -> tensor<1x3x32xf32>
  return %b : tensor<1x3x32xf32>
}

// -----

// Two layers share the tables (CSE merged them): each layer's q and k become
// one multi_rotary; the second layer's tensors, computed from the first
// layer's, join the second.
// CHECK-LABEL: func.func @two_layers(
// CHECK: %[[M0:.*]]:2 = resa.multi_rotary %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {interleaved = 0 : i64, num_heads = array<i64: 2, 1>
// CHECK: resa.linear %[[M0]]#1
// CHECK: onnx.Add %[[M0]]#0
// CHECK: %[[M1:.*]]:2 = resa.multi_rotary %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {interleaved = 0 : i64, num_heads = array<i64: 2, 1>
// CHECK: return %[[M1]]#0, %[[M1]]#1
// CHECK-NOT: resa.rotary
func.func @two_layers(%q: tensor<1x3x32xf32>, %k: tensor<1x3x16xf32>, %c: tensor<1x3x8xf32>, %s: tensor<1x3x8xf32>, %up: tensor<16x32xf32>, %w: tensor<32x16xf32>) -> (tensor<1x3x32xf32>, tensor<1x3x16xf32>) {
  %q0 = resa.rotary %q, %c, %s {interleaved = 0 : i64, num_heads = 2 : i64, rotary_dim = 16 : i64} : (tensor<1x3x32xf32>, tensor<1x3x8xf32>, tensor<1x3x8xf32>) -> tensor<1x3x32xf32>
  %k0 = resa.rotary %k, %c, %s {interleaved = 0 : i64, num_heads = 1 : i64, rotary_dim = 16 : i64} : (tensor<1x3x16xf32>, tensor<1x3x8xf32>, tensor<1x3x8xf32>) -> tensor<1x3x16xf32>
  %k0w = resa.linear %k0, %up : (tensor<1x3x16xf32>, tensor<16x32xf32>) -> tensor<1x3x32xf32>
  %h = onnx.Add %q0, %k0w : (tensor<1x3x32xf32>, tensor<1x3x32xf32>) -> tensor<1x3x32xf32>
  %k1 = resa.linear %h, %w : (tensor<1x3x32xf32>, tensor<32x16xf32>) -> tensor<1x3x16xf32>
  %q1 = resa.rotary %h, %c, %s {interleaved = 0 : i64, num_heads = 2 : i64, rotary_dim = 16 : i64} : (tensor<1x3x32xf32>, tensor<1x3x8xf32>, tensor<1x3x8xf32>) -> tensor<1x3x32xf32>
  %k1r = resa.rotary %k1, %c, %s {interleaved = 0 : i64, num_heads = 1 : i64, rotary_dim = 16 : i64} : (tensor<1x3x16xf32>, tensor<1x3x8xf32>, tensor<1x3x8xf32>) -> tensor<1x3x16xf32>
  return %q1, %k1r : tensor<1x3x32xf32>, tensor<1x3x16xf32>
}
