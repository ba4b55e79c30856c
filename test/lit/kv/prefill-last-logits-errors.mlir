// resa-prefill-last-logits errors, never a silent no-op: no @prefill, no "logits" result, logits not computed by resa.logits, logits used besides the result, hidden states not [B, S, H], opset below 10.
// RUN: resa-opt %s --split-input-file --resa-prefill-last-logits -verify-diagnostics

// expected-error @+1 {{resa-prefill-last-logits needs a function @prefill: run resa-form-kv-program first}}
module {
  func.func @main(%ids: tensor<?x?xi64> {onnx.name = "input_ids"}) -> tensor<?x?xi64> {
    return %ids : tensor<?x?xi64>
  }
}

// -----

// expected-error @+1 {{@prefill has no result named 'logits'; cannot keep only the last position's logits}}
func.func @prefill(%ids: tensor<?x?xi64> {onnx.name = "input_ids"}) -> (tensor<?x?x64xf32> {onnx.name = "hidden"}) {
  %emb = onnx.initializer "embed" : tensor<100x64xf32>
  %x = resa.embedding %emb, %ids : (tensor<100x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  return %x : tensor<?x?x64xf32>
}

// -----

// A projection with a bias stays resa.linear (resa-raise-linear raises only a
// plain one to resa.logits).
// expected-error @+1 {{@prefill's 'logits' result is not computed by resa.logits (resa-raise-linear raises only a plain final projection); cannot keep only the last position's logits}}
func.func @prefill(%ids: tensor<?x?xi64> {onnx.name = "input_ids"}) -> (tensor<?x?x100xf32> {onnx.name = "logits"}) {
  %emb = onnx.initializer "embed" : tensor<100x64xf32>
  %lm = onnx.initializer "lm_head" : tensor<64x100xf32>
  %bias = onnx.initializer "lm_head.bias" : tensor<100xf32>
  %x = resa.embedding %emb, %ids : (tensor<100x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %l = resa.linear %x, %lm, %bias : (tensor<?x?x64xf32>, tensor<64x100xf32>, tensor<100xf32>) -> tensor<?x?x100xf32>
  return %l : tensor<?x?x100xf32>
}

// -----

func.func @prefill(%ids: tensor<?x?xi64> {onnx.name = "input_ids"}) -> (tensor<?x?x100xf32> {onnx.name = "logits"}, tensor<?x?x100xf32> {onnx.name = "probs"}) {
  %emb = onnx.initializer "embed" : tensor<100x64xf32>
  %lm = onnx.initializer "lm_head" : tensor<64x100xf32>
  %x = resa.embedding %emb, %ids : (tensor<100x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %l = resa.logits %x, %lm : (tensor<?x?x64xf32>, tensor<64x100xf32>) -> tensor<?x?x100xf32>
  // expected-error @+1 {{@prefill: the logits feed this op besides the 'logits' result; cannot keep only the last position's logits}}
  %p = onnx.Softmax %l : (tensor<?x?x100xf32>) -> tensor<?x?x100xf32>
  return %l, %p : tensor<?x?x100xf32>, tensor<?x?x100xf32>
}

// -----

func.func @prefill(%ids: tensor<?xi64> {onnx.name = "input_ids"}) -> (tensor<?x100xf32> {onnx.name = "logits"}) {
  %emb = onnx.initializer "embed" : tensor<100x64xf32>
  %lm = onnx.initializer "lm_head" : tensor<64x100xf32>
  %x = resa.embedding %emb, %ids : (tensor<100x64xf32>, tensor<?xi64>) -> tensor<?x64xf32>
  // expected-error @+1 {{@prefill: the logits' hidden states must be [batch, seq, hidden] to keep only the last position, got 'tensor<?x64xf32>'}}
  %l = resa.logits %x, %lm : (tensor<?x64xf32>, tensor<64x100xf32>) -> tensor<?x100xf32>
  return %l : tensor<?x100xf32>
}

// -----

module attributes {onnx.opset = 9 : i64} {
  // expected-error @+1 {{@prefill: keeping only the last position's logits needs opset >= 10 (Slice with input bounds), the model has opset 9}}
  func.func @prefill(%ids: tensor<?x?xi64> {onnx.name = "input_ids"}) -> (tensor<?x?x100xf32> {onnx.name = "logits"}) {
    %emb = onnx.initializer "embed" : tensor<100x64xf32>
    %lm = onnx.initializer "lm_head" : tensor<64x100xf32>
    %x = resa.embedding %emb, %ids : (tensor<100x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
    %l = resa.logits %x, %lm : (tensor<?x?x64xf32>, tensor<64x100xf32>) -> tensor<?x?x100xf32>
    return %l : tensor<?x?x100xf32>
  }
}
