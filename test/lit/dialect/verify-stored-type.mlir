// Verifier errors of onnx.initializer's and resa.weight's stored_type: f16 or bf16, over an f32 value.
// RUN: resa-opt %s --split-input-file -verify-diagnostics

func.func @initializer_not_f32() {
  // expected-error @+1 {{'onnx.initializer' op with a stored_type must have an f32 result, got 'tensor<4xf16>'}}
  %0 = onnx.initializer "w" {stored_type = f16} : tensor<4xf16>
  return
}

// -----
func.func @initializer_stored_f64() {
  // expected-error @+1 {{'onnx.initializer' op attribute 'stored_type' failed to satisfy constraint}}
  %0 = onnx.initializer "w" {stored_type = f64} : tensor<4xf32>
  return
}

// -----
func.func @weight_not_f32() {
  // expected-error @+1 {{'resa.weight' op with a stored_type must have an f32 result, got 'tensor<4xbf16>'}}
  %0 = resa.weight "w" {stored_type = bf16} : tensor<4xbf16>
  return
}

// -----
func.func @weight_stored_i8() {
  // expected-error @+1 {{'resa.weight' op attribute 'stored_type' failed to satisfy constraint}}
  %0 = resa.weight "w" {stored_type = i8} : tensor<4xf32>
  return
}
