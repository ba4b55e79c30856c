// Every policy refuses a module that is not a KV-cache program (no resa.kv_cache, or no @decode): run resa-form-kv-program first.
// RUN: resa-opt %s --split-input-file --resa-attention-dense -verify-diagnostics
// RUN: resa-opt %s --split-input-file --resa-attention-sparse -verify-diagnostics
// RUN: resa-opt %s --split-input-file --resa-attention-resa -verify-diagnostics
// RUN: resa-opt %s --split-input-file --load-pass-plugin=%resa_lib/ResaSlidingWindowPolicy.so --pass-pipeline='builtin.module(resa-attention-sliding-window{window=64})' -verify-diagnostics

// The stateless graph (what resa-raise-attention leaves) has no cache yet.
// expected-error @+1 {{not a KV-cache program: run resa-form-kv-program before an attention policy}}
module attributes {onnx.opset = 18 : i64} {
  func.func @main(%ids: tensor<?x?xi64> {onnx.name = "input_ids"}) -> (tensor<?x?x64xf32> {onnx.name = "logits"}) {
    %emb = onnx.initializer "embed" : tensor<100x64xf32>
    %x = onnx.Gather %emb, %ids {axis = 0 : i64} : (tensor<100x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
    %a = resa.attention %x, %x, %x {kv_heads = 4 : i64, layout = "bsd", num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
    return %a : tensor<?x?x64xf32>
  }
}

// -----

// @decode and @rectify without the module's resa.kv_cache.
// expected-error @+1 {{not a KV-cache program: run resa-form-kv-program before an attention policy}}
module {
  func.func @decode(%ids: tensor<?x?xi64> {onnx.name = "input_ids"}) {
    return
  }
  func.func @rectify(%ids: tensor<?x?xi64> {onnx.name = "input_ids"}) {
    return
  }
}

// -----

// A cache but no @decode.
// expected-error @+1 {{not a KV-cache program: no @decode}}
module attributes {resa.kv_cache = {head_dim = 16 : i64, kv_heads = 2 : i64, layers = 1 : i64}} {
  func.func @prefill(%ids: tensor<?x?xi64> {onnx.name = "input_ids"}) {
    return
  }
  func.func @rectify(%ids: tensor<?x?xi64> {onnx.name = "input_ids"}) {
    return
  }
}
