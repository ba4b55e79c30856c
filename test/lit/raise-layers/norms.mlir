// resa-raise-norms: RMSNorm decompositions and norm ops become resa.rms_norm /
// resa.layer_norm; wrong exponents, axes or used statistics stay onnx ops.
// RUN: resa-opt %s --split-input-file --resa-raise-norms | FileCheck %s

// torch's dynamo export: Pow -> ReduceMean -> Add(eps) -> Sqrt -> Reciprocal -> Mul -> Mul(w).
// CHECK-LABEL: func.func @rms_decomposed(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x?x64xf32>
// CHECK: %[[W:.*]] = onnx.Constant
// CHECK: %[[Y:.*]] = resa.rms_norm %[[X]], %[[W]] {epsilon = 9.99999997E-7 : f32} : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
// CHECK-NEXT: return %[[Y]]
// CHECK-NOT: onnx.Pow
func.func @rms_decomposed(%x: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  %w = onnx.Constant {value = dense<1.5> : tensor<64xf32>} : () -> tensor<64xf32>
  %two = onnx.Constant {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
  %eps = onnx.Constant {value = dense<1.0e-6> : tensor<f32>} : () -> tensor<f32>
  %axes = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %0 = onnx.Pow %x, %two : (tensor<?x?x64xf32>, tensor<f32>) -> tensor<?x?x64xf32>
  %1 = onnx.ReduceMean %0, %axes {keepdims = 1 : i64} : (tensor<?x?x64xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
  %2 = onnx.Add %1, %eps : (tensor<?x?x1xf32>, tensor<f32>) -> tensor<?x?x1xf32>
  %3 = onnx.Sqrt %2 : (tensor<?x?x1xf32>) -> tensor<?x?x1xf32>
  %4 = onnx.Reciprocal %3 : (tensor<?x?x1xf32>) -> tensor<?x?x1xf32>
  %5 = onnx.Mul %x, %4 : (tensor<?x?x64xf32>, tensor<?x?x1xf32>) -> tensor<?x?x64xf32>
  %6 = onnx.Mul %w, %5 : (tensor<64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
  return %6 : tensor<?x?x64xf32>
}

// -----

// x * x, Div(x, sqrt), eps first, the weight on the right and Gemma's (1 + w).
// CHECK-LABEL: func.func @rms_gemma_div(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<2x3x8xf32>
// CHECK: %[[W:.*]] = onnx.initializer "norm.weight"
// CHECK: %[[Y:.*]] = resa.rms_norm %[[X]], %[[W]] {epsilon = 9.99999974E-6 : f32, weight_offset = 1.000000e+00 : f32}
// CHECK-NEXT: return %[[Y]]
func.func @rms_gemma_div(%x: tensor<2x3x8xf32>) -> tensor<2x3x8xf32> {
  %w = onnx.initializer "norm.weight" : tensor<8xf32>
  %one = onnx.Constant {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
  %eps = onnx.Constant {value = dense<1.0e-5> : tensor<1xf32>} : () -> tensor<1xf32>
  %axes = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %0 = onnx.Mul %x, %x : (tensor<2x3x8xf32>, tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
  %1 = onnx.ReduceMean %0, %axes : (tensor<2x3x8xf32>, tensor<1xi64>) -> tensor<2x3x1xf32>
  %2 = onnx.Add %eps, %1 : (tensor<1xf32>, tensor<2x3x1xf32>) -> tensor<2x3x1xf32>
  %3 = onnx.Sqrt %2 : (tensor<2x3x1xf32>) -> tensor<2x3x1xf32>
  %4 = onnx.Div %x, %3 : (tensor<2x3x8xf32>, tensor<2x3x1xf32>) -> tensor<2x3x8xf32>
  %5 = onnx.Add %w, %one : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %6 = onnx.Mul %4, %5 : (tensor<2x3x8xf32>, tensor<8xf32>) -> tensor<2x3x8xf32>
  return %6 : tensor<2x3x8xf32>
}

// -----

// Not RMSNorm: the exponent is 3.
// CHECK-LABEL: func.func @rms_wrong_exponent(
// CHECK-NOT: resa.rms_norm
// CHECK: onnx.Pow
// CHECK: onnx.ReduceMean
func.func @rms_wrong_exponent(%x: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  %w = onnx.Constant {value = dense<1.5> : tensor<64xf32>} : () -> tensor<64xf32>
  %three = onnx.Constant {value = dense<3.0> : tensor<f32>} : () -> tensor<f32>
  %eps = onnx.Constant {value = dense<1.0e-6> : tensor<f32>} : () -> tensor<f32>
  %axes = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %0 = onnx.Pow %x, %three : (tensor<?x?x64xf32>, tensor<f32>) -> tensor<?x?x64xf32>
  %1 = onnx.ReduceMean %0, %axes {keepdims = 1 : i64} : (tensor<?x?x64xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
  %2 = onnx.Add %1, %eps : (tensor<?x?x1xf32>, tensor<f32>) -> tensor<?x?x1xf32>
  %3 = onnx.Sqrt %2 : (tensor<?x?x1xf32>) -> tensor<?x?x1xf32>
  %4 = onnx.Reciprocal %3 : (tensor<?x?x1xf32>) -> tensor<?x?x1xf32>
  %5 = onnx.Mul %x, %4 : (tensor<?x?x64xf32>, tensor<?x?x1xf32>) -> tensor<?x?x64xf32>
  %6 = onnx.Mul %w, %5 : (tensor<64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
  return %6 : tensor<?x?x64xf32>
}

// -----

// Not RMSNorm over the last axis: the mean is over axis 1.
// CHECK-LABEL: func.func @rms_wrong_axis(
// CHECK-NOT: resa.rms_norm
// CHECK: onnx.ReduceMean
func.func @rms_wrong_axis(%x: tensor<2x8x8xf32>) -> tensor<2x8x8xf32> {
  %w = onnx.Constant {value = dense<1.5> : tensor<8xf32>} : () -> tensor<8xf32>
  %two = onnx.Constant {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
  %eps = onnx.Constant {value = dense<1.0e-6> : tensor<f32>} : () -> tensor<f32>
  %axes = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %0 = onnx.Pow %x, %two : (tensor<2x8x8xf32>, tensor<f32>) -> tensor<2x8x8xf32>
  %1 = onnx.ReduceMean %0, %axes {keepdims = 1 : i64} : (tensor<2x8x8xf32>, tensor<1xi64>) -> tensor<2x1x8xf32>
  %2 = onnx.Add %1, %eps : (tensor<2x1x8xf32>, tensor<f32>) -> tensor<2x1x8xf32>
  %3 = onnx.Sqrt %2 : (tensor<2x1x8xf32>) -> tensor<2x1x8xf32>
  %4 = onnx.Reciprocal %3 : (tensor<2x1x8xf32>) -> tensor<2x1x8xf32>
  %5 = onnx.Mul %x, %4 : (tensor<2x8x8xf32>, tensor<2x1x8xf32>) -> tensor<2x8x8xf32>
  %6 = onnx.Mul %w, %5 : (tensor<8xf32>, tensor<2x8x8xf32>) -> tensor<2x8x8xf32>
  return %6 : tensor<2x8x8xf32>
}

// -----

// Not RMSNorm: the epsilon is added after the square root.
// CHECK-LABEL: func.func @rms_eps_outside(
// CHECK-NOT: resa.rms_norm
func.func @rms_eps_outside(%x: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  %w = onnx.Constant {value = dense<1.5> : tensor<64xf32>} : () -> tensor<64xf32>
  %two = onnx.Constant {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
  %eps = onnx.Constant {value = dense<1.0e-6> : tensor<f32>} : () -> tensor<f32>
  %axes = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %0 = onnx.Pow %x, %two : (tensor<?x?x64xf32>, tensor<f32>) -> tensor<?x?x64xf32>
  %1 = onnx.ReduceMean %0, %axes {keepdims = 1 : i64} : (tensor<?x?x64xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
  %2 = onnx.Sqrt %1 : (tensor<?x?x1xf32>) -> tensor<?x?x1xf32>
  %3 = onnx.Add %2, %eps : (tensor<?x?x1xf32>, tensor<f32>) -> tensor<?x?x1xf32>
  %4 = onnx.Reciprocal %3 : (tensor<?x?x1xf32>) -> tensor<?x?x1xf32>
  %5 = onnx.Mul %x, %4 : (tensor<?x?x64xf32>, tensor<?x?x1xf32>) -> tensor<?x?x64xf32>
  %6 = onnx.Mul %w, %5 : (tensor<64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
  return %6 : tensor<?x?x64xf32>
}

// -----

// Opset-23 RMSNormalization and SimplifiedLayerNormalization (both domains).
// CHECK-LABEL: func.func @rms_ops(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x?x16xf32>, %[[W:[a-z0-9]+]]: tensor<16xf32>
// CHECK: %[[A:.*]] = resa.rms_norm %[[X]], %[[W]] {epsilon = 9.99999997E-7 : f32}
// CHECK: %[[B:.*]] = resa.rms_norm %[[A]], %[[W]] {epsilon = 9.99999974E-6 : f32}
// CHECK: %[[C:.*]] = resa.rms_norm %[[B]], %[[W]] {epsilon = 9.99999974E-6 : f32}
// CHECK: return %[[C]]
// CHECK-NOT: Normalization
func.func @rms_ops(%x: tensor<?x?x16xf32>, %w: tensor<16xf32>) -> tensor<?x?x16xf32> {
  %0 = onnx.RMSNormalization %x, %w {axis = -1 : i64, epsilon = 1.0e-6 : f32, stash_type = 1 : i64} : (tensor<?x?x16xf32>, tensor<16xf32>) -> tensor<?x?x16xf32>
  %1 = onnx.SimplifiedLayerNormalization %0, %w {axis = 2 : i64} : (tensor<?x?x16xf32>, tensor<16xf32>) -> tensor<?x?x16xf32>
  %2 = onnx.ms.SimplifiedLayerNormalization %1, %w {epsilon = 1.0e-5 : f32} : (tensor<?x?x16xf32>, tensor<16xf32>) -> tensor<?x?x16xf32>
  return %2 : tensor<?x?x16xf32>
}

// -----

// Normalised over more than the last axis, or inv_std_var used: not raised.
// CHECK-LABEL: func.func @rms_ops_not_raised(
// CHECK-NOT: resa.rms_norm
// CHECK: onnx.RMSNormalization
// CHECK: onnx.SimplifiedLayerNormalization
func.func @rms_ops_not_raised(%x: tensor<2x4x16xf32>, %w: tensor<4x16xf32>, %v: tensor<16xf32>) -> (tensor<2x4x16xf32>, tensor<2x4x1xf32>) {
  %0 = onnx.RMSNormalization %x, %w {axis = 1 : i64} : (tensor<2x4x16xf32>, tensor<4x16xf32>) -> tensor<2x4x16xf32>
  %1:2 = onnx.SimplifiedLayerNormalization %0, %v : (tensor<2x4x16xf32>, tensor<16xf32>) -> (tensor<2x4x16xf32>, tensor<2x4x1xf32>)
  return %1#0, %1#1 : tensor<2x4x16xf32>, tensor<2x4x1xf32>
}

// -----

// com.microsoft SkipSimplifiedLayerNormalization: the sum (input + skip + bias)
// becomes onnx.Add, the normalised output resa.rms_norm of it.
// CHECK-LABEL: func.func @skip_rms(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x?x16xf32>, %[[S:[a-z0-9]+]]: tensor<?x?x16xf32>, %[[G:[a-z0-9]+]]: tensor<16xf32>, %[[B:[a-z0-9]+]]: tensor<16xf32>
// CHECK: %[[SUM0:.*]] = onnx.Add %[[X]], %[[S]]
// CHECK: %[[SUM:.*]] = onnx.Add %[[SUM0]], %[[B]]
// CHECK: %[[Y:.*]] = resa.rms_norm %[[SUM]], %[[G]] {epsilon = 9.99999974E-6 : f32}
// CHECK: return %[[Y]], %[[SUM]]
// CHECK-NOT: SkipSimplified
func.func @skip_rms(%x: tensor<?x?x16xf32>, %s: tensor<?x?x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>) -> (tensor<?x?x16xf32>, tensor<?x?x16xf32>) {
  %0:4 = onnx.ms.SkipSimplifiedLayerNormalization %x, %s, %g, %b {epsilon = 1.0e-5 : f32} : (tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<16xf32>, tensor<16xf32>) -> (tensor<?x?x16xf32>, none, none, tensor<?x?x16xf32>)
  return %0#0, %0#3 : tensor<?x?x16xf32>, tensor<?x?x16xf32>
}

// -----

// LayerNormalization with and without bias; with its Mean output used it stays.
// CHECK-LABEL: func.func @layer_norm(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x?x16xf32>, %[[W:[a-z0-9]+]]: tensor<16xf32>, %[[B:[a-z0-9]+]]: tensor<16xf32>
// CHECK: %[[A:.*]] = resa.layer_norm %[[X]], %[[W]], %[[B]] {epsilon = 9.99999974E-6 : f32} : (tensor<?x?x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<?x?x16xf32>
// CHECK: %[[C:.*]] = resa.layer_norm %[[A]], %[[W]] {epsilon = 9.99999974E-6 : f32} : (tensor<?x?x16xf32>, tensor<16xf32>) -> tensor<?x?x16xf32>
// CHECK: onnx.LayerNormalization %[[C]]
func.func @layer_norm(%x: tensor<?x?x16xf32>, %w: tensor<16xf32>, %b: tensor<16xf32>) -> (tensor<?x?x16xf32>, tensor<?x?x1xf32>) {
  %0 = onnx.LayerNormalization %x, %w, %b {axis = -1 : i64, epsilon = 1.0e-5 : f32} : (tensor<?x?x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<?x?x16xf32>
  %1 = onnx.LayerNormalization %0, %w : (tensor<?x?x16xf32>, tensor<16xf32>) -> tensor<?x?x16xf32>
  %2:2 = onnx.LayerNormalization %1, %w, %b : (tensor<?x?x16xf32>, tensor<16xf32>, tensor<16xf32>) -> (tensor<?x?x16xf32>, tensor<?x?x1xf32>)
  return %2#0, %2#1 : tensor<?x?x16xf32>, tensor<?x?x1xf32>
}
