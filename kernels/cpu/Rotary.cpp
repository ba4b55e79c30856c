// Rotary embeddings: opset-23 RotaryEmbedding and com.microsoft.RotaryEmbedding.
#include "Common.h"
#include "Ops.h"
#include "Rope.h"

namespace resa::cpu {
namespace {

// Layout of the rotated input: element (b, s, h, d) lives at
// b*sb + s*ss + h*sh + d, for either [B,S,H*D] or [B,H,S,D].
struct HeadLayout {
  int64_t B, S, H, D, sb, ss, sh;
};

HeadLayout layoutOf(const char *op, const Tensor &x, int64_t numHeads, int64_t headSizeHint) {
  HeadLayout l{};
  if (x.rank() == 4) { // [B, H, S, D]
    l = {x.dim(0), x.dim(2), x.dim(1), x.dim(3), 0, 0, 0};
    l.sb = l.H * l.S * l.D;
    l.sh = l.S * l.D;
    l.ss = l.D;
  } else if (x.rank() == 3) { // [B, S, H*D]
    int64_t hidden = x.dim(2);
    if (numHeads <= 0 && headSizeHint > 0) numHeads = hidden / headSizeHint;
    if (numHeads <= 0 || hidden % numHeads != 0)
      fail(op, "cannot split hidden size ", hidden, " into heads (num_heads = ", numHeads, ")");
    l = {x.dim(0), x.dim(1), numHeads, hidden / numHeads, 0, 0, 0};
    l.sb = l.S * hidden;
    l.ss = hidden;
    l.sh = l.D;
  } else {
    fail(op, "input must be 3-D or 4-D, got shape ", shapeToString(x.shape()));
  }
  return l;
}

// Applies the rotation with cos/sin rows chosen by row(b, s) -> pointer offset.
template <typename RowOf>
void rotate(const Tensor &x, Tensor &y, const HeadLayout &l, int64_t rotDim, const float *cos, const float *sin,
            bool interleaved, RowOf rowOf) {
  const float *px = x.data<float>();
  float *py = y.data<float>();
  for (int64_t b = 0; b < l.B; ++b)
    for (int64_t s = 0; s < l.S; ++s) {
      int64_t row = rowOf(b, s);
      for (int64_t h = 0; h < l.H; ++h) {
        int64_t off = b * l.sb + s * l.ss + h * l.sh;
        ropeApply(px + off, py + off, l.D, rotDim, cos + row, sin + row, interleaved);
      }
    }
}

void checkCaches(const char *op, const Tensor &cos, const Tensor &sin) {
  requireDType(op, cos, DType::F32, "cos_cache");
  requireDType(op, sin, DType::F32, "sin_cache");
  if (cos.shape() != sin.shape()) fail(op, "cos_cache and sin_cache shapes differ");
}

} // namespace

namespace k {

// ONNX RotaryEmbedding-23: X [B,H,S,D] or [B,S,H*D], cos/sin [maxPos, R/2]
// indexed by position_ids [B,S], or [B,S,R/2] without position_ids.
RESA_KERNEL(RotaryEmbedding) {
  const char *op = "RotaryEmbedding";
  const Tensor &x = args.required(0), &cos = args.required(1), &sin = args.required(2);
  const Tensor *pos = args.input(3);
  requireDType(op, x, DType::F32, "X");
  checkCaches(op, cos, sin);
  const Attrs &at = attrsOf(args);
  HeadLayout l = layoutOf(op, x, at.getInt("num_heads", 0), 0);
  int64_t rot = at.getInt("rotary_embedding_dim", 0);
  if (rot == 0) rot = l.D;
  if (rot > l.D || rot % 2) fail(op, "rotary_embedding_dim ", rot, " invalid for head size ", l.D);
  int64_t half = rot / 2;
  if (cos.rank() < 1 || cos.dim(cos.rank() - 1) != half)
    fail(op, "cos_cache last dimension must be rotary_embedding_dim/2 = ", half, ", got ", shapeToString(cos.shape()));
  Tensor &y = allocOutput(outputs, args, 0, DType::F32, x.shape());
  bool inter = at.getInt("interleaved", 0) != 0;
  if (pos) {
    if (pos->numel() != l.B * l.S) fail(op, "position_ids must have shape [batch, sequence]");
    if (cos.rank() != 2) fail(op, "cos_cache must be 2-D with position_ids");
    std::vector<int64_t> p = pos->toInts();
    for (int64_t v : p)
      if (v < 0 || v >= cos.dim(0)) fail(op, "position id ", v, " outside the cache of ", cos.dim(0), " rows");
    rotate(x, y, l, rot, cos.data<float>(), sin.data<float>(), inter,
           [&](int64_t b, int64_t s) { return p[b * l.S + s] * half; });
  } else {
    if (cos.shape() != Shape{l.B, l.S, half}) fail(op, "without position_ids cos_cache must be [batch, sequence, rotary_dim/2]");
    rotate(x, y, l, rot, cos.data<float>(), sin.data<float>(), inter,
           [&](int64_t b, int64_t s) { return (b * l.S + s) * half; });
  }
}

// com.microsoft.RotaryEmbedding: input, position_ids ([B,S], or one offset
// for positions offset + s), cos_cache, sin_cache [maxPos, R/2].
RESA_KERNEL(ms_RotaryEmbedding) {
  const char *op = "com.microsoft.RotaryEmbedding";
  const Tensor &x = args.required(0), &pos = args.required(1), &cos = args.required(2), &sin = args.required(3);
  requireDType(op, x, DType::F32, "input");
  checkCaches(op, cos, sin);
  if (cos.rank() != 2) fail(op, "cos_cache must be 2-D");
  const Attrs &at = attrsOf(args);
  if (at.getInt("is_packed_batching", 0) != 0) fail(op, "is_packed_batching is not supported");
  int64_t rot = at.getInt("rotary_embedding_dim", 0);
  int64_t numHeads = at.getInt("num_heads", 0);
  HeadLayout l = layoutOf(op, x, numHeads, rot == 0 ? cos.dim(1) * 2 : 0);
  if (rot == 0) rot = l.D;
  int64_t half = rot / 2;
  if (rot > l.D || rot % 2 || cos.dim(1) != half)
    fail(op, "rotary dim ", rot, " does not fit head size ", l.D, " and cos_cache ", shapeToString(cos.shape()));
  std::vector<int64_t> p = intsInput(op, &pos);
  bool offsetOnly = p.size() == 1 && l.B * l.S != 1;
  if (!offsetOnly && static_cast<int64_t>(p.size()) != l.B * l.S) fail(op, "position_ids must be [batch, sequence] or one offset");
  auto posOf = [&](int64_t b, int64_t s) {
    int64_t v = offsetOnly ? p[0] + s : p[b * l.S + s];
    if (v < 0 || v >= cos.dim(0)) fail(op, "position id ", v, " outside the cache of ", cos.dim(0), " rows");
    return v;
  };
  Tensor &y = allocOutput(outputs, args, 0, DType::F32, x.shape());
  rotate(x, y, l, rot, cos.data<float>(), sin.data<float>(), at.getInt("interleaved", 0) != 0,
         [&](int64_t b, int64_t s) { return posOf(b, s) * half; });
}

} // namespace k
} // namespace resa::cpu
