// resa-form-kv-program errors: no @main, no input_ids, nothing raised, inputs still used, attention left unraised, layers with different KV shapes.
// RUN: resa-opt %s --split-input-file --resa-form-kv-program -verify-diagnostics

// expected-error @+1 {{resa-form-kv-program needs a function @main}}
module {
  func.func @forward(%ids: tensor<?x?xi64> {onnx.name = "input_ids"}) -> tensor<?x?xi64> {
    return %ids : tensor<?x?xi64>
  }
}

// -----

// expected-error @+1 {{the model has no 'input_ids' input}}
func.func @main(%x: tensor<?x?xi64> {onnx.name = "tokens"}) -> tensor<?x?xi64> {
  return %x : tensor<?x?xi64>
}

// -----

// expected-error @+1 {{input_ids must be [batch, seq]}}
func.func @main(%ids: tensor<?xi64> {onnx.name = "input_ids"}) -> tensor<?xi64> {
  return %ids : tensor<?xi64>
}

// -----

// An attention that resa-raise-attention did not raise (here: none at all)
// cannot go on the cache.
// expected-error @+1 {{the model has no attention that resa-raise-attention raised; cannot form a KV-cache program}}
func.func @main(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"}) -> (tensor<?x?x8xf32> {onnx.name = "logits"}) {
  %emb = onnx.initializer "embed" : tensor<100x8xf32>
  %x = onnx.Gather %emb, %ids {axis = 0 : i64} : (tensor<100x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  return %x : tensor<?x?x8xf32>
}

// -----

// attention_mask still feeds a non-attention op (here the logits): the
// cached program has no such input.
func.func @main(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"},
                %mask: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "attention_mask"}) -> (tensor<?x?x64xf32> {onnx.name = "logits"}) {
  %emb = onnx.initializer "embed" : tensor<100x64xf32>
  %ax = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %x = onnx.Gather %emb, %ids {axis = 0 : i64} : (tensor<100x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %a = resa.attention %x, %x, %x {kv_heads = 4 : i64, layout = "bsd", num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
  // expected-error @+1 {{input 'attention_mask' is still used after forming the KV-cache program}}
  %mu = onnx.Unsqueeze %mask, %ax : (tensor<?x?xi64>, tensor<1xi64>) -> tensor<?x?x1xi64>
  %mf = onnx.Cast %mu {to = 1 : i64} : (tensor<?x?x1xi64>) -> tensor<?x?x1xf32>
  %o = onnx.Mul %a, %mf : (tensor<?x?x64xf32>, tensor<?x?x1xf32>) -> tensor<?x?x64xf32>
  return %o : tensor<?x?x64xf32>
}

// -----

// past_key_values concatenated in front of the call's keys (eager attention
// with a past) would attend to the caller's past, not to the cache.
func.func @main(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"},
                %pk: tensor<?x?x64xf32> {onnx.dim_params = ["batch", "past", ""], onnx.name = "past_key_values.0.key"}) -> (tensor<?x?x64xf32> {onnx.name = "logits"}) {
  %emb = onnx.initializer "embed" : tensor<100x64xf32>
  %x = onnx.Gather %emb, %ids {axis = 0 : i64} : (tensor<100x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  // expected-error @+1 {{input 'past_key_values.0.key' is still used after forming the KV-cache program}}
  %k = onnx.Concat %pk, %x {axis = 1 : i64} : (tensor<?x?x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
  %a = resa.attention %x, %k, %k {kv_heads = 4 : i64, layout = "bsd", num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
  return %a : tensor<?x?x64xf32>
}

// -----

// An opset-23 Attention left beside a raised one.
func.func @main(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"}) -> (tensor<?x?x64xf32> {onnx.name = "logits"}) {
  %emb = onnx.initializer "embed" : tensor<100x64xf32>
  %x = onnx.Gather %emb, %ids {axis = 0 : i64} : (tensor<100x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %a = resa.attention %x, %x, %x {kv_heads = 4 : i64, layout = "bsd", num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
  // expected-error @+1 {{this attention was not raised; cannot form a KV-cache program}}
  %b = onnx.Attention %a, %a, %a {is_causal = 1 : i64, q_num_heads = 4 : i64, kv_num_heads = 4 : i64} : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
  return %b : tensor<?x?x64xf32>
}

// -----

// One cache layout for every layer: a layer with other KV heads is refused.
func.func @main(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"}) -> (tensor<?x?x64xf32> {onnx.name = "logits"}) {
  %emb = onnx.initializer "embed" : tensor<100x64xf32>
  %wk = onnx.initializer "wk" : tensor<64x32xf32>
  %x = onnx.Gather %emb, %ids {axis = 0 : i64} : (tensor<100x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %a = resa.attention %x, %x, %x {kv_heads = 4 : i64, layout = "bsd", num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
  %k = onnx.MatMul %a, %wk : (tensor<?x?x64xf32>, tensor<64x32xf32>) -> tensor<?x?x32xf32>
  // expected-error @+1 {{layers with different KV shapes (2x16 here, 4x16 before) are not supported}}
  %b = resa.attention %a, %k, %k {kv_heads = 2 : i64, layout = "bsd", num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x64xf32>
  return %b : tensor<?x?x64xf32>
}

// -----

func.func @main(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"}, %w: tensor<64x?xf32> {onnx.name = "w"}) -> (tensor<?x?x64xf32> {onnx.name = "logits"}) {
  %emb = onnx.initializer "embed" : tensor<100x64xf32>
  %x = onnx.Gather %emb, %ids {axis = 0 : i64} : (tensor<100x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %k = onnx.MatMul %x, %w : (tensor<?x?x64xf32>, tensor<64x?xf32>) -> tensor<?x?x?xf32>
  // expected-error @+1 {{the head size of this attention is not static}}
  %a = resa.attention %x, %k, %k {kv_heads = 4 : i64, layout = "bsd", num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<?x?x64xf32>, tensor<?x?x?xf32>, tensor<?x?x?xf32>) -> tensor<?x?x64xf32>
  return %a : tensor<?x?x64xf32>
}
