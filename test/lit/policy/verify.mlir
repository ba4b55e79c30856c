// Verifiers of resa.rectification_schedule (positive interval and window, window <= interval, an existing function, at module level) and resa.block_select (kept_ratio in [0, 1], counts not negative, heads a positive multiple of KV heads).
// RUN: resa-opt %s --split-input-file -verify-diagnostics | FileCheck %s

// Valid ops print back as written (window may be shorter than the interval).
// CHECK-LABEL: func.func @rectify(
// CHECK: resa.block_select %{{.*}} {kept_ratio = 0.000000e+00 : f32, kv_heads = 2 : i64, layer = 3 : i64, layout = "bhsd", local_blocks = 0 : i64, min_blocks = 0 : i64, num_heads = 8 : i64, scale = 1.250000e-01 : f32} : (tensor<1x8x1x64xf32>) -> tensor<2x?xi32>
// CHECK: resa.block_select %{{.*}} {kept_ratio = 1.000000e+00 : f32, {{.*}}num_heads = 2 : i64
// CHECK: resa.rectification_schedule @rectify every 32 steps window 16{{$}}
func.func @rectify(%q: tensor<1x8x1x64xf32>, %q2: tensor<1x1x128xf32>) {
  %b = resa.block_select %q {kept_ratio = 0.0 : f32, kv_heads = 2 : i64, layer = 3 : i64, layout = "bhsd", local_blocks = 0 : i64, min_blocks = 0 : i64, num_heads = 8 : i64, scale = 0.125 : f32} : (tensor<1x8x1x64xf32>) -> tensor<2x?xi32>
  %c = resa.block_select %q2 {kept_ratio = 1.0 : f32, kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd", local_blocks = 1 : i64, min_blocks = 16 : i64, num_heads = 2 : i64, scale = 0.125 : f32} : (tensor<1x1x128xf32>) -> tensor<2x?xi32>
  return
}
resa.rectification_schedule @rectify every 32 steps window 16

// -----

func.func @rectify() {
  return
}
// expected-error @+1 {{'resa.rectification_schedule' op interval and window must be positive, got 0 and 0}}
resa.rectification_schedule @rectify every 0 steps window 0

// -----

func.func @rectify() {
  return
}
// expected-error @+1 {{'resa.rectification_schedule' op interval and window must be positive, got -4 and 2}}
resa.rectification_schedule @rectify every -4 steps window 2

// -----

func.func @rectify() {
  return
}
// expected-error @+1 {{'resa.rectification_schedule' op interval and window must be positive, got 8 and -1}}
resa.rectification_schedule @rectify every 8 steps window -1

// -----

func.func @rectify() {
  return
}
// expected-error @+1 {{'resa.rectification_schedule' op window 33 exceeds interval 32: it would re-encode tokens that the previous rectification already did}}
resa.rectification_schedule @rectify every 32 steps window 33

// -----

func.func @decode() {
  return
}
// expected-error @+1 {{'resa.rectification_schedule' op function @rectify does not exist}}
resa.rectification_schedule @rectify every 32 steps window 32

// -----

func.func @rectify() {
  // expected-error @+1 {{'resa.rectification_schedule' op expects parent op 'builtin.module'}}
  resa.rectification_schedule @rectify every 32 steps window 32
  return
}

// -----

func.func @f(%q: tensor<1x1x64xf32>) {
  // expected-error @+1 {{'resa.block_select' op kept_ratio must be in [0, 1], got -1.000000e-01}}
  %b = resa.block_select %q {kept_ratio = -0.1 : f32, kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd", local_blocks = 1 : i64, min_blocks = 16 : i64, num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x1x64xf32>) -> tensor<2x?xi32>
  return
}

// -----

func.func @f(%q: tensor<1x1x64xf32>) {
  // expected-error @+1 {{'resa.block_select' op kept_ratio must be in [0, 1], got 1.500000e+00}}
  %b = resa.block_select %q {kept_ratio = 1.5 : f32, kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd", local_blocks = 1 : i64, min_blocks = 16 : i64, num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x1x64xf32>) -> tensor<2x?xi32>
  return
}

// -----

func.func @f(%q: tensor<1x1x64xf32>) {
  // expected-error @+1 {{'resa.block_select' op kept_ratio must be in [0, 1], got nan}}
  %b = resa.block_select %q {kept_ratio = 0x7FC00000 : f32, kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd", local_blocks = 1 : i64, min_blocks = 16 : i64, num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x1x64xf32>) -> tensor<2x?xi32>
  return
}

// -----

func.func @f(%q: tensor<1x1x64xf32>) {
  // expected-error @+1 {{'resa.block_select' op min_blocks and local_blocks must not be negative}}
  %b = resa.block_select %q {kept_ratio = 0.1 : f32, kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd", local_blocks = 1 : i64, min_blocks = -1 : i64, num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x1x64xf32>) -> tensor<2x?xi32>
  return
}

// -----

func.func @f(%q: tensor<1x1x64xf32>) {
  // expected-error @+1 {{'resa.block_select' op min_blocks and local_blocks must not be negative}}
  %b = resa.block_select %q {kept_ratio = 0.1 : f32, kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd", local_blocks = -1 : i64, min_blocks = 16 : i64, num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x1x64xf32>) -> tensor<2x?xi32>
  return
}

// -----

func.func @f(%q: tensor<1x1x64xf32>) {
  // expected-error @+1 {{'resa.block_select' op num_heads must be a positive multiple of kv_heads}}
  %b = resa.block_select %q {kept_ratio = 0.1 : f32, kv_heads = 4 : i64, layer = 0 : i64, layout = "bsd", local_blocks = 1 : i64, min_blocks = 16 : i64, num_heads = 6 : i64, scale = 0.25 : f32} : (tensor<1x1x64xf32>) -> tensor<4x?xi32>
  return
}

// -----

func.func @f(%q: tensor<1x1x64xf32>) {
  // expected-error @+1 {{'resa.block_select' op num_heads must be a positive multiple of kv_heads}}
  %b = resa.block_select %q {kept_ratio = 0.1 : f32, kv_heads = 0 : i64, layer = 0 : i64, layout = "bsd", local_blocks = 1 : i64, min_blocks = 16 : i64, num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x1x64xf32>) -> tensor<0x?xi32>
  return
}

// -----

func.func @f(%q: tensor<1x1x64xf32>) {
  // expected-error @+1 {{'resa.block_select' op num_heads must be a positive multiple of kv_heads}}
  %b = resa.block_select %q {kept_ratio = 0.1 : f32, kv_heads = -2 : i64, layer = 0 : i64, layout = "bsd", local_blocks = 1 : i64, min_blocks = 16 : i64, num_heads = -4 : i64, scale = 0.25 : f32} : (tensor<1x1x64xf32>) -> tensor<2x?xi32>
  return
}
