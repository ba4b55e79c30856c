// Invalid policy options are rejected with one clear error and no output: block size not a power of two, kept ratio outside (0, 1], negative block counts, rectify-every <= 0 with resa.

// Block size: a power of two, at least 1, for all three policies.
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-dense=block-size=0 2>&1 | FileCheck %s --check-prefix=BS -DV=0
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-dense=block-size=12 2>&1 | FileCheck %s --check-prefix=BS -DV=12
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-dense=block-size=-16 2>&1 | FileCheck %s --check-prefix=BS -DV=-16
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-sparse=block-size=0 2>&1 | FileCheck %s --check-prefix=BS -DV=0
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-sparse=block-size=12 2>&1 | FileCheck %s --check-prefix=BS -DV=12
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-sparse=block-size=-16 2>&1 | FileCheck %s --check-prefix=BS -DV=-16
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-resa=block-size=0 2>&1 | FileCheck %s --check-prefix=BS -DV=0
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-resa=block-size=12 2>&1 | FileCheck %s --check-prefix=BS -DV=12
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-resa=block-size=-16 2>&1 | FileCheck %s --check-prefix=BS -DV=-16
// BS: option-errors.mlir:{{[0-9]+}}:1: error: block size must be a power of two, got [[V]]{{$}}
// BS-NOT: error
// BS-NOT: func.func

// Kept ratio: in (0, 1] for sparse and resa (0 would keep only the forced blocks).
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-sparse=kept-ratio=0 2>&1 | FileCheck %s --check-prefix=KR -DV=0.000000e+00
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-sparse=kept-ratio=-0.5 2>&1 | FileCheck %s --check-prefix=KR -DV=-5.000000e-01
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-sparse=kept-ratio=1.5 2>&1 | FileCheck %s --check-prefix=KR -DV=1.500000e+00
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-sparse=kept-ratio=nan 2>&1 | FileCheck %s --check-prefix=KR -DV=nan
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-resa=kept-ratio=0 2>&1 | FileCheck %s --check-prefix=KR -DV=0.000000e+00
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-resa=kept-ratio=-0.5 2>&1 | FileCheck %s --check-prefix=KR -DV=-5.000000e-01
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-resa=kept-ratio=1.5 2>&1 | FileCheck %s --check-prefix=KR -DV=1.500000e+00
// KR: option-errors.mlir:{{[0-9]+}}:1: error: kept ratio must be in (0, 1], got [[V]]{{$}}
// KR-NOT: error
// KR-NOT: func.func

// A positive ratio that is 0 once stored as block_select's f32 is refused too.
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-sparse=kept-ratio=1e-50 2>&1 | FileCheck %s --check-prefix=KRF32
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-resa=kept-ratio=1e-50 2>&1 | FileCheck %s --check-prefix=KRF32
// KRF32: error: kept ratio 1.000000e-50 is 0 as an f32{{$}}
// KRF32-NOT: func.func

// Block counts: not negative.
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-sparse=min-blocks=-1 2>&1 | FileCheck %s --check-prefix=COUNT
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-sparse=local-blocks=-1 2>&1 | FileCheck %s --check-prefix=COUNT
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-resa=min-blocks=-1 2>&1 | FileCheck %s --check-prefix=COUNT
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-resa=local-blocks=-2 2>&1 | FileCheck %s --check-prefix=COUNT
// COUNT: error: min and local block counts must not be negative{{$}}
// COUNT-NOT: func.func

// Rectification interval: positive with resa (the value is printed as a number).
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-resa=rectify-every=0 2>&1 | FileCheck %s --check-prefix=RE -DV=0
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-resa=rectify-every=-3 2>&1 | FileCheck %s --check-prefix=RE -DV=-3
// RE: error: rectify-every must be positive for resa, got [[V]]{{$}}
// RE-NOT: func.func
// RE-NOT: rectification_schedule

// Options a policy does not have, and values that are not numbers.
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-dense=kept-ratio=0.5 2>&1 | FileCheck %s --check-prefix=NOOPT -DOPT=kept-ratio
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-sparse=rectify-every=8 2>&1 | FileCheck %s --check-prefix=NOOPT -DOPT=rectify-every
// NOOPT: error: <Pass-Options-Parser>: no such option [[OPT]]
// RUN: not resa-opt %s --mlir-print-op-on-diagnostic=false --resa-attention-sparse=block-size=abc 2>&1 | FileCheck %s --check-prefix=NAN
// NAN: for the --block-size option: 'abc' value invalid

// With valid values the same input passes (the failures above are the options').
// RUN: resa-opt %s --resa-attention-resa='block-size=1 kept-ratio=1 min-blocks=0 local-blocks=0 rectify-every=1' | FileCheck %s --check-prefix=OK
// OK: resa.rectification_schedule @rectify every 1 steps window 1
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
