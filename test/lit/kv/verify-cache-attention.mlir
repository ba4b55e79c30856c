// resa.cache_attention's verifier (shared with resa.attention, resa.rotary_cache_attention and resa.rotary_cache_write, the last two adding resa.rotary's rules for q and k): head counts, ranks per layout, layout names, head sizes, rotary dims.
// RUN: resa-opt %s --split-input-file -verify-diagnostics

// Valid forms parse and verify: GQA in both layouts, dynamic dims.
func.func @valid(%q: tensor<?x8x?x16xf32>, %k: tensor<?x2x?x16xf32>, %q3: tensor<?x?x128xf32>, %k3: tensor<?x?x32xf32>) -> (tensor<?x8x?x16xf32>, tensor<?x?x128xf32>) {
  %0 = resa.cache_attention %q, %k, %k {kv_heads = 2 : i64, layout = "bhsd", num_heads = 8 : i64, scale = 0.25 : f32, layer = 0 : i64} : (tensor<?x8x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x8x?x16xf32>
  %1 = resa.cache_attention %q3, %k3, %k3 {kv_heads = 2 : i64, layout = "bsd", num_heads = 8 : i64, scale = 0.25 : f32, layer = 0 : i64} : (tensor<?x?x128xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x128xf32>
  return %0, %1 : tensor<?x8x?x16xf32>, tensor<?x?x128xf32>
}

// -----

func.func @kv_not_divisor(%q: tensor<1x6x3x16xf32>, %k: tensor<1x4x3x16xf32>, %v: tensor<1x4x3x16xf32>) -> tensor<1x6x3x16xf32> {
  // expected-error @+1 {{'resa.cache_attention' op num_heads (6) must be a positive multiple of kv_heads (4)}}
  %0 = resa.cache_attention %q, %k, %v {kv_heads = 4 : i64, layout = "bhsd", num_heads = 6 : i64, scale = 0.25 : f32, layer = 0 : i64} : (tensor<1x6x3x16xf32>, tensor<1x4x3x16xf32>, tensor<1x4x3x16xf32>) -> tensor<1x6x3x16xf32>
  return %0 : tensor<1x6x3x16xf32>
}

// -----

func.func @kv_zero(%q: tensor<1x4x3x16xf32>, %k: tensor<1x4x3x16xf32>, %v: tensor<1x4x3x16xf32>) -> tensor<1x4x3x16xf32> {
  // expected-error @+1 {{'resa.cache_attention' op num_heads (4) must be a positive multiple of kv_heads (0)}}
  %0 = resa.cache_attention %q, %k, %v {kv_heads = 0 : i64, layout = "bhsd", num_heads = 4 : i64, scale = 0.25 : f32, layer = 0 : i64} : (tensor<1x4x3x16xf32>, tensor<1x4x3x16xf32>, tensor<1x4x3x16xf32>) -> tensor<1x4x3x16xf32>
  return %0 : tensor<1x4x3x16xf32>
}

// -----

func.func @bhsd_rank3(%q: tensor<1x3x64xf32>, %k: tensor<1x3x64xf32>, %v: tensor<1x3x64xf32>) -> tensor<1x3x64xf32> {
  // expected-error @+1 {{'resa.cache_attention' op layout bhsd takes rank-4 q, k and v}}
  %0 = resa.cache_attention %q, %k, %v {kv_heads = 4 : i64, layout = "bhsd", num_heads = 4 : i64, scale = 0.25 : f32, layer = 0 : i64} : (tensor<1x3x64xf32>, tensor<1x3x64xf32>, tensor<1x3x64xf32>) -> tensor<1x3x64xf32>
  return %0 : tensor<1x3x64xf32>
}

// -----

func.func @bsd_rank4(%q: tensor<1x4x3x16xf32>, %k: tensor<1x4x3x16xf32>, %v: tensor<1x4x3x16xf32>) -> tensor<1x4x3x16xf32> {
  // expected-error @+1 {{'resa.cache_attention' op layout bsd takes rank-3 q, k and v}}
  %0 = resa.cache_attention %q, %k, %v {kv_heads = 4 : i64, layout = "bsd", num_heads = 4 : i64, scale = 0.25 : f32, layer = 0 : i64} : (tensor<1x4x3x16xf32>, tensor<1x4x3x16xf32>, tensor<1x4x3x16xf32>) -> tensor<1x4x3x16xf32>
  return %0 : tensor<1x4x3x16xf32>
}

// -----

func.func @bad_layout(%q: tensor<1x3x4x16xf32>, %k: tensor<1x3x4x16xf32>, %v: tensor<1x3x4x16xf32>) -> tensor<1x3x4x16xf32> {
  // expected-error @+1 {{'resa.cache_attention' op layout must be "bhsd" or "bsd", got "bshd"}}
  %0 = resa.cache_attention %q, %k, %v {kv_heads = 4 : i64, layout = "bshd", num_heads = 4 : i64, scale = 0.25 : f32, layer = 0 : i64} : (tensor<1x3x4x16xf32>, tensor<1x3x4x16xf32>, tensor<1x3x4x16xf32>) -> tensor<1x3x4x16xf32>
  return %0 : tensor<1x3x4x16xf32>
}

// -----

func.func @q_heads(%q: tensor<1x8x3x16xf32>, %k: tensor<1x2x3x16xf32>, %v: tensor<1x2x3x16xf32>) -> tensor<1x8x3x16xf32> {
  // expected-error @+1 {{'resa.cache_attention' op q has 8 heads, num_heads is 4}}
  %0 = resa.cache_attention %q, %k, %v {kv_heads = 2 : i64, layout = "bhsd", num_heads = 4 : i64, scale = 0.25 : f32, layer = 0 : i64} : (tensor<1x8x3x16xf32>, tensor<1x2x3x16xf32>, tensor<1x2x3x16xf32>) -> tensor<1x8x3x16xf32>
  return %0 : tensor<1x8x3x16xf32>
}

// -----

func.func @kv_heads_mismatch(%q: tensor<1x4x3x16xf32>, %k: tensor<1x2x3x16xf32>, %v: tensor<1x4x3x16xf32>) -> tensor<1x4x3x16xf32> {
  // expected-error @+1 {{'resa.cache_attention' op k and v must have kv_heads = 2 heads}}
  %0 = resa.cache_attention %q, %k, %v {kv_heads = 2 : i64, layout = "bhsd", num_heads = 4 : i64, scale = 0.25 : f32, layer = 0 : i64} : (tensor<1x4x3x16xf32>, tensor<1x2x3x16xf32>, tensor<1x4x3x16xf32>) -> tensor<1x4x3x16xf32>
  return %0 : tensor<1x4x3x16xf32>
}

// -----

func.func @head_size_bhsd(%q: tensor<1x4x3x16xf32>, %k: tensor<1x2x3x8xf32>, %v: tensor<1x2x3x8xf32>) -> tensor<1x4x3x16xf32> {
  // expected-error @+1 {{'resa.cache_attention' op q and k head sizes differ}}
  %0 = resa.cache_attention %q, %k, %v {kv_heads = 2 : i64, layout = "bhsd", num_heads = 4 : i64, scale = 0.25 : f32, layer = 0 : i64} : (tensor<1x4x3x16xf32>, tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>) -> tensor<1x4x3x16xf32>
  return %0 : tensor<1x4x3x16xf32>
}

// -----

func.func @head_size_bsd(%q: tensor<1x3x64xf32>, %k: tensor<1x3x48xf32>, %v: tensor<1x3x48xf32>) -> tensor<1x3x64xf32> {
  // expected-error @+1 {{'resa.cache_attention' op q width 64 over 4 heads and k width 48 over 2 heads give different head sizes}}
  %0 = resa.cache_attention %q, %k, %v {kv_heads = 2 : i64, layout = "bsd", num_heads = 4 : i64, scale = 0.25 : f32, layer = 0 : i64} : (tensor<1x3x64xf32>, tensor<1x3x48xf32>, tensor<1x3x48xf32>) -> tensor<1x3x64xf32>
  return %0 : tensor<1x3x64xf32>
}

// -----

func.func @width_not_multiple(%q: tensor<1x3x66xf32>, %k: tensor<1x3x32xf32>, %v: tensor<1x3x32xf32>) -> tensor<1x3x66xf32> {
  // expected-error @+1 {{'resa.cache_attention' op q width 66 over 4 heads and k width 32 over 2 heads give different head sizes}}
  %0 = resa.cache_attention %q, %k, %v {kv_heads = 2 : i64, layout = "bsd", num_heads = 4 : i64, scale = 0.25 : f32, layer = 0 : i64} : (tensor<1x3x66xf32>, tensor<1x3x32xf32>, tensor<1x3x32xf32>) -> tensor<1x3x66xf32>
  return %0 : tensor<1x3x66xf32>
}

// -----

// The layer is required: it names the cache layer the op writes.
func.func @no_layer(%q: tensor<1x4x3x16xf32>, %k: tensor<1x4x3x16xf32>) -> tensor<1x4x3x16xf32> {
  // expected-error @+1 {{'resa.cache_attention' op requires attribute 'layer'}}
  %0 = resa.cache_attention %q, %k, %k {kv_heads = 4 : i64, layout = "bhsd", num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x4x3x16xf32>, tensor<1x4x3x16xf32>, tensor<1x4x3x16xf32>) -> tensor<1x4x3x16xf32>
  return %0 : tensor<1x4x3x16xf32>
}

// -----

func.func @rotary_odd_dim(%q: tensor<1x4x1x8xf32>, %k: tensor<1x2x1x8xf32>, %v: tensor<1x2x1x8xf32>, %c: tensor<1x1x3xf32>, %s: tensor<1x1x3xf32>) -> tensor<1x4x1x8xf32> {
  // expected-error @+1 {{rotary_dim must be positive and even, got 7}}
  %a = resa.rotary_cache_attention %q, %k, %v, %c, %s {num_heads = 4 : i64, kv_heads = 2 : i64, scale = 0.5 : f32, layout = "bhsd", layer = 0 : i64, rotary_dim = 7 : i64, interleaved = 0 : i64} : (tensor<1x4x1x8xf32>, tensor<1x2x1x8xf32>, tensor<1x2x1x8xf32>, tensor<1x1x3xf32>, tensor<1x1x3xf32>) -> tensor<1x4x1x8xf32>
  return %a : tensor<1x4x1x8xf32>
}

// -----

func.func @rotary_wide_dim(%q: tensor<1x4x1x8xf32>, %k: tensor<1x2x1x8xf32>, %v: tensor<1x2x1x8xf32>, %c: tensor<1x1x8xf32>, %s: tensor<1x1x8xf32>) -> tensor<1x4x1x8xf32> {
  // expected-error @+1 {{rotary_dim 16 exceeds the head size 8}}
  %a = resa.rotary_cache_attention %q, %k, %v, %c, %s {num_heads = 4 : i64, kv_heads = 2 : i64, scale = 0.5 : f32, layout = "bhsd", layer = 0 : i64, rotary_dim = 16 : i64, interleaved = 0 : i64} : (tensor<1x4x1x8xf32>, tensor<1x2x1x8xf32>, tensor<1x2x1x8xf32>, tensor<1x1x8xf32>, tensor<1x1x8xf32>) -> tensor<1x4x1x8xf32>
  return %a : tensor<1x4x1x8xf32>
}

// -----

func.func @rotary_kv_heads(%q: tensor<1x4x1x8xf32>, %k: tensor<1x4x1x8xf32>, %v: tensor<1x2x1x8xf32>, %c: tensor<1x1x4xf32>, %s: tensor<1x1x4xf32>) -> tensor<1x4x1x8xf32> {
  // expected-error @+1 {{k and v must have kv_heads = 2 heads}}
  %a = resa.rotary_cache_attention %q, %k, %v, %c, %s {num_heads = 4 : i64, kv_heads = 2 : i64, scale = 0.5 : f32, layout = "bhsd", layer = 0 : i64, rotary_dim = 8 : i64, interleaved = 0 : i64} : (tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32>, tensor<1x2x1x8xf32>, tensor<1x1x4xf32>, tensor<1x1x4xf32>) -> tensor<1x4x1x8xf32>
  return %a : tensor<1x4x1x8xf32>
}

// -----

// resa.rotary_cache_write: the rotated q is the result.
func.func @rotary_write_valid(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xf32>, %c: tensor<?x?x8xf32>) -> tensor<?x?x64xf32> {
  %r = resa.rotary_cache_write %q, %k, %k, %c, %c {num_heads = 4 : i64, kv_heads = 2 : i64, layout = "bsd", layer = 0 : i64, rotary_dim = 16 : i64, interleaved = 0 : i64} : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x64xf32>
  return %r : tensor<?x?x64xf32>
}

// -----

func.func @rotary_write_heads(%q: tensor<1x4x1x8xf32>, %k: tensor<1x4x1x8xf32>, %v: tensor<1x2x1x8xf32>, %c: tensor<1x1x4xf32>) -> tensor<1x4x1x8xf32> {
  // expected-error @+1 {{k and v must have kv_heads = 2 heads}}
  %r = resa.rotary_cache_write %q, %k, %v, %c, %c {num_heads = 4 : i64, kv_heads = 2 : i64, layout = "bhsd", layer = 0 : i64, rotary_dim = 8 : i64, interleaved = 0 : i64} : (tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32>, tensor<1x2x1x8xf32>, tensor<1x1x4xf32>, tensor<1x1x4xf32>) -> tensor<1x4x1x8xf32>
  return %r : tensor<1x4x1x8xf32>
}

// -----

func.func @rotary_write_odd_dim(%q: tensor<1x4x1x8xf32>, %k: tensor<1x2x1x8xf32>, %c: tensor<1x1x3xf32>) -> tensor<1x4x1x8xf32> {
  // expected-error @+1 {{rotary_dim must be positive and even, got 7}}
  %r = resa.rotary_cache_write %q, %k, %k, %c, %c {num_heads = 4 : i64, kv_heads = 2 : i64, layout = "bhsd", layer = 0 : i64, rotary_dim = 7 : i64, interleaved = 0 : i64} : (tensor<1x4x1x8xf32>, tensor<1x2x1x8xf32>, tensor<1x2x1x8xf32>, tensor<1x1x3xf32>, tensor<1x1x3xf32>) -> tensor<1x4x1x8xf32>
  return %r : tensor<1x4x1x8xf32>
}

// -----

func.func @rotary_write_result_type(%q: tensor<1x4x1x8xf32>, %k: tensor<1x2x1x8xf32>, %c: tensor<1x1x4xf32>) -> tensor<1x4x1x8xf16> {
  // expected-error @+1 {{result type must be x's type}}
  %r = resa.rotary_cache_write %q, %k, %k, %c, %c {num_heads = 4 : i64, kv_heads = 2 : i64, layout = "bhsd", layer = 0 : i64, rotary_dim = 8 : i64, interleaved = 0 : i64} : (tensor<1x4x1x8xf32>, tensor<1x2x1x8xf32>, tensor<1x2x1x8xf32>, tensor<1x1x4xf32>, tensor<1x1x4xf32>) -> tensor<1x4x1x8xf16>
  return %r : tensor<1x4x1x8xf16>
}
