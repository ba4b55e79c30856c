// Lowering keeps an initializer's stored_type on its resa.weight (the package stores it so).
// RUN: resa-opt %s --split-input-file --resa-lower-to-kernels | FileCheck %s

// CHECK-LABEL: func.func @stored_f16(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x64xf32>
// CHECK-NEXT: %[[W:.*]] = resa.weight "q.weight_f16" {stored_type = f16} : tensor<64x32xf32>
// CHECK-NEXT: %[[T:.*]] = resa.weight "embed.weight" : tensor<300x64xf32>
// CHECK-NEXT: %[[L:.*]] = resa.kernel_call "resa.linear"(%[[X]], %[[W]]) {} : (tensor<?x64xf32>, tensor<64x32xf32>) -> tensor<?x32xf32>
// CHECK-NEXT: return %[[L]], %[[T]]
func.func @stored_f16(%x: tensor<?x64xf32>) -> (tensor<?x32xf32>, tensor<300x64xf32>) {
  %w = onnx.initializer "q.weight_f16" {stored_type = f16} : tensor<64x32xf32>
  %t = onnx.initializer "embed.weight" : tensor<300x64xf32>
  %0 = resa.linear %x, %w : (tensor<?x64xf32>, tensor<64x32xf32>) -> tensor<?x32xf32>
  return %0, %t : tensor<?x32xf32>, tensor<300x64xf32>
}
