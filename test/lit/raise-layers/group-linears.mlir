// resa-group-linears: the linears of one input become one resa.multi_linear (weights and biases in program order); other inputs and lone linears stay.
// RUN: resa-opt %s --split-input-file --resa-group-linears | FileCheck %s

// q, k, v of one normalised input, k with a bias: one op at the first of
// them, a none for each missing bias, results in the linears' order.
// CHECK-LABEL: func.func @qkv(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<2x3x8xf32>, %[[WQ:[a-z0-9]+]]: tensor<8x8xf32>, %[[WK:[a-z0-9]+]]: tensor<8x4xf32>, %[[BK:[a-z0-9]+]]: tensor<4xf32>, %[[WV:[a-z0-9]+]]: tensor<8x4xf32>
// CHECK-NEXT: %[[N:.*]] = resa.none
// CHECK-NEXT: %[[M:.*]]:3 = resa.multi_linear %[[X]], %[[WQ]], %[[N]], %[[WK]], %[[BK]], %[[WV]], %[[N]] : {{.*}} -> (tensor<2x3x8xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>)
// CHECK-NOT: resa.linear
// CHECK: return %[[M]]#0, %[[M]]#1, %[[M]]#2
func.func @qkv(%x: tensor<2x3x8xf32>, %wq: tensor<8x8xf32>, %wk: tensor<8x4xf32>, %bk: tensor<4xf32>, %wv: tensor<8x4xf32>) -> (tensor<2x3x8xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>) {
  %q = resa.linear %x, %wq : (tensor<2x3x8xf32>, tensor<8x8xf32>) -> tensor<2x3x8xf32>
  %k = resa.linear %x, %wk, %bk : (tensor<2x3x8xf32>, tensor<8x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
  %v = resa.linear %x, %wv : (tensor<2x3x8xf32>, tensor<8x4xf32>) -> tensor<2x3x4xf32>
  return %q, %k, %v : tensor<2x3x8xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>
}

// -----

// A lone linear of each input stays a resa.linear.
// CHECK-LABEL: func.func @lone(
// CHECK-NOT: resa.multi_linear
// CHECK: resa.linear
// CHECK: resa.linear
// CHECK-NOT: resa.multi_linear
func.func @lone(%x: tensor<2x8xf32>, %w: tensor<8x8xf32>) -> tensor<2x8xf32> {
  %a = resa.linear %x, %w : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32>
  %b = resa.linear %a, %w : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32>
  return %b : tensor<2x8xf32>
}

// -----

// A weight computed between the linears does not exist at the first of
// them: they stay apart.
// CHECK-LABEL: func.func @late_weight(
// CHECK-NOT: resa.multi_linear
func.func @late_weight(%x: tensor<2x8xf32>, %w: tensor<8x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>) {
  %a = resa.linear %x, %w : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32>
  %w2 = onnx.Neg %w : (tensor<8x8xf32>) -> tensor<8x8xf32>
  %b = resa.linear %x, %w2 : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32>
  return %a, %b : tensor<2x8xf32>, tensor<2x8xf32>
}
