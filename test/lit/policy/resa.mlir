// resa-attention-resa: block-sparse @decode as resa-attention-sparse, plus `resa.rectification_schedule @rectify every N steps window N` (rectify-every, default 32).
// RUN: resa-opt %s --resa-attention-resa | FileCheck %s --check-prefixes=CHECK,DEF
// RUN: resa-opt %s --resa-attention-resa='block-size=64 kept-ratio=0.5 min-blocks=2 local-blocks=3 rectify-every=8' | FileCheck %s --check-prefixes=CHECK,SET
// RUN: resa-opt %s --pass-pipeline='builtin.module(resa-attention-resa{rectify-every=1})' | FileCheck %s --check-prefixes=CHECK,ONE
// The printed schedule parses back.
// RUN: resa-opt %s --resa-attention-resa=rectify-every=8 | resa-opt | FileCheck %s --check-prefixes=CHECK,RT

// DEF: module attributes {resa.kv_cache = {block_size = 16 : i64, head_dim = 16 : i64, kv_heads = 2 : i64, layers = 2 : i64}} {
// SET: module attributes {resa.kv_cache = {block_size = 64 : i64, head_dim = 16 : i64, kv_heads = 2 : i64, layers = 2 : i64}} {
// ONE: module attributes {resa.kv_cache = {block_size = 16 : i64, head_dim = 16 : i64, kv_heads = 2 : i64, layers = 2 : i64}} {
// RT: module attributes {resa.kv_cache = {block_size = 16 : i64, head_dim = 16 : i64, kv_heads = 2 : i64, layers = 2 : i64}} {

// CHECK-LABEL: func.func @prefill(
// CHECK-NOT: resa.block_select
// CHECK: resa.cache_attention {{.*}}layer = 0 : i64
// CHECK: resa.cache_attention {{.*}}layer = 1 : i64

// CHECK-LABEL: func.func @decode(
// CHECK-NOT: resa.cache_attention
// CHECK: %[[X:.*]] = onnx.Gather
// CHECK-NEXT: %[[K0:.*]] = onnx.MatMul %[[X]]
// CHECK-NEXT: resa.cache_write %[[K0]], %[[K0]] {kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd"}
// DEF-NEXT: %[[B0:.*]] = resa.block_select %[[X]] {kept_ratio = 1.000000e-01 : f32, kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd", local_blocks = 1 : i64, min_blocks = 16 : i64, num_heads = 4 : i64, scale = 2.500000e-01 : f32} : (tensor<?x?x64xf32>) -> tensor<2x?xi32>
// SET-NEXT: %[[B0:.*]] = resa.block_select %[[X]] {kept_ratio = 5.000000e-01 : f32, kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd", local_blocks = 3 : i64, min_blocks = 2 : i64, num_heads = 4 : i64, scale = 2.500000e-01 : f32} : (tensor<?x?x64xf32>) -> tensor<2x?xi32>
// ONE-NEXT: %[[B0:.*]] = resa.block_select %[[X]] {kept_ratio = 1.000000e-01 : f32, kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd", local_blocks = 1 : i64, min_blocks = 16 : i64, num_heads = 4 : i64, scale = 2.500000e-01 : f32} : (tensor<?x?x64xf32>) -> tensor<2x?xi32>
// RT-NEXT: %[[B0:.*]] = resa.block_select %[[X]] {kept_ratio = 1.000000e-01 : f32, kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd", local_blocks = 1 : i64, min_blocks = 16 : i64, num_heads = 4 : i64, scale = 2.500000e-01 : f32} : (tensor<?x?x64xf32>) -> tensor<2x?xi32>
// CHECK-NEXT: %[[A0:.*]] = resa.block_attention %[[X]], %[[B0]] {kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd", num_heads = 4 : i64, scale = 2.500000e-01 : f32}
// CHECK-NEXT: %[[K1:.*]] = onnx.MatMul %[[A0]]
// CHECK-NEXT: resa.cache_write %[[K1]], %[[K1]] {kv_heads = 2 : i64, layer = 1 : i64, layout = "bsd"}
// DEF-NEXT: %[[B1:.*]] = resa.block_select %[[A0]] {kept_ratio = 1.000000e-01 : f32, kv_heads = 2 : i64, layer = 1 : i64, layout = "bsd", local_blocks = 1 : i64, min_blocks = 16 : i64, num_heads = 4 : i64, scale = 2.500000e-01 : f32}
// SET-NEXT: %[[B1:.*]] = resa.block_select %[[A0]] {kept_ratio = 5.000000e-01 : f32, kv_heads = 2 : i64, layer = 1 : i64, layout = "bsd", local_blocks = 3 : i64, min_blocks = 2 : i64, num_heads = 4 : i64, scale = 2.500000e-01 : f32}
// ONE-NEXT: %[[B1:.*]] = resa.block_select %[[A0]] {{.*}}layer = 1 : i64
// RT-NEXT: %[[B1:.*]] = resa.block_select %[[A0]] {{.*}}layer = 1 : i64
// CHECK-NEXT: %[[A1:.*]] = resa.block_attention %[[A0]], %[[B1]] {kv_heads = 2 : i64, layer = 1 : i64, layout = "bsd", num_heads = 4 : i64, scale = 2.500000e-01 : f32}
// CHECK-NEXT: %[[L:.*]] = onnx.MatMul %[[A1]]
// CHECK-NEXT: return %[[L]]

// @rectify stays dense; the schedule names it, once, at the end of the module.
// CHECK-LABEL: func.func @rectify(
// CHECK-NOT: resa.block_select
// CHECK: resa.cache_attention {{.*}}layer = 0 : i64
// CHECK: resa.cache_attention {{.*}}layer = 1 : i64
// CHECK-NEXT: return
// CHECK-NEXT: }
// DEF-NEXT: resa.rectification_schedule @rectify every 32 steps window 32{{$}}
// SET-NEXT: resa.rectification_schedule @rectify every 8 steps window 8{{$}}
// ONE-NEXT: resa.rectification_schedule @rectify every 1 steps window 1{{$}}
// RT-NEXT: resa.rectification_schedule @rectify every 8 steps window 8{{$}}
// CHECK-NEXT: }
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
