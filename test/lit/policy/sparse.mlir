// resa-attention-sparse: each layer's cache_attention in @decode becomes cache_write + block_select (the selection options as attributes) + block_attention; @prefill and @rectify stay dense; no rectification schedule.
// RUN: resa-opt %s --resa-attention-sparse | FileCheck %s --check-prefixes=CHECK,DEF
// RUN: resa-opt %s --resa-attention-sparse='block-size=32 kept-ratio=0.25 min-blocks=4 local-blocks=2' | FileCheck %s --check-prefixes=CHECK,SET
// RUN: resa-opt %s --pass-pipeline='builtin.module(resa-attention-sparse{kept-ratio=1 min-blocks=0 local-blocks=0 block-size=128})' | FileCheck %s --check-prefixes=CHECK,EDGE
// The printed form parses back to the same IR.
// RUN: resa-opt %s --resa-attention-sparse | resa-opt | FileCheck %s --check-prefixes=CHECK,DEF

// DEF: module attributes {resa.kv_cache = {block_size = 16 : i64, head_dim = 16 : i64, kv_heads = 2 : i64, layers = 2 : i64}} {
// SET: module attributes {resa.kv_cache = {block_size = 32 : i64, head_dim = 16 : i64, kv_heads = 2 : i64, layers = 2 : i64}} {
// EDGE: module attributes {resa.kv_cache = {block_size = 128 : i64, head_dim = 16 : i64, kv_heads = 2 : i64, layers = 2 : i64}} {

// @prefill: dense, as it was.
// CHECK-LABEL: func.func @prefill(
// CHECK-NOT: resa.block_select
// CHECK-NOT: resa.cache_write
// CHECK: resa.cache_attention {{.*}}layer = 0 : i64
// CHECK-NOT: resa.block_select
// CHECK: resa.cache_attention {{.*}}layer = 1 : i64
// CHECK-NOT: resa.block_select

// @decode: per layer, write the call's KV, select blocks for the query, attend
// over them; the result feeds the next layer as the dense attention's did.
// CHECK-LABEL: func.func @decode(
// CHECK-NOT: resa.cache_attention
// CHECK: %[[X:.*]] = onnx.Gather
// CHECK-NEXT: %[[K0:.*]] = onnx.MatMul %[[X]]
// CHECK-NEXT: resa.cache_write %[[K0]], %[[K0]] {kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd"} : tensor<?x?x32xf32>, tensor<?x?x32xf32>
// DEF-NEXT: %[[B0:.*]] = resa.block_select %[[X]] {kept_ratio = 1.000000e-01 : f32, kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd", local_blocks = 1 : i64, min_blocks = 16 : i64, num_heads = 4 : i64, scale = 2.500000e-01 : f32} : (tensor<?x?x64xf32>) -> tensor<2x?xi32>
// SET-NEXT: %[[B0:.*]] = resa.block_select %[[X]] {kept_ratio = 2.500000e-01 : f32, kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd", local_blocks = 2 : i64, min_blocks = 4 : i64, num_heads = 4 : i64, scale = 2.500000e-01 : f32} : (tensor<?x?x64xf32>) -> tensor<2x?xi32>
// EDGE-NEXT: %[[B0:.*]] = resa.block_select %[[X]] {kept_ratio = 1.000000e+00 : f32, kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd", local_blocks = 0 : i64, min_blocks = 0 : i64, num_heads = 4 : i64, scale = 2.500000e-01 : f32} : (tensor<?x?x64xf32>) -> tensor<2x?xi32>
// CHECK-NEXT: %[[A0:.*]] = resa.block_attention %[[X]], %[[B0]] {kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd", num_heads = 4 : i64, scale = 2.500000e-01 : f32} : (tensor<?x?x64xf32>, tensor<2x?xi32>) -> tensor<?x?x64xf32>
// CHECK-NEXT: %[[K1:.*]] = onnx.MatMul %[[A0]]
// CHECK-NEXT: resa.cache_write %[[K1]], %[[K1]] {kv_heads = 2 : i64, layer = 1 : i64, layout = "bsd"}
// DEF-NEXT: %[[B1:.*]] = resa.block_select %[[A0]] {kept_ratio = 1.000000e-01 : f32, kv_heads = 2 : i64, layer = 1 : i64, layout = "bsd", local_blocks = 1 : i64, min_blocks = 16 : i64, num_heads = 4 : i64, scale = 2.500000e-01 : f32}
// SET-NEXT: %[[B1:.*]] = resa.block_select %[[A0]] {kept_ratio = 2.500000e-01 : f32, kv_heads = 2 : i64, layer = 1 : i64, layout = "bsd", local_blocks = 2 : i64, min_blocks = 4 : i64, num_heads = 4 : i64, scale = 2.500000e-01 : f32}
// EDGE-NEXT: %[[B1:.*]] = resa.block_select %[[A0]] {kept_ratio = 1.000000e+00 : f32, kv_heads = 2 : i64, layer = 1 : i64, layout = "bsd", local_blocks = 0 : i64, min_blocks = 0 : i64, num_heads = 4 : i64, scale = 2.500000e-01 : f32}
// CHECK-NEXT: %[[A1:.*]] = resa.block_attention %[[A0]], %[[B1]] {kv_heads = 2 : i64, layer = 1 : i64, layout = "bsd", num_heads = 4 : i64, scale = 2.500000e-01 : f32}
// CHECK-NEXT: %[[L:.*]] = onnx.MatMul %[[A1]]
// CHECK-NEXT: return %[[L]]
// CHECK-NOT: resa.cache_attention

// @rectify: dense (it re-encodes with full attention).
// CHECK-LABEL: func.func @rectify(
// CHECK-NOT: resa.block_select
// CHECK: resa.cache_attention {{.*}}layer = 0 : i64
// CHECK: resa.cache_attention {{.*}}layer = 1 : i64
// CHECK-NEXT: return
// CHECK-NEXT: }

// Without rectification there is no schedule.
// CHECK-NOT: resa.rectification_schedule
module attributes {resa.kv_cache = {head_dim = 16 : i64, kv_heads = 2 : i64, layers = 2 : i64}} {
  func.func @prefill(%ids: tensor<?x?xi64> {onnx.name = "input_ids"}) -> (tensor<?x?x100xf32> {onnx.name = "logits"}) {
    %emb = onnx.initializer "embed" : tensor<100x64xf32>
    %wk = onnx.initializer "wk" : tensor<64x32xf32>
    %lm = onnx.initializer "lm_head" : tensor<64x100xf32>
    %x = onnx.Gather %emb, %ids {axis = 0 : i64} : (tensor<100x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
    %k0 = onnx.MatMul %x, %wk : (tensor<?x?x64xf32>, tensor<64x32xf32>) -> tensor<?x?x32xf32>
    %a0 = resa.cache_attention %x, %k0, %k0 {kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd", num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x64xf32>
    %k1 = onnx.MatMul %a0, %wk : (tensor<?x?x64xf32>, tensor<64x32xf32>) -> tensor<?x?x32xf32>
    %a1 = resa.cache_attention %a0, %k1, %k1 {kv_heads = 2 : i64, layer = 1 : i64, layout = "bsd", num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x64xf32>
    %l = onnx.MatMul %a1, %lm : (tensor<?x?x64xf32>, tensor<64x100xf32>) -> tensor<?x?x100xf32>
    return %l : tensor<?x?x100xf32>
  }
  func.func @decode(%ids: tensor<?x?xi64> {onnx.name = "input_ids"}) -> (tensor<?x?x100xf32> {onnx.name = "logits"}) {
    %emb = onnx.initializer "embed" : tensor<100x64xf32>
    %wk = onnx.initializer "wk" : tensor<64x32xf32>
    %lm = onnx.initializer "lm_head" : tensor<64x100xf32>
    %x = onnx.Gather %emb, %ids {axis = 0 : i64} : (tensor<100x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
    %k0 = onnx.MatMul %x, %wk : (tensor<?x?x64xf32>, tensor<64x32xf32>) -> tensor<?x?x32xf32>
    %a0 = resa.cache_attention %x, %k0, %k0 {kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd", num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x64xf32>
    %k1 = onnx.MatMul %a0, %wk : (tensor<?x?x64xf32>, tensor<64x32xf32>) -> tensor<?x?x32xf32>
    %a1 = resa.cache_attention %a0, %k1, %k1 {kv_heads = 2 : i64, layer = 1 : i64, layout = "bsd", num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x64xf32>
    %l = onnx.MatMul %a1, %lm : (tensor<?x?x64xf32>, tensor<64x100xf32>) -> tensor<?x?x100xf32>
    return %l : tensor<?x?x100xf32>
  }
  func.func @rectify(%ids: tensor<?x?xi64> {onnx.name = "input_ids"}) {
    %emb = onnx.initializer "embed" : tensor<100x64xf32>
    %wk = onnx.initializer "wk" : tensor<64x32xf32>
    %x = onnx.Gather %emb, %ids {axis = 0 : i64} : (tensor<100x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
    %k0 = onnx.MatMul %x, %wk : (tensor<?x?x64xf32>, tensor<64x32xf32>) -> tensor<?x?x32xf32>
    %a0 = resa.cache_attention %x, %k0, %k0 {kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd", num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x64xf32>
    %k1 = onnx.MatMul %a0, %wk : (tensor<?x?x64xf32>, tensor<64x32xf32>) -> tensor<?x?x32xf32>
    %a1 = resa.cache_attention %a0, %k1, %k1 {kv_heads = 2 : i64, layer = 1 : i64, layout = "bsd", num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x64xf32>
    return
  }
}
