// resa-fold-weight-casts: Cast(to = FLOAT) of an f16/bf16 initializer becomes the f32 initializer
// stored narrow, which the raising passes then raise as they raise a float32 export's weights;
// Cast of a small f16/bf16 constant becomes the f32 constant; other Casts stay.
// RUN: resa-opt %s --split-input-file --resa-fold-weight-casts | FileCheck %s
// RUN: resa-opt %s --split-input-file --resa-fold-weight-casts --resa-raise-norms --resa-raise-linear | FileCheck %s --check-prefix=RAISE

// tools/train/export.py --weights f16: a projection, read through two Casts, and a bf16
// embedding table; each becomes one f32 initializer of the same name, and raises.
// CHECK-LABEL: func.func @linear_and_embedding(
// CHECK-DAG: %[[W:.*]] = onnx.initializer "q.weight_f16" {stored_type = f16} : tensor<64x32xf32>
// CHECK-DAG: %[[T:.*]] = onnx.initializer "embed.weight_bf16" {stored_type = bf16} : tensor<300x64xf32>
// CHECK-NOT: onnx.Cast
// CHECK: %[[E:.*]] = onnx.Gather %[[T]], %{{.*}} {axis = 0 : i64} : (tensor<300x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
// CHECK: onnx.MatMul %[[E]], %[[W]] : (tensor<?x?x64xf32>, tensor<64x32xf32>)
// CHECK: onnx.MatMul %[[E]], %[[W]] : (tensor<?x?x64xf32>, tensor<64x32xf32>)
// RAISE-LABEL: func.func @linear_and_embedding(
// RAISE-SAME: %[[IDS:[a-z0-9]+]]: tensor<?x?xi64>
// RAISE-DAG: %[[W:.*]] = onnx.initializer "q.weight_f16" {stored_type = f16} : tensor<64x32xf32>
// RAISE-DAG: %[[T:.*]] = onnx.initializer "embed.weight_bf16" {stored_type = bf16} : tensor<300x64xf32>
// RAISE: %[[E:.*]] = resa.embedding %[[T]], %[[IDS]] : (tensor<300x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
// RAISE: %[[L0:.*]] = resa.linear %[[E]], %[[W]] : (tensor<?x?x64xf32>, tensor<64x32xf32>) -> tensor<?x?x32xf32>
// RAISE: %[[L1:.*]] = resa.linear %[[E]], %[[W]] : (tensor<?x?x64xf32>, tensor<64x32xf32>) -> tensor<?x?x32xf32>
// RAISE: return %[[L0]], %[[L1]]
func.func @linear_and_embedding(%ids: tensor<?x?xi64>) -> (tensor<?x?x32xf32>, tensor<?x?x32xf32>) {
  %t16 = onnx.initializer "embed.weight_bf16" : tensor<300x64xbf16>
  %w16 = onnx.initializer "q.weight_f16" : tensor<64x32xf16>
  %t = onnx.Cast %t16 {to = 1 : i64} : (tensor<300x64xbf16>) -> tensor<300x64xf32>
  %w = onnx.Cast %w16 {to = 1 : i64} : (tensor<64x32xf16>) -> tensor<64x32xf32>
  %w2 = onnx.Cast %w16 {to = 1 : i64} : (tensor<64x32xf16>) -> tensor<64x32xf32>
  %e = onnx.Gather %t, %ids {axis = 0 : i64} : (tensor<300x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %0 = onnx.MatMul %e, %w : (tensor<?x?x64xf32>, tensor<64x32xf32>) -> tensor<?x?x32xf32>
  %1 = onnx.MatMul %e, %w2 : (tensor<?x?x64xf32>, tensor<64x32xf32>) -> tensor<?x?x32xf32>
  return %0, %1 : tensor<?x?x32xf32>, tensor<?x?x32xf32>
}

// -----

// Llama's gated MLP over f16 weights, as the export's torch.onnx graph has it.
// RAISE-LABEL: func.func @gated_mlp(
// RAISE-SAME: %[[X:[a-z0-9]+]]: tensor<?x?x64xf32>
// RAISE-DAG: %[[G:.*]] = onnx.initializer "gate_f16" {stored_type = f16} : tensor<64x160xf32>
// RAISE-DAG: %[[U:.*]] = onnx.initializer "up_f16" {stored_type = f16} : tensor<64x160xf32>
// RAISE-DAG: %[[D:.*]] = onnx.initializer "down_f16" {stored_type = f16} : tensor<160x64xf32>
// RAISE: %[[M:.*]] = resa.gated_mlp %[[X]], %[[G]], %[[U]], %[[D]] {activation = "silu"}
// RAISE-NEXT: return %[[M]]
func.func @gated_mlp(%x: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  %g16 = onnx.initializer "gate_f16" : tensor<64x160xf16>
  %u16 = onnx.initializer "up_f16" : tensor<64x160xf16>
  %d16 = onnx.initializer "down_f16" : tensor<160x64xf16>
  %g = onnx.Cast %g16 {to = 1 : i64} : (tensor<64x160xf16>) -> tensor<64x160xf32>
  %u = onnx.Cast %u16 {to = 1 : i64} : (tensor<64x160xf16>) -> tensor<64x160xf32>
  %d = onnx.Cast %d16 {to = 1 : i64} : (tensor<160x64xf16>) -> tensor<160x64xf32>
  %0 = onnx.MatMul %x, %g : (tensor<?x?x64xf32>, tensor<64x160xf32>) -> tensor<?x?x160xf32>
  %1 = onnx.Sigmoid %0 : (tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %2 = onnx.Mul %0, %1 : (tensor<?x?x160xf32>, tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %3 = onnx.MatMul %x, %u : (tensor<?x?x64xf32>, tensor<64x160xf32>) -> tensor<?x?x160xf32>
  %4 = onnx.Mul %2, %3 : (tensor<?x?x160xf32>, tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %5 = onnx.MatMul %4, %d : (tensor<?x?x160xf32>, tensor<160x64xf32>) -> tensor<?x?x64xf32>
  return %5 : tensor<?x?x64xf32>
}

// -----

// A norm scale small enough to be inlined as a constant (<= 1024 elements) but stored in f16:
// its exact f32 values, and the norm raises.
// CHECK-LABEL: func.func @norm_constant(
// CHECK: onnx.Constant {value = dense<[1.500000e+00, -2.000000e+00, 2.500000e-01, 6.550400e+04]> : tensor<4xf32>} : () -> tensor<4xf32>
// CHECK-NOT: onnx.Cast
// CHECK-NOT: xf16
// RAISE-LABEL: func.func @norm_constant(
// RAISE-SAME: %[[X:[a-z0-9]+]]: tensor<?x?x4xf32>
// RAISE: %[[W:.*]] = onnx.Constant {value = dense<[1.500000e+00, -2.000000e+00, 2.500000e-01, 6.550400e+04]> : tensor<4xf32>}
// RAISE: %[[Y:.*]] = resa.rms_norm %[[X]], %[[W]] {epsilon = 9.99999974E-6 : f32} : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
// RAISE-NEXT: return %[[Y]]
func.func @norm_constant(%x: tensor<?x?x4xf32>) -> tensor<?x?x4xf32> {
  %w16 = onnx.Constant {value = dense<[1.5, -2.0, 0.25, 65504.0]> : tensor<4xf16>} : () -> tensor<4xf16>
  %w = onnx.Cast %w16 {to = 1 : i64} : (tensor<4xf16>) -> tensor<4xf32>
  %0 = onnx.SimplifiedLayerNormalization %x, %w {axis = -1 : i64, epsilon = 1.0e-5 : f32} : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
  return %0 : tensor<?x?x4xf32>
}

// -----

// What stays: a Cast to f16, a Cast of a computed value, and an f16 initializer's own use
// besides its Cast (the Cast folds; the f16 initializer stays for the other use).
// CHECK-LABEL: func.func @kept(
// CHECK-SAME: %[[H:[a-z0-9]+]]: tensor<4x4xf16>
// CHECK-DAG: %[[W:.*]] = onnx.initializer "w" : tensor<4x4xf32>
// CHECK-DAG: %[[V16:.*]] = onnx.initializer "v_f16" : tensor<4x4xf16>
// CHECK-DAG: %[[V:.*]] = onnx.initializer "v_f16" {stored_type = f16} : tensor<4x4xf32>
// CHECK: %[[N:.*]] = onnx.Cast %[[W]] {to = 10 : i64}
// CHECK: %[[C:.*]] = onnx.Cast %[[H]] {to = 1 : i64}
// CHECK: %[[A:.*]] = onnx.Add %[[V16]], %[[H]]
// CHECK: return %[[N]], %[[C]], %[[A]], %[[V]]
func.func @kept(%h: tensor<4x4xf16>) -> (tensor<4x4xf16>, tensor<4x4xf32>, tensor<4x4xf16>, tensor<4x4xf32>) {
  %w = onnx.initializer "w" : tensor<4x4xf32>
  %v16 = onnx.initializer "v_f16" : tensor<4x4xf16>
  %0 = onnx.Cast %w {to = 10 : i64} : (tensor<4x4xf32>) -> tensor<4x4xf16>
  %1 = onnx.Cast %h {to = 1 : i64} : (tensor<4x4xf16>) -> tensor<4x4xf32>
  %2 = onnx.Add %v16, %h : (tensor<4x4xf16>, tensor<4x4xf16>) -> tensor<4x4xf16>
  %3 = onnx.Cast %v16 {to = 1 : i64} : (tensor<4x4xf16>) -> tensor<4x4xf32>
  return %0, %1, %2, %3 : tensor<4x4xf16>, tensor<4x4xf32>, tensor<4x4xf16>, tensor<4x4xf32>
}
