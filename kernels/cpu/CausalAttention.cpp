// resa.attention: the causal, grouped-KV attention that the raising passes
// produce (see dialects/resa/ResaOps.td), computed exactly in double.
#include "Common.h"
#include "Ops.h"

#include <cmath>

namespace resa::cpu::k {
namespace {

// Element offset of (batch b, head h, position s, 0) in a tensor of the
// given layout with `heads` heads of size d and length `len`.
int64_t at(bool bhsd, int64_t b, int64_t h, int64_t s, int64_t heads, int64_t len, int64_t d) {
  return bhsd ? ((b * heads + h) * len + s) * d : (b * len + s) * heads * d + h * d;
}

} // namespace

RESA_KERNEL(resa_attention) {
  const char *op = "resa.attention";
  const Tensor &q = args.required(0), &k = args.required(1), &v = args.required(2);
  int64_t heads = args.attrs->requireInt("num_heads");
  int64_t kvHeads = args.attrs->requireInt("kv_heads");
  std::string layout = args.attrs->getString("layout", "bhsd");
  bool bhsd = layout == "bhsd";
  if (!bhsd && layout != "bsd")
    fail(op, "layout must be bhsd or bsd, got ", layout);
  if (q.dtype() != DType::F32 || k.dtype() != DType::F32 || v.dtype() != DType::F32)
    fail(op, "takes float32 q, k and v");
  int64_t rank = bhsd ? 4 : 3;
  if (q.rank() != rank || k.rank() != rank || v.rank() != rank)
    fail(op, "layout ", layout, " takes rank-", rank, " q, k and v");
  if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
    fail(op, "num_heads ", heads, " is not a positive multiple of kv_heads ", kvHeads);
  int64_t batch = q.dim(0), len = q.dim(bhsd ? 2 : 1);
  int64_t d = bhsd ? q.dim(3) : q.dim(2) / heads;
  int64_t dv = bhsd ? v.dim(3) : v.dim(2) / kvHeads;
  if (k.dim(0) != batch || v.dim(0) != batch || k.dim(bhsd ? 2 : 1) != len ||
      v.dim(bhsd ? 2 : 1) != len || (bhsd ? q.dim(1) != heads || k.dim(1) != kvHeads ||
                                                v.dim(1) != kvHeads || k.dim(3) != d
                                          : q.dim(2) != heads * d || k.dim(2) != kvHeads * d))
    fail(op, "q ", shapeToString(q.shape()), ", k ", shapeToString(k.shape()), " and v ",
         shapeToString(v.shape()), " do not fit ", heads, " query and ", kvHeads, " KV heads");
  double scale = args.attrs->getFloat("scale", 0.0f);
  if (scale == 0.0)
    scale = 1.0 / std::sqrt(double(d));
  Shape outShape = bhsd ? Shape{batch, heads, len, dv} : Shape{batch, len, heads * dv};
  Tensor out(DType::F32, outShape);
  const float *qp = q.data<float>(), *kp = k.data<float>(), *vp = v.data<float>();
  float *op_ = out.data<float>();
  int64_t group = heads / kvHeads;
  std::vector<double> w(static_cast<size_t>(len)), acc(static_cast<size_t>(dv));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < len; ++i) {
        const float *qi = qp + at(bhsd, b, h, i, heads, len, d);
        double maxScore = -INFINITY;
        for (int64_t j = 0; j <= i; ++j) { // causal: keys 0..i
          const float *kj = kp + at(bhsd, b, h / group, j, kvHeads, len, d);
          double dot = 0;
          for (int64_t x = 0; x < d; ++x)
            dot += double(qi[x]) * kj[x];
          w[j] = dot * scale;
          maxScore = std::max(maxScore, w[j]);
        }
        double total = 0;
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t j = 0; j <= i; ++j) {
          double p = std::exp(w[j] - maxScore);
          total += p;
          const float *vj = vp + at(bhsd, b, h / group, j, kvHeads, len, dv);
          for (int64_t x = 0; x < dv; ++x)
            acc[x] += p * vj[x];
        }
        float *o = op_ + at(bhsd, b, h, i, heads, len, dv);
        for (int64_t x = 0; x < dv; ++x)
          o[x] = static_cast<float>(acc[x] / total);
      }
  outputs.clear();
  outputs.push_back(out);
}

} // namespace resa::cpu::k
