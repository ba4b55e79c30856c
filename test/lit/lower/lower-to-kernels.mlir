// Lowering: onnx ops become resa.kernel_call of the same-named kernel (contrib ops com.microsoft.*), initializers resa.weight, constants resa.constant, none resa.none.
// RUN: resa-opt %s --split-input-file --resa-lower-to-kernels | FileCheck %s

// CHECK-LABEL: func.func @lower(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x8xf32>, %[[IDS:[a-z0-9]+]]: tensor<?x?xi64>
// CHECK-NEXT: %[[W:.*]] = resa.weight "model.embed.weight" : tensor<100x8xf32>
// CHECK-NEXT: %[[C:.*]] = resa.constant dense<[1, 2]> : tensor<2xi64> : tensor<2xi64>
// CHECK-NEXT: %[[N:.*]] = resa.none
// CHECK-NEXT: %[[ADD:.*]] = resa.kernel_call "Add"(%[[X]], %[[X]]) {} : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
// CHECK-NEXT: %[[G:.*]] = resa.kernel_call "Gather"(%[[W]], %[[IDS]]) {axis = 0 : i64} : (tensor<100x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
// CHECK-NEXT: %[[CLIP:.*]] = resa.kernel_call "Clip"(%[[ADD]], %[[N]], %[[N]]) {} : (tensor<?x8xf32>, none, none) -> tensor<?x8xf32>
// CHECK-NEXT: %[[S:.*]]:2 = resa.kernel_call "Split"(%[[X]], %[[C]]) {axis = 1 : i64} : (tensor<?x8xf32>, tensor<2xi64>) -> (tensor<?x1xf32>, tensor<?x2xf32>)
// CHECK-NEXT: return %[[CLIP]], %[[G]], %[[S]]#1
// CHECK-NOT: onnx.
func.func @lower(%x: tensor<?x8xf32>, %ids: tensor<?x?xi64>) -> (tensor<?x8xf32>, tensor<?x?x8xf32>, tensor<?x2xf32>) {
  %w = onnx.initializer "model.embed.weight" : tensor<100x8xf32>
  %c = onnx.Constant {value = dense<[1, 2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %n = onnx.none
  %0 = onnx.Add %x, %x : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %1 = onnx.Gather %w, %ids {axis = 0 : i64} : (tensor<100x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %2 = onnx.Clip %0, %n, %n : (tensor<?x8xf32>, none, none) -> tensor<?x8xf32>
  %3:2 = onnx.Split %x, %c {axis = 1 : i64} : (tensor<?x8xf32>, tensor<2xi64>) -> (tensor<?x1xf32>, tensor<?x2xf32>)
  return %2, %1, %3#1 : tensor<?x8xf32>, tensor<?x?x8xf32>, tensor<?x2xf32>
}

// -----

// Contrib ops keep their domain in the kernel name; attributes travel as the
// kernel's attribute dictionary; shape_expr stays as it is.
// CHECK-LABEL: func.func @contrib(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<1x3x64xf32>, %[[K:[a-z0-9]+]]: tensor<1x3x32xf32>, %[[PK:[a-z0-9]+]]: tensor<1x2x5x16xf32>, %[[L:[a-z0-9]+]]: tensor<1xi32>, %[[T:[a-z0-9]+]]: tensor<i32>, %[[H:[a-z0-9]+]]: tensor<1x3x64xf32>, %[[G:[a-z0-9]+]]: tensor<64xf32>
// CHECK: %[[ATT:.*]]:3 = resa.kernel_call "com.microsoft.GroupQueryAttention"(%[[Q]], %[[K]], %[[K]], %[[PK]], %[[PK]], %[[L]], %[[T]]) {kv_num_heads = 2 : i64, num_heads = 4 : i64} : (tensor<1x3x64xf32>, tensor<1x3x32xf32>, tensor<1x3x32xf32>, tensor<1x2x5x16xf32>, tensor<1x2x5x16xf32>, tensor<1xi32>, tensor<i32>) -> (tensor<1x3x64xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
// CHECK: resa.kernel_call "com.microsoft.SkipSimplifiedLayerNormalization"(%[[ATT]]#0, %[[H]], %[[G]]) {epsilon = 9.99999997E-7 : f32}
// CHECK: resa.kernel_call "com.microsoft.MultiHeadAttention"
// CHECK: resa.kernel_call "com.microsoft.RotaryEmbedding"
// CHECK: resa.kernel_call "com.microsoft.SimplifiedLayerNormalization"
// CHECK: resa.kernel_call "SimplifiedLayerNormalization"
// CHECK: resa.shape_expr ["batch", "4"] : tensor<2xi64>
// CHECK-NOT: onnx.
func.func @contrib(%q: tensor<1x3x64xf32>, %k: tensor<1x3x32xf32>, %pk: tensor<1x2x5x16xf32>, %lens: tensor<1xi32>,
                   %t: tensor<i32>, %h: tensor<1x3x64xf32>, %g: tensor<64xf32>, %pos: tensor<1x3xi64>, %cache: tensor<16x8xf32>)
    -> (tensor<1x3x64xf32>, tensor<1x3x64xf32>, tensor<1x3x64xf32>, tensor<1x3x64xf32>, tensor<1x3x64xf32>, tensor<2xi64>) {
  %n = onnx.none
  %0:3 = onnx.ms.GroupQueryAttention %q, %k, %k, %pk, %pk, %lens, %t {num_heads = 4 : i64, kv_num_heads = 2 : i64} : (tensor<1x3x64xf32>, tensor<1x3x32xf32>, tensor<1x3x32xf32>, tensor<1x2x5x16xf32>, tensor<1x2x5x16xf32>, tensor<1xi32>, tensor<i32>) -> (tensor<1x3x64xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>)
  %1:4 = onnx.ms.SkipSimplifiedLayerNormalization %0#0, %h, %g {epsilon = 1.0e-6 : f32} : (tensor<1x3x64xf32>, tensor<1x3x64xf32>, tensor<64xf32>) -> (tensor<1x3x64xf32>, none, none, tensor<1x3x64xf32>)
  %2 = onnx.ms.MultiHeadAttention %q, %q, %q {num_heads = 4 : i64} : (tensor<1x3x64xf32>, tensor<1x3x64xf32>, tensor<1x3x64xf32>) -> tensor<1x3x64xf32>
  %3 = onnx.ms.RotaryEmbedding %q, %pos, %cache, %cache : (tensor<1x3x64xf32>, tensor<1x3xi64>, tensor<16x8xf32>, tensor<16x8xf32>) -> tensor<1x3x64xf32>
  %4 = onnx.ms.SimplifiedLayerNormalization %h, %g : (tensor<1x3x64xf32>, tensor<64xf32>) -> tensor<1x3x64xf32>
  %5 = onnx.SimplifiedLayerNormalization %h, %g : (tensor<1x3x64xf32>, tensor<64xf32>) -> tensor<1x3x64xf32>
  %6 = resa.shape_expr ["batch", "4"] : tensor<2xi64>
  return %1#0, %2, %3, %4, %5, %6 : tensor<1x3x64xf32>, tensor<1x3x64xf32>, tensor<1x3x64xf32>, tensor<1x3x64xf32>, tensor<1x3x64xf32>, tensor<2xi64>
}
