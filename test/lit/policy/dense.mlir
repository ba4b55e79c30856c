// resa-attention-dense: @decode keeps resa.cache_attention; the only change is resa.kv_cache's block_size (default 16, or block-size).
// RUN: resa-opt %s --split-input-file --resa-attention-dense | FileCheck %s --check-prefixes=CHECK,DEF
// RUN: resa-opt %s --split-input-file --resa-attention-dense=block-size=64 | FileCheck %s --check-prefixes=CHECK,B64
// RUN: resa-opt %s --split-input-file --pass-pipeline='builtin.module(resa-attention-dense{block-size=1})' | FileCheck %s --check-prefixes=CHECK,B1

// The cache's other entries are kept; block_size is added.
// DEF: module attributes {resa.kv_cache = {block_size = 16 : i64, head_dim = 16 : i64, kv_heads = 2 : i64, layers = 2 : i64}} {
// B64: module attributes {resa.kv_cache = {block_size = 64 : i64, head_dim = 16 : i64, kv_heads = 2 : i64, layers = 2 : i64}} {
// B1: module attributes {resa.kv_cache = {block_size = 1 : i64, head_dim = 16 : i64, kv_heads = 2 : i64, layers = 2 : i64}} {
// CHECK-NOT: resa.block_select
// CHECK-NOT: resa.block_attention
// CHECK-NOT: resa.cache_write
// CHECK-LABEL: func.func @prefill(
// CHECK: resa.cache_attention {{.*}}layer = 0 : i64
// CHECK: resa.cache_attention {{.*}}layer = 1 : i64
// CHECK-LABEL: func.func @decode(
// CHECK: %[[A0:.*]] = resa.cache_attention {{.*}} {kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd", num_heads = 4 : i64, scale = 2.500000e-01 : f32}
// CHECK-NEXT: %[[K1:.*]] = onnx.MatMul %[[A0]]
// CHECK-NEXT: resa.cache_attention %[[A0]], %[[K1]], %[[K1]] {kv_heads = 2 : i64, layer = 1 : i64, layout = "bsd", num_heads = 4 : i64, scale = 2.500000e-01 : f32}
// CHECK-LABEL: func.func @rectify(
// CHECK: resa.cache_attention {{.*}}layer = 0 : i64
// CHECK: resa.cache_attention {{.*}}layer = 1 : i64
// CHECK-NEXT: return
// CHECK-NOT: resa.rectification_schedule
// CHECK-NOT: resa.block_select
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

// -----

// A block size that is already set is replaced.
// DEF: module attributes {resa.kv_cache = {block_size = 16 : i64, head_dim = 8 : i64, kv_heads = 1 : i64, layers = 1 : i64}} {
// B64: module attributes {resa.kv_cache = {block_size = 64 : i64, head_dim = 8 : i64, kv_heads = 1 : i64, layers = 1 : i64}} {
// B1: module attributes {resa.kv_cache = {block_size = 1 : i64, head_dim = 8 : i64, kv_heads = 1 : i64, layers = 1 : i64}} {
// CHECK-LABEL: func.func @decode(
// CHECK-NEXT: return
module attributes {resa.kv_cache = {block_size = 128 : i64, head_dim = 8 : i64, kv_heads = 1 : i64, layers = 1 : i64}} {
  func.func @decode(%ids: tensor<?x?xi64> {onnx.name = "input_ids"}) {
    return
  }
}
