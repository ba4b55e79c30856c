// Inconsistent shapes found by --resa-infer-shapes are errors at the op that shows them.
// RUN: resa-opt %s --split-input-file --resa-infer-shapes -verify-diagnostics

func.func @broadcast(%a: tensor<2x3xf32>, %b: tensor<4xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{inconsistent shapes: cannot broadcast dimension 3 with 4}}
  %0 = onnx.Add %a, %b : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----
func.func @matmul_inner(%a: tensor<?x2x3xf32> {onnx.dim_params = ["batch", "", ""]}, %b: tensor<4x5xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{inconsistent shapes: MatMul inner dimensions 3 and 4}}
  %0 = onnx.MatMul %a, %b : (tensor<?x2x3xf32>, tensor<4x5xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----
func.func @matmul_batch(%a: tensor<2x3x4xf32>, %b: tensor<5x4x6xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{inconsistent shapes: cannot broadcast dimension 2 with 5}}
  %0 = onnx.MatMul %a, %b : (tensor<2x3x4xf32>, tensor<5x4x6xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----
func.func @declared_dim(%a: tensor<2x3xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{inconsistent shapes: result #0 is declared 'tensor<2x4xf32>' but the inputs give 'tensor<2x3xf32>'}}
  %0 = onnx.Relu %a : (tensor<2x3xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----
func.func @declared_rank(%a: tensor<?x3xf32> {onnx.dim_params = ["n", ""]}) -> tensor<?xf32> {
  // expected-error @+1 {{inconsistent shapes: result #0 is declared 'tensor<?xf32>' but the inputs give 'tensor<?x3xf32>'}}
  %0 = onnx.Neg %a : (tensor<?x3xf32>) -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----
func.func @declared_element_type(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{inconsistent shapes: result #0 is declared 'tensor<2x3xf32>' but the inputs give 'tensor<2x3xi1>'}}
  %0 = onnx.IsNaN %a : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----
func.func @reshape_declared(%a: tensor<2x3x4xf32>) -> tensor<6x5xf32> {
  %t = onnx.Constant {value = dense<[6, -1]> : tensor<2xi64>} : () -> tensor<2xi64>
  // expected-error @+1 {{inconsistent shapes: result #0 is declared 'tensor<6x5xf32>' but the inputs give 'tensor<6x4xf32>'}}
  %0 = onnx.Reshape %a, %t : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<6x5xf32>
  return %0 : tensor<6x5xf32>
}

// -----
func.func @concat_ranks(%a: tensor<2x3xf32>, %b: tensor<2xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{inconsistent shapes: Concat inputs of different ranks}}
  %0 = onnx.Concat %a, %b {axis = 0 : i64} : (tensor<2x3xf32>, tensor<2xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----
func.func @transpose_perm(%a: tensor<2x3x4xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{inconsistent shapes: Transpose perm has 2 entries for a rank-3 input}}
  %0 = onnx.Transpose %a {perm = array<i64: 1, 0>} : (tensor<2x3x4xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----
func.func @expand(%a: tensor<3x4xf32>) -> tensor<*xf32> {
  %t = onnx.Constant {value = dense<[3, 5]> : tensor<2xi64>} : () -> tensor<2xi64>
  // expected-error @+1 {{inconsistent shapes: cannot broadcast dimension 4 with 5}}
  %0 = onnx.Expand %a, %t : (tensor<3x4xf32>, tensor<2xi64>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----
func.func @gather_range(%a: tensor<?x8xf32> {onnx.dim_params = ["n", ""]}) -> tensor<*xi64> {
  %s = onnx.Shape %a : (tensor<?x8xf32>) -> tensor<*xi64>
  %i = onnx.Constant {value = dense<-3> : tensor<i64>} : () -> tensor<i64>
  // expected-error @+1 {{Gather index -3 out of range for 2 elements}}
  %0 = onnx.Gather %s, %i {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  return %0 : tensor<*xi64>
}

// -----
func.func @cast_type(%a: tensor<2xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{Cast to an unsupported data type 8}}
  %0 = onnx.Cast %a {to = 8 : i64} : (tensor<2xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----
// Index tuples longer than the data's rank past batch_dims (found by fuzzing).
func.func @gathernd_past_rank(%x: tensor<2x3xf32>, %ids: tensor<5x2xi64>) -> tensor<*xf32> {
  // expected-error @+1 {{GatherND with batch_dims 1 and index tuples of 2 does not fit data of rank 2}}
  %0 = onnx.GatherND %x, %ids {batch_dims = 1 : i64} : (tensor<2x3xf32>, tensor<5x2xi64>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}
