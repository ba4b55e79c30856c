#include "AttentionLayout.h"

#include <string>

namespace resa {

AttentionLayout attentionLayout(const Shape &shape, const Attrs &attrs, const char *headsAttr,
                                const KVCache &cache) {
  AttentionLayout l;
  l.bhsd = attrs.getString("layout", "bhsd") == "bhsd";
  l.heads = attrs.requireInt(headsAttr);
  l.batch = shape.at(0);
  l.len = shape.at(l.bhsd ? 2 : 1);
  l.d = cache.config().headDim;
  if (l.batch != cache.batchSize())
    throw Error("the call has " + std::to_string(l.batch) + " rows but its KV-cache forward " +
                std::to_string(cache.batchSize()) + " sequences");
  if (numElements(shape) != l.batch * l.heads * l.len * l.d)
    throw Error("tensor " + shapeToString(shape) + " does not hold " + std::to_string(l.heads) +
                " heads of size " + std::to_string(l.d));
  return l;
}

void checkSelectedBlocks(DType dtype, const Shape &shape, int64_t batch, int64_t kvHeads) {
  if (dtype != DType::I32 || shape.size() != 2 || shape[0] != batch * kvHeads)
    throw Error("selected blocks must be int32 [batch * kv_heads, n], got " +
                shapeToString(shape));
}

} // namespace resa
