// Attention kernels: opset-23 Attention, com.microsoft.GroupQueryAttention
// and com.microsoft.MultiHeadAttention. All three convert their inputs to
// contiguous [B, H, S, D] buffers and share one scaled-dot-product core.
#include "Common.h"
#include "Ops.h"
#include "Rope.h"

#include <cmath>
#include <limits>

namespace resa::cpu {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

struct Dims {
  int64_t B, Hq, Hkv, S, T, D, Dv;
};

// out[b,h,i,:] = softmax(prepare(scale * q_i . k_j)) @ v, with query head h
// reading kv head h / (Hq / Hkv). prepare(b, h, i, row) edits the T scores
// in place (masks are -inf); a row with every score -inf yields zeros.
// post(b, h, i, probs) sees the probabilities.
template <typename Prepare, typename Post>
void attendCore(const float *q, const float *k, const float *v, float *out, const Dims &d, float scale,
                Prepare prepare, Post post) {
  std::vector<float> row(static_cast<size_t>(d.T));
  const int64_t group = d.Hq / d.Hkv;
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t h = 0; h < d.Hq; ++h) {
      const float *kh = k + (b * d.Hkv + h / group) * d.T * d.D;
      const float *vh = v + (b * d.Hkv + h / group) * d.T * d.Dv;
      for (int64_t i = 0; i < d.S; ++i) {
        const float *qi = q + ((b * d.Hq + h) * d.S + i) * d.D;
        for (int64_t j = 0; j < d.T; ++j) {
          float acc = 0;
          for (int64_t c = 0; c < d.D; ++c) acc += qi[c] * kh[j * d.D + c];
          row[j] = acc * scale;
        }
        prepare(b, h, i, row.data());
        float mx = kNegInf;
        for (float s : row) mx = std::max(mx, s);
        float *o = out + ((b * d.Hq + h) * d.S + i) * d.Dv;
        std::fill(o, o + d.Dv, 0.f);
        if (mx == kNegInf) {
          std::fill(row.begin(), row.end(), 0.f);
        } else {
          double sum = 0;
          for (float &s : row) {
            s = std::exp(s - mx);
            sum += s;
          }
          for (float &s : row) s = static_cast<float>(s / sum);
        }
        post(b, h, i, row.data());
        for (int64_t j = 0; j < d.T; ++j) {
          float p = row[j];
          if (p == 0.f) continue;
          const float *vj = vh + j * d.Dv;
          for (int64_t c = 0; c < d.Dv; ++c) o[c] += p * vj[c];
        }
      }
    }
}

// [B, S, H*D] (row stride `rowStride`, starting at column `col0`) to [B, H, S, D].
std::vector<float> toBNSH(const float *x, int64_t B, int64_t S, int64_t H, int64_t D, int64_t rowStride,
                          int64_t col0 = 0, const float *bias = nullptr) {
  std::vector<float> y(static_cast<size_t>(B * H * S * D));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < S; ++s)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t c = 0; c < D; ++c)
          y[((b * H + h) * S + s) * D + c] =
              x[(b * S + s) * rowStride + col0 + h * D + c] + (bias ? bias[h * D + c] : 0.f);
  return y;
}

// [B, H, S, D] to [B, S, H*D].
void fromBNSH(const float *x, float *y, int64_t B, int64_t H, int64_t S, int64_t D) {
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t s = 0; s < S; ++s)
        std::memcpy(y + ((b * S + s) * H + h) * D, x + ((b * H + h) * S + s) * D, sizeof(float) * D);
}

// present[b,h] = concat(past[b,h,:P], cur[b,h,:L]) along the sequence.
Tensor concatPast(const Tensor *past, const float *cur, int64_t B, int64_t H, int64_t L, int64_t D) {
  int64_t P = past ? past->dim(2) : 0;
  Tensor t(DType::F32, {B, H, P + L, D});
  for (int64_t bh = 0; bh < B * H; ++bh) {
    float *dst = t.data<float>() + bh * (P + L) * D;
    if (P) std::memcpy(dst, past->data<float>() + bh * P * D, sizeof(float) * P * D);
    std::memcpy(dst + P * D, cur + bh * L * D, sizeof(float) * L * D);
  }
  return t;
}

float softcapOf(float s, float cap) { return cap * std::tanh(s / cap); }

void requireF32(const char *op, const Tensor *t, const char *what) {
  if (t) requireDType(op, *t, DType::F32, what);
}

} // namespace

namespace k {

// ONNX Attention (opset 23). Q [B,Hq,S,D] | [B,S,Hq*D]; K [B,Hkv,L,D] |
// [B,L,Hkv*D]; V likewise with Dv; attn_mask bool (true = attend) or float
// (added), broadcast to [B,Hq,S,T] and -inf/false-padded when its last axis is
// shorter than T; past_key/past_value [B,Hkv,P,D]. is_causal aligns the mask
// bottom-right: query i sees keys j <= P + i. Order: scale*QK^T -> softcap ->
// + mask -> softmax (rows with no visible key give zeros).
RESA_KERNEL(Attention) {
  const char *op = "Attention";
  const Tensor &Q = args.required(0), &K = args.required(1), &V = args.required(2);
  const Tensor *mask = args.input(3), *pastK = args.input(4), *pastV = args.input(5);
  if (args.input(6)) fail(op, "nonpad_kv_seqlen is not supported");
  requireF32(op, &Q, "Q");
  requireF32(op, &K, "K");
  requireF32(op, &V, "V");
  requireF32(op, pastK, "past_key");
  requireF32(op, pastV, "past_value");
  if (!pastK != !pastV) fail(op, "past_key and past_value must be given together");
  const Attrs &at = attrsOf(args);
  if (Q.rank() != K.rank() || Q.rank() != V.rank() || (Q.rank() != 3 && Q.rank() != 4))
    fail(op, "Q, K and V must all be 3-D or all 4-D");
  bool threeD = Q.rank() == 3;
  Dims d{};
  d.B = Q.dim(0);
  std::vector<float> q, kNew, vNew;
  int64_t L;
  if (threeD) {
    d.Hq = at.getInt("q_num_heads", 0);
    d.Hkv = at.getInt("kv_num_heads", 0);
    if (d.Hq <= 0 || d.Hkv <= 0) fail(op, "3-D inputs need q_num_heads and kv_num_heads");
    if (Q.dim(2) % d.Hq || K.dim(2) % d.Hkv || V.dim(2) % d.Hkv) fail(op, "hidden sizes do not divide into heads");
    d.S = Q.dim(1);
    L = K.dim(1);
    d.D = Q.dim(2) / d.Hq;
    d.Dv = V.dim(2) / d.Hkv;
    if (K.dim(2) / d.Hkv != d.D) fail(op, "Q and K head sizes differ");
    if (V.dim(1) != L) fail(op, "K and V sequence lengths differ");
    q = toBNSH(Q.data<float>(), d.B, d.S, d.Hq, d.D, Q.dim(2));
    kNew = toBNSH(K.data<float>(), d.B, L, d.Hkv, d.D, K.dim(2));
    vNew = toBNSH(V.data<float>(), d.B, L, d.Hkv, d.Dv, V.dim(2));
  } else {
    d.Hq = Q.dim(1);
    d.Hkv = K.dim(1);
    d.S = Q.dim(2);
    L = K.dim(2);
    d.D = Q.dim(3);
    d.Dv = V.dim(3);
    if (K.dim(3) != d.D || V.dim(1) != d.Hkv || V.dim(2) != L) fail(op, "K/V shapes do not match Q");
    q.assign(Q.data<float>(), Q.data<float>() + Q.numel());
    kNew.assign(K.data<float>(), K.data<float>() + K.numel());
    vNew.assign(V.data<float>(), V.data<float>() + V.numel());
  }
  if (K.dim(0) != d.B || V.dim(0) != d.B) fail(op, "batch sizes differ");
  if (d.Hq % d.Hkv) fail(op, "q heads ", d.Hq, " not a multiple of kv heads ", d.Hkv);
  int64_t P = pastK ? pastK->dim(2) : 0;
  if (pastK && (pastK->shape() != Shape{d.B, d.Hkv, P, d.D} || pastV->shape() != Shape{d.B, d.Hkv, P, d.Dv}))
    fail(op, "past_key/past_value shapes do not match K/V");
  Tensor presentK = concatPast(pastK, kNew.data(), d.B, d.Hkv, L, d.D);
  Tensor presentV = concatPast(pastV, vNew.data(), d.B, d.Hkv, L, d.Dv);
  d.T = P + L;

  float scale = at.getFloat("scale", 0.f);
  if (!at.has("scale")) scale = 1.f / std::sqrt(static_cast<float>(d.D));
  float softcap = at.getFloat("softcap", 0.f);
  bool causal = at.getInt("is_causal", 0) != 0;
  int64_t qkMode = at.getInt("qk_matmul_output_mode", 0);

  // Mask: broadcast strides over [B, Hq, S, maskT]; columns >= maskT are masked.
  std::vector<int64_t> mst;
  int64_t maskT = d.T;
  if (mask) {
    if (mask->dtype() != DType::Bool && mask->dtype() != DType::F32) fail(op, "attn_mask must be bool or float32");
    if (mask->rank() < 1 || mask->rank() > 4) fail(op, "attn_mask must have rank 1 to 4");
    maskT = mask->dim(mask->rank() - 1);
    if (maskT > d.T) fail(op, "attn_mask last dimension ", maskT, " exceeds total sequence length ", d.T);
    Shape full{d.B, d.Hq, d.S, maskT};
    if (broadcastShapes(op, mask->shape(), full) != full)
      fail(op, "attn_mask of shape ", shapeToString(mask->shape()), " does not broadcast to ", shapeToString(full));
    mst = broadcastStrides(mask->shape(), full);
  }

  Tensor *qkOut = nullptr;
  Shape qkShape{d.B, d.Hq, d.S, d.T};
  if (args.numOutputs > 3) qkOut = &allocOutput(outputs, args, 3, DType::F32, qkShape);
  auto qkRow = [&](int64_t b, int64_t h, int64_t i) { return qkOut->data<float>() + ((b * d.Hq + h) * d.S + i) * d.T; };

  std::vector<float> out(static_cast<size_t>(d.B * d.Hq * d.S * d.Dv));
  attendCore(q.data(), presentK.data<float>(), presentV.data<float>(), out.data(), d, scale,
             [&](int64_t b, int64_t h, int64_t i, float *row) {
               if (qkOut && qkMode == 0) std::memcpy(qkRow(b, h, i), row, sizeof(float) * d.T);
               if (softcap > 0)
                 for (int64_t j = 0; j < d.T; ++j) row[j] = softcapOf(row[j], softcap);
               if (qkOut && qkMode == 2) std::memcpy(qkRow(b, h, i), row, sizeof(float) * d.T);
               for (int64_t j = 0; j < d.T; ++j) {
                 if (causal && j > P + i) row[j] = kNegInf;
                 if (!mask) continue;
                 if (j >= maskT) {
                   row[j] = kNegInf;
                   continue;
                 }
                 int64_t off = b * mst[0] + h * mst[1] + i * mst[2] + j * mst[3];
                 if (mask->dtype() == DType::Bool) {
                   if (!mask->data<Bool>()[off]) row[j] = kNegInf;
                 } else {
                   row[j] += mask->data<float>()[off];
                 }
               }
               if (qkOut && qkMode == 1) std::memcpy(qkRow(b, h, i), row, sizeof(float) * d.T);
             },
             [&](int64_t b, int64_t h, int64_t i, const float *probs) {
               if (qkOut && qkMode == 3) std::memcpy(qkRow(b, h, i), probs, sizeof(float) * d.T);
             });
  if (threeD) {
    Tensor &y = allocOutput(outputs, args, 0, DType::F32, {d.B, d.S, d.Hq * d.Dv});
    fromBNSH(out.data(), y.data<float>(), d.B, d.Hq, d.S, d.Dv);
  } else {
    Tensor &y = allocOutput(outputs, args, 0, DType::F32, {d.B, d.Hq, d.S, d.Dv});
    std::copy(out.begin(), out.end(), y.data<float>());
  }
  if (args.numOutputs > 1) setOutput(outputs, args, 1, presentK);
  if (args.numOutputs > 2) setOutput(outputs, args, 2, presentV);
}

// com.microsoft.GroupQueryAttention, following onnxruntime's CPU kernel:
// query [B,S,Hq*D] (or packed QKV when key is absent), key/value [B,S,Hkv*D],
// past_key/past_value [B,Hkv,Pbuf,D], seqlens_k[b] = total_b - 1 (int32),
// total_sequence_length (int32 scalar). First prompt (S == total): past_b = 0;
// otherwise past_b = total_b - S. Query i sees keys [0, past_b + i] (and only
// the last local_window_size + 1 of them when local_window_size > 0).
// present is [B,Hkv,max(total, Pbuf),D], zero beyond past_b + S.
RESA_KERNEL(ms_GroupQueryAttention) {
  const char *op = "com.microsoft.GroupQueryAttention";
  const Tensor &query = args.required(0);
  const Tensor *key = args.input(1), *value = args.input(2), *pastK = args.input(3), *pastV = args.input(4);
  const Tensor &seqlensK = args.required(5), &totalLen = args.required(6);
  const Tensor *cosC = args.input(7), *sinC = args.input(8), *posIds = args.input(9);
  if (args.input(10)) fail(op, "attention_bias is not supported");
  if (args.input(11)) fail(op, "head_sink is not supported");
  requireF32(op, &query, "query");
  requireF32(op, key, "key");
  requireF32(op, value, "value");
  requireF32(op, pastK, "past_key");
  requireF32(op, pastV, "past_value");
  const Attrs &at = attrsOf(args);
  Dims d{};
  d.Hq = at.requireInt("num_heads");
  d.Hkv = at.requireInt("kv_num_heads");
  if (d.Hq <= 0 || d.Hkv <= 0 || d.Hq % d.Hkv) fail(op, "num_heads must be a positive multiple of kv_num_heads");
  if (query.rank() != 3) fail(op, "query must be 3-D");
  d.B = query.dim(0);
  d.S = query.dim(1);
  bool packed = key == nullptr;
  if (packed != (value == nullptr)) fail(op, "key and value must both be present or both absent");
  d.D = query.dim(2) / (packed ? d.Hq + 2 * d.Hkv : d.Hq);
  d.Dv = d.D;
  if (!packed) {
    if (query.dim(2) != d.Hq * d.D) fail(op, "query hidden size does not divide into num_heads");
    Shape kv{d.B, d.S, d.Hkv * d.D};
    if (key->shape() != kv || value->shape() != kv)
      fail(op, "key/value must be ", shapeToString(kv), ", got ", shapeToString(key->shape()), " and ", shapeToString(value->shape()));
  } else if (query.dim(2) != (d.Hq + 2 * d.Hkv) * d.D) {
    fail(op, "packed query hidden size does not divide into heads");
  }
  if (!pastK != !pastV) fail(op, "past_key and past_value must be given together");
  int64_t pastBuf = pastK ? pastK->dim(2) : 0;
  if (pastK && (pastK->shape() != Shape{d.B, d.Hkv, pastBuf, d.D} || pastV->shape() != pastK->shape()))
    fail(op, "past_key/past_value must be [batch, kv_num_heads, past, head_size]");
  requireDType(op, seqlensK, DType::I32, "seqlens_k");
  if (seqlensK.numel() != d.B) fail(op, "seqlens_k must have batch_size elements");
  int64_t total = scalarAsInt(op, totalLen, "total_sequence_length");
  int64_t presentLen = std::max(total, pastBuf);
  bool subsequentPrompt = d.S > 1 && d.S != total;
  bool firstPrompt = !subsequentPrompt && d.S == total;
  if (!firstPrompt && !subsequentPrompt && d.S != 1) fail(op, "sequence_length must be 1 when it is not the prompt");
  std::vector<int64_t> pastLen(d.B), totalB(d.B);
  for (int64_t b = 0; b < d.B; ++b) {
    totalB[b] = seqlensK.data<int32_t>()[b] + 1;
    pastLen[b] = firstPrompt ? 0 : totalB[b] - d.S;
    if (pastLen[b] < 0 || pastLen[b] + d.S > presentLen)
      fail(op, "seqlens_k[", b, "] = ", totalB[b] - 1, " inconsistent with sequence length ", d.S, " and present length ", presentLen);
    if (pastLen[b] > pastBuf) fail(op, "seqlens_k[", b, "] needs more past than past_key holds");
  }

  int64_t row = query.dim(2);
  std::vector<float> q, kNew, vNew;
  if (packed) {
    q = toBNSH(query.data<float>(), d.B, d.S, d.Hq, d.D, row, 0);
    kNew = toBNSH(query.data<float>(), d.B, d.S, d.Hkv, d.D, row, d.Hq * d.D);
    vNew = toBNSH(query.data<float>(), d.B, d.S, d.Hkv, d.D, row, (d.Hq + d.Hkv) * d.D);
  } else {
    q = toBNSH(query.data<float>(), d.B, d.S, d.Hq, d.D, row);
    kNew = toBNSH(key->data<float>(), d.B, d.S, d.Hkv, d.D, d.Hkv * d.D);
    vNew = toBNSH(value->data<float>(), d.B, d.S, d.Hkv, d.D, d.Hkv * d.D);
  }

  if (at.getInt("do_rotary", 0) != 0) {
    if (!cosC || !sinC) fail(op, "do_rotary needs cos_cache and sin_cache");
    requireF32(op, cosC, "cos_cache");
    requireF32(op, sinC, "sin_cache");
    if (cosC->rank() != 2 || cosC->shape() != sinC->shape()) fail(op, "cos_cache/sin_cache must be 2-D and equal in shape");
    int64_t half = cosC->dim(1), rot = 2 * half;
    if (rot > d.D) fail(op, "rotary dimension ", rot, " exceeds head size ", d.D);
    bool inter = at.getInt("rotary_interleaved", 0) != 0;
    std::vector<int64_t> pids = posIds ? intsInput(op, posIds) : std::vector<int64_t>{};
    if (posIds && static_cast<int64_t>(pids.size()) != d.B * d.S) fail(op, "position_ids must be [batch, sequence]");
    auto posOf = [&](int64_t b, int64_t s) {
      int64_t p = posIds ? pids[b * d.S + s] : pastLen[b] + s;
      if (!posIds && firstPrompt && s >= totalB[b]) p = 1; // padding, as onnxruntime
      if (p < 0 || p >= cosC->dim(0)) fail(op, "position ", p, " outside the rotary cache of ", cosC->dim(0), " rows");
      return p;
    };
    auto rope = [&](std::vector<float> &x, int64_t H) {
      for (int64_t b = 0; b < d.B; ++b)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t s = 0; s < d.S; ++s) {
            float *v = x.data() + ((b * H + h) * d.S + s) * d.D;
            int64_t p = posOf(b, s);
            ropeApply(v, v, d.D, rot, cosC->data<float>() + p * half, sinC->data<float>() + p * half, inter);
          }
    };
    rope(q, d.Hq);
    rope(kNew, d.Hkv);
  }

  Tensor presentK(DType::F32, {d.B, d.Hkv, presentLen, d.D}), presentV(DType::F32, {d.B, d.Hkv, presentLen, d.D});
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t h = 0; h < d.Hkv; ++h) {
      int64_t bh = b * d.Hkv + h;
      for (auto [present, past, cur] : {std::tuple{&presentK, pastK, &kNew}, std::tuple{&presentV, pastV, &vNew}}) {
        float *dst = present->data<float>() + bh * presentLen * d.D;
        if (pastLen[b]) std::memcpy(dst, past->data<float>() + bh * pastBuf * d.D, sizeof(float) * pastLen[b] * d.D);
        std::memcpy(dst + pastLen[b] * d.D, cur->data() + bh * d.S * d.D, sizeof(float) * d.S * d.D);
      }
    }

  d.T = presentLen;
  float scale = at.getFloat("scale", 0.f);
  if (scale == 0.f) scale = 1.f / std::sqrt(static_cast<float>(d.D));
  float softcap = at.getFloat("softcap", 0.f);
  int64_t window = at.getInt("local_window_size", -1);
  std::vector<float> out(static_cast<size_t>(d.B * d.Hq * d.S * d.D));
  attendCore(q.data(), presentK.data<float>(), presentV.data<float>(), out.data(), d, scale,
             [&](int64_t b, int64_t, int64_t i, float *r) {
               int64_t last = pastLen[b] + i; // newest visible key
               int64_t first = window > 0 ? std::max<int64_t>(0, last - window + 1) : 0;
               for (int64_t j = 0; j < d.T; ++j) {
                 if (j < first || j > last) r[j] = kNegInf;
                 else if (softcap > 0) r[j] = softcapOf(r[j], softcap);
               }
             },
             [](int64_t, int64_t, int64_t, const float *) {});
  Tensor &y = allocOutput(outputs, args, 0, DType::F32, {d.B, d.S, d.Hq * d.D});
  fromBNSH(out.data(), y.data<float>(), d.B, d.Hq, d.S, d.D);
  setOutput(outputs, args, 1, presentK);
  setOutput(outputs, args, 2, presentV);
}

// com.microsoft.MultiHeadAttention (unpacked inputs): query [B,S,N*H];
// key/value [B,L,N*H] (projected, concatenated after past_key/past_value
// [B,N,P,H]) or [B,N,L,H] (used as is); bias [3*N*H] added to q/k/v when
// k/v are 3-D; key_padding_mask int32 [B] (valid lengths), [B,T] or [B,S,T]
// (0 = masked); attention_bias float broadcast to [B,N,S,T]. Masked and
// future (unidirectional) keys get mask_filter_value added, as onnxruntime.
RESA_KERNEL(ms_MultiHeadAttention) {
  const char *op = "com.microsoft.MultiHeadAttention";
  const Tensor &query = args.required(0);
  const Tensor *key = args.input(1), *value = args.input(2), *bias = args.input(3);
  const Tensor *padMask = args.input(4), *attnBias = args.input(5), *pastK = args.input(6), *pastV = args.input(7);
  requireF32(op, &query, "query");
  if (!key || !value) fail(op, "packed QKV/KV inputs are not supported; give key and value");
  requireF32(op, key, "key");
  requireF32(op, value, "value");
  requireF32(op, bias, "bias");
  requireF32(op, attnBias, "attention_bias");
  requireF32(op, pastK, "past_key");
  requireF32(op, pastV, "past_value");
  const Attrs &at = attrsOf(args);
  Dims d{};
  d.Hq = d.Hkv = at.requireInt("num_heads");
  if (query.rank() != 3) fail(op, "query must be 3-D");
  d.B = query.dim(0);
  d.S = query.dim(1);
  if (d.Hq <= 0 || query.dim(2) % d.Hq) fail(op, "query hidden size does not divide into num_heads");
  d.D = query.dim(2) / d.Hq;
  const float *bq = bias ? bias->data<float>() : nullptr;
  std::vector<float> q = toBNSH(query.data<float>(), d.B, d.S, d.Hq, d.D, query.dim(2), 0, bq);
  Tensor presentK, presentV;
  if (key->rank() == 3) {
    if (value->rank() != 3 || key->dim(0) != d.B || value->dim(1) != key->dim(1) || key->dim(2) != query.dim(2))
      fail(op, "key/value shapes ", shapeToString(key->shape()), ", ", shapeToString(value->shape()), " do not match query");
    int64_t L = key->dim(1);
    d.Dv = value->dim(2) / d.Hq;
    if (bias && bias->numel() != 2 * query.dim(2) + value->dim(2)) fail(op, "bias must have 2*hidden + v_hidden elements");
    std::vector<float> k = toBNSH(key->data<float>(), d.B, L, d.Hq, d.D, key->dim(2), 0, bq ? bq + query.dim(2) : nullptr);
    std::vector<float> v = toBNSH(value->data<float>(), d.B, L, d.Hq, d.Dv, value->dim(2), 0, bq ? bq + 2 * query.dim(2) : nullptr);
    if (!pastK != !pastV) fail(op, "past_key and past_value must be given together");
    if (pastK && (pastK->rank() != 4 || pastK->dim(0) != d.B || pastK->dim(1) != d.Hq || pastK->dim(3) != d.D))
      fail(op, "past_key must be [batch, num_heads, past, head_size]");
    presentK = concatPast(pastK, k.data(), d.B, d.Hq, L, d.D);
    presentV = concatPast(pastV, v.data(), d.B, d.Hq, L, d.Dv);
  } else if (key->rank() == 4) {
    if (key->dim(0) != d.B || key->dim(1) != d.Hq || key->dim(3) != d.D || value->rank() != 4)
      fail(op, "4-D key/value must be [batch, num_heads, kv_sequence, head_size]");
    presentK = *key;
    presentV = *value;
    d.Dv = value->dim(3);
  } else {
    fail(op, "key must be 3-D or 4-D");
  }
  d.T = presentK.dim(2);
  int64_t P = d.T - (key->rank() == 3 ? key->dim(1) : d.T);
  float scale = at.getFloat("scale", 0.f);
  if (scale == 0.f) scale = 1.f / std::sqrt(static_cast<float>(d.D));
  float filter = at.getFloat("mask_filter_value", -10000.f);
  bool causal = at.getInt("unidirectional", 0) != 0;

  std::vector<int64_t> bst;
  if (attnBias) {
    Shape full{d.B, d.Hq, d.S, d.T};
    if (attnBias->rank() != 4 || broadcastShapes(op, attnBias->shape(), full) != full)
      fail(op, "attention_bias of shape ", shapeToString(attnBias->shape()), " does not broadcast to ", shapeToString(full));
    bst = broadcastStrides(attnBias->shape(), full);
  }
  if (padMask && padMask->dtype() != DType::I32) fail(op, "key_padding_mask must be int32");
  auto masked = [&](int64_t b, int64_t i, int64_t j) {
    if (!padMask) return false;
    const int32_t *m = padMask->data<int32_t>();
    if (padMask->shape() == Shape{d.B}) return j >= m[b];
    if (padMask->shape() == Shape{d.B, d.T}) return m[b * d.T + j] == 0;
    if (padMask->shape() == Shape{d.B, d.S, d.T}) return m[(b * d.S + i) * d.T + j] == 0;
    fail(op, "unsupported key_padding_mask shape ", shapeToString(padMask->shape()));
  };
  std::vector<float> out(static_cast<size_t>(d.B * d.Hq * d.S * d.Dv));
  attendCore(q.data(), presentK.data<float>(), presentV.data<float>(), out.data(), d, scale,
             [&](int64_t b, int64_t h, int64_t i, float *r) {
               for (int64_t j = 0; j < d.T; ++j) {
                 if (attnBias) r[j] += attnBias->data<float>()[b * bst[0] + h * bst[1] + i * bst[2] + j * bst[3]];
                 if (masked(b, i, j)) r[j] += filter;
                 if (causal && j > P + i) r[j] += filter;
               }
             },
             [](int64_t, int64_t, int64_t, const float *) {});
  Tensor &y = allocOutput(outputs, args, 0, DType::F32, {d.B, d.S, d.Hq * d.Dv});
  fromBNSH(out.data(), y.data<float>(), d.B, d.Hq, d.S, d.Dv);
  if (args.numOutputs > 1) setOutput(outputs, args, 1, presentK);
  if (args.numOutputs > 2) setOutput(outputs, args, 2, presentV);
}

} // namespace k
} // namespace resa::cpu
