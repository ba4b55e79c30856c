// resa-fuse-gate-up: a gated MLP's separate gate and up initializers become one resa.concat_columns weight (the fused gate-up form); computed weights and already fused MLPs stay.
// RUN: resa-opt %s --split-input-file --resa-fuse-gate-up | FileCheck %s

// CHECK-LABEL: func.func @separate(
// CHECK-DAG: %[[G:.*]] = onnx.initializer "gate"
// CHECK-DAG: %[[U:.*]] = onnx.initializer "up"
// CHECK-DAG: %[[D:.*]] = onnx.initializer "down"
// CHECK: %[[GU:.*]] = resa.concat_columns %[[G]], %[[U]] : (tensor<8x6xf32>, tensor<8x6xf32>) -> tensor<8x12xf32>
// CHECK-NEXT: resa.gated_mlp %{{.*}}, %[[GU]], %[[D]] {activation = "silu"}
func.func @separate(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %g = onnx.initializer "gate" : tensor<8x6xf32>
  %u = onnx.initializer "up" : tensor<8x6xf32>
  %d = onnx.initializer "down" : tensor<6x8xf32>
  %y = resa.gated_mlp %x, %g, %u, %d {activation = "silu"} : (tensor<2x8xf32>, tensor<8x6xf32>, tensor<8x6xf32>, tensor<6x8xf32>) -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

// A computed up weight cannot be stored side by side with the gate's.
// CHECK-LABEL: func.func @computed(
// CHECK-NOT: resa.concat_columns
func.func @computed(%x: tensor<2x8xf32>, %u: tensor<8x6xf32>) -> tensor<2x8xf32> {
  %g = onnx.initializer "gate" : tensor<8x6xf32>
  %d = onnx.initializer "down" : tensor<6x8xf32>
  %y = resa.gated_mlp %x, %g, %u, %d {activation = "silu"} : (tensor<2x8xf32>, tensor<8x6xf32>, tensor<8x6xf32>, tensor<6x8xf32>) -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}
