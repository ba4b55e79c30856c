// The out-of-tree sliding-window policy, loaded as a pass plugin: @decode's block_select keeps no scored blocks (kept_ratio 0, min_blocks 0), only local_blocks = ceil(window / block size); window <= 0 and a bad block size are refused; a missing plugin is an error.
// RUN: resa-opt %s --load-pass-plugin=%resa_lib/ResaSlidingWindowPolicy.so --pass-pipeline='builtin.module(resa-attention-sliding-window{window=64})' | FileCheck %s -DBLOCK=16 -DLOCAL=4
// RUN: resa-opt %s --load-pass-plugin=%resa_lib/ResaSlidingWindowPolicy.so --pass-pipeline='builtin.module(resa-attention-sliding-window{window=100})' | FileCheck %s -DBLOCK=16 -DLOCAL=7
// RUN: resa-opt %s --load-pass-plugin=%resa_lib/ResaSlidingWindowPolicy.so --pass-pipeline='builtin.module(resa-attention-sliding-window{window=1})' | FileCheck %s -DBLOCK=16 -DLOCAL=1
// RUN: resa-opt %s --load-pass-plugin=%resa_lib/ResaSlidingWindowPolicy.so --pass-pipeline='builtin.module(resa-attention-sliding-window{window=64 block-size=32})' | FileCheck %s -DBLOCK=32 -DLOCAL=2
// The default window is 256 tokens.
// RUN: resa-opt %s --load-pass-plugin=%resa_lib/ResaSlidingWindowPolicy.so --pass-pipeline='builtin.module(resa-attention-sliding-window)' | FileCheck %s -DBLOCK=16 -DLOCAL=16
// window=33: 3 blocks (2 full and the one that holds the 33rd token).
// RUN: resa-opt %s --load-pass-plugin=%resa_lib/ResaSlidingWindowPolicy.so --pass-pipeline='builtin.module(resa-attention-sliding-window{window=33})' | FileCheck %s -DBLOCK=16 -DLOCAL=3

// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --load-pass-plugin=%resa_lib/ResaSlidingWindowPolicy.so --pass-pipeline='builtin.module(resa-attention-sliding-window{window=0})' 2>&1 | FileCheck %s --check-prefix=WINDOW -DV=0
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --load-pass-plugin=%resa_lib/ResaSlidingWindowPolicy.so --pass-pipeline='builtin.module(resa-attention-sliding-window{window=-5})' 2>&1 | FileCheck %s --check-prefix=WINDOW -DV=-5
// WINDOW: error: sliding window must be positive, got [[V]]{{$}}
// WINDOW-NOT: func.func
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --load-pass-plugin=%resa_lib/ResaSlidingWindowPolicy.so --pass-pipeline='builtin.module(resa-attention-sliding-window{block-size=24})' 2>&1 | FileCheck %s --check-prefix=BS
// BS: error: block size must be a power of two, got 24{{$}}

// A plugin that is not there: the load fails, and so does the pipeline that needs it.
// RUN: not resa-opt %s --load-pass-plugin=%t.missing.so --pass-pipeline='builtin.module(resa-attention-sliding-window{window=64})' 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: Failed to load passes from '{{.*}}.missing.so'
// MISSING: 'resa-attention-sliding-window' does not refer to a registered pass or pass pipeline

// CHECK: module attributes {resa.kv_cache = {block_size = [[BLOCK]] : i64, head_dim = 16 : i64, kv_heads = 2 : i64, layers = 2 : i64}} {
// CHECK-LABEL: func.func @prefill(
// CHECK-NOT: resa.block_select
// CHECK: resa.cache_attention {{.*}}layer = 0 : i64
// CHECK: resa.cache_attention {{.*}}layer = 1 : i64
// CHECK-LABEL: func.func @decode(
// CHECK-NOT: resa.cache_attention
// CHECK: resa.cache_write {{.*}}layer = 0 : i64
// CHECK-NEXT: %[[B0:.*]] = resa.block_select %{{.*}} {kept_ratio = 0.000000e+00 : f32, kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd", local_blocks = [[LOCAL]] : i64, min_blocks = 0 : i64, num_heads = 4 : i64, scale = 2.500000e-01 : f32}
// CHECK-NEXT: resa.block_attention %{{.*}}, %[[B0]] {{.*}}layer = 0 : i64
// CHECK: resa.cache_write {{.*}}layer = 1 : i64
// CHECK-NEXT: %[[B1:.*]] = resa.block_select %{{.*}} {kept_ratio = 0.000000e+00 : f32, kv_heads = 2 : i64, layer = 1 : i64, layout = "bsd", local_blocks = [[LOCAL]] : i64, min_blocks = 0 : i64, num_heads = 4 : i64, scale = 2.500000e-01 : f32}
// CHECK-NEXT: resa.block_attention %{{.*}}, %[[B1]] {{.*}}layer = 1 : i64
// CHECK-NOT: resa.cache_attention
// CHECK-LABEL: func.func @rectify(
// CHECK-NOT: resa.block_select
// CHECK: resa.cache_attention {{.*}}layer = 0 : i64
// CHECK: resa.cache_attention {{.*}}layer = 1 : i64
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
