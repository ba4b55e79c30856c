// Shapes and index maps shared with the CUDA kernels (resa/kernels/OpShapes.h).
#include "resa/kernels/OpShapes.h"

#include "Common.h"

#include <algorithm>

namespace resa {

using cpu::attrsOf;
using cpu::fail;
using cpu::intsInput;

int64_t normAxis(const char *op, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank) fail(op, "axis ", axis, " out of range for rank ", rank);
  return axis < 0 ? axis + rank : axis;
}

std::vector<int64_t> normAxes(const char *op, const std::vector<int64_t> &axes, int64_t rank) {
  std::vector<int64_t> out;
  for (int64_t a : axes) {
    int64_t n = normAxis(op, a, rank);
    for (int64_t o : out)
      if (o == n) fail(op, "axis ", a, " repeated");
    out.push_back(n);
  }
  return out;
}

std::vector<int64_t> stridesOf(const Shape &s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

Shape broadcastShapes(const char *op, const Shape &a, const Shape &b) {
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da == db || db == 1) out[i] = da;
    else if (da == 1) out[i] = db;
    else fail(op, "shapes ", shapeToString(a), " and ", shapeToString(b), " are not broadcastable");
  }
  return out;
}

std::vector<int64_t> broadcastStrides(const Shape &in, const Shape &out) {
  std::vector<int64_t> st(out.size(), 0);
  std::vector<int64_t> inSt = stridesOf(in);
  size_t lead = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i)
    st[lead + i] = in[i] == 1 ? 0 : inSt[i];
  return st;
}

// ---- view ops ---------------------------------------------------------------

namespace {

// Axes of Squeeze/Unsqueeze: input 1 since opset 13, attribute before.
std::vector<int64_t> squeezeAxes(const KernelArgs &args) {
  return args.opset >= 13 ? intsInput("axes", args.input(1)) : attrsOf(args).getInts("axes");
}

int64_t rankOf(const Shape &s) { return static_cast<int64_t>(s.size()); }

} // namespace

Shape reshapeShape(const Shape &in, const KernelArgs &args) {
  const char *op = "Reshape";
  const int64_t rank = rankOf(in), numel = numElements(in);
  std::vector<int64_t> req = args.opset >= 5 ? intsInput(op, &args.required(1)) : attrsOf(args).getInts("shape");
  bool allowZero = attrsOf(args).getInt("allowzero", 0) != 0;
  Shape out(req.size());
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < req.size(); ++i) {
    int64_t d = req[i];
    if (d == 0 && !allowZero) {
      if (static_cast<int64_t>(i) >= rank) fail(op, "0 at position ", i, " copies a dimension the input lacks");
      d = in[i];
    }
    if (d == -1) {
      if (infer >= 0) fail(op, "more than one -1 in shape");
      infer = static_cast<int64_t>(i);
      continue;
    }
    if (d < 0) fail(op, "invalid dimension ", d);
    out[i] = d;
    known *= d;
  }
  if (infer >= 0) {
    if (known == 0 || numel % known != 0)
      fail(op, "cannot infer -1 reshaping ", shapeToString(in), " to ", shapeToString(req));
    out[static_cast<size_t>(infer)] = numel / known;
  }
  if (numElements(out) != numel) fail(op, "cannot reshape ", shapeToString(in), " to ", shapeToString(req));
  return out;
}

Shape squeezeShape(const Shape &in, const KernelArgs &args) {
  const char *op = "Squeeze";
  std::vector<int64_t> axes = normAxes(op, squeezeAxes(args), rankOf(in));
  Shape out;
  for (int64_t i = 0; i < rankOf(in); ++i) {
    bool listed = std::find(axes.begin(), axes.end(), i) != axes.end();
    if (listed && in[i] != 1) fail(op, "cannot squeeze axis ", i, " of size ", in[i]);
    if (axes.empty() ? in[i] != 1 : !listed) out.push_back(in[i]);
  }
  return out;
}

Shape unsqueezeShape(const Shape &in, const KernelArgs &args) {
  const char *op = "Unsqueeze";
  std::vector<int64_t> axes = squeezeAxes(args);
  if (axes.empty()) fail(op, "axes are required");
  int64_t r = rankOf(in) + static_cast<int64_t>(axes.size());
  axes = normAxes(op, axes, r);
  Shape out;
  size_t j = 0;
  for (int64_t i = 0; i < r; ++i) {
    if (std::find(axes.begin(), axes.end(), i) != axes.end()) out.push_back(1);
    else out.push_back(in[j++]);
  }
  return out;
}

Shape flattenShape(const Shape &in, const KernelArgs &args) {
  int64_t axis = attrsOf(args).getInt("axis", 1);
  if (axis < 0) axis += rankOf(in);
  if (axis < 0 || axis > rankOf(in)) fail("Flatten", "axis ", attrsOf(args).getInt("axis", 1), " out of range");
  int64_t a = 1, b = 1;
  for (int64_t i = 0; i < rankOf(in); ++i) (i < axis ? a : b) *= in[i];
  return {a, b};
}

// ---- strided copies -----------------------------------------------------------

StridedView expandView(const Shape &in, const KernelArgs &args) {
  const char *op = "Expand";
  Shape shape = broadcastShapes(op, in, intsInput(op, &args.required(1)));
  return {shape, broadcastStrides(in, shape), 0};
}

StridedView transposeView(const Shape &in, const KernelArgs &args) {
  const char *op = "Transpose";
  const int64_t rank = rankOf(in);
  std::vector<int64_t> perm = attrsOf(args).getInts("perm");
  if (perm.empty())
    for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
  if (static_cast<int64_t>(perm.size()) != rank) fail(op, "perm has ", perm.size(), " entries for rank ", rank);
  perm = normAxes(op, perm, rank);
  std::vector<int64_t> inSt = stridesOf(in);
  StridedView v;
  for (int64_t p : perm) {
    v.shape.push_back(in[p]);
    v.strides.push_back(inSt[p]);
  }
  return v;
}

StridedView sliceView(const Shape &in, const KernelArgs &args) {
  const char *op = "Slice";
  std::vector<int64_t> starts, ends, axes, steps;
  if (args.opset >= 10) {
    starts = intsInput(op, &args.required(1));
    ends = intsInput(op, &args.required(2));
    axes = intsInput(op, args.input(3));
    steps = intsInput(op, args.input(4));
  } else {
    starts = attrsOf(args).getInts("starts");
    ends = attrsOf(args).getInts("ends");
    axes = attrsOf(args).getInts("axes");
  }
  if (starts.size() != ends.size()) fail(op, "starts and ends differ in length");
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (axes.size() != starts.size() || steps.size() != starts.size())
    fail(op, "starts, ends, axes and steps differ in length");
  axes = normAxes(op, axes, rankOf(in));
  Shape out = in;
  std::vector<int64_t> inSt = stridesOf(in), st = inSt;
  int64_t base = 0;
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t a = axes[i], dim = in[a], step = steps[i];
    if (step == 0) fail(op, "step must not be zero");
    if (dim == 0) {
      out[a] = 0;
      continue;
    }
    int64_t s = starts[i], e = ends[i];
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    if (step > 0) {
      s = std::clamp(s, int64_t(0), dim);
      e = std::clamp(e, int64_t(0), dim);
    } else {
      s = std::clamp(s, int64_t(0), dim - 1);
      e = std::clamp(e, int64_t(-1), dim - 1);
    }
    int64_t n = step > 0 ? (e - s + step - 1) / step : (s - e + (-step) - 1) / (-step);
    n = std::max<int64_t>(n, 0);
    out[a] = n;
    st[a] = inSt[a] * step;
    if (n > 0) base += s * inSt[a];
  }
  return {out, st, numElements(out) ? base : 0};
}

std::vector<StridedView> splitViews(const Shape &in, const KernelArgs &args) {
  const char *op = "Split";
  int64_t axis = normAxis(op, attrsOf(args).getInt("axis", 0), rankOf(in));
  int64_t dim = in[axis];
  std::vector<int64_t> sizes = args.opset >= 13 ? intsInput(op, args.input(1)) : attrsOf(args).getInts("split");
  if (sizes.empty()) {
    int64_t n = attrsOf(args).getInt("num_outputs", static_cast<int64_t>(args.numOutputs));
    if (n <= 0) fail(op, "num_outputs must be positive");
    if (args.opset < 18 && dim % n != 0) fail(op, "dimension ", dim, " does not split evenly into ", n);
    int64_t chunk = (dim + n - 1) / n;
    for (int64_t i = 0, left = dim; i < n; ++i, left -= chunk) sizes.push_back(std::clamp(left, int64_t(0), chunk));
  }
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) fail(op, "negative split size ", s);
    total += s;
  }
  if (total != dim) fail(op, "split sizes sum to ", total, " but the axis has ", dim);
  if (args.numOutputs != sizes.size() && args.numOutputs > 1)
    fail(op, "node declares ", args.numOutputs, " outputs but splits into ", sizes.size());
  std::vector<int64_t> st = stridesOf(in);
  std::vector<StridedView> views;
  int64_t start = 0;
  for (int64_t size : sizes) {
    Shape out = in;
    out[axis] = size;
    views.push_back({out, st, size ? start * st[axis] : 0});
    start += size;
  }
  return views;
}

ConcatPlan concatPlan(const std::vector<Shape> &shapes, const KernelArgs &args) {
  const char *op = "Concat";
  if (shapes.empty()) fail(op, "needs at least one input");
  const Shape &first = shapes[0];
  ConcatPlan plan;
  plan.axis = normAxis(op, attrsOf(args).requireInt("axis"), rankOf(first));
  plan.shape = first;
  plan.shape[plan.axis] = 0;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const Shape &t = shapes[i];
    if (t.size() != first.size()) fail(op, "input ", i, " has rank ", t.size(), ", expected ", first.size());
    for (size_t d = 0; d < t.size(); ++d)
      if (static_cast<int64_t>(d) != plan.axis && t[d] != first[d])
        fail(op, "input ", i, " of shape ", shapeToString(t), " does not match ", shapeToString(first));
    plan.shape[plan.axis] += t[plan.axis];
  }
  return plan;
}

// ---- index, matmul, reduce ----------------------------------------------------

GatherPlan gatherPlan(const Shape &data, const Shape &indices, const KernelArgs &args) {
  GatherPlan plan;
  plan.axis = normAxis("Gather", attrsOf(args).getInt("axis", 0), rankOf(data));
  plan.shape.assign(data.begin(), data.begin() + plan.axis);
  plan.shape.insert(plan.shape.end(), indices.begin(), indices.end());
  plan.shape.insert(plan.shape.end(), data.begin() + plan.axis + 1, data.end());
  for (int64_t d = 0; d < plan.axis; ++d) plan.outer *= data[d];
  for (int64_t d = plan.axis + 1; d < rankOf(data); ++d) plan.inner *= data[d];
  return plan;
}

MatMulPlan matMulPlan(const Shape &a, const Shape &b) {
  const char *op = "MatMul";
  if (a.empty() || b.empty()) fail(op, "inputs must have rank >= 1");
  // Promote 1-D operands as numpy does, then drop the added axes at the end.
  Shape sa = a, sb = b;
  bool vecA = sa.size() == 1, vecB = sb.size() == 1;
  if (vecA) sa.insert(sa.begin(), 1);
  if (vecB) sb.push_back(1);
  MatMulPlan plan;
  plan.M = sa[sa.size() - 2];
  plan.K = sa.back();
  plan.N = sb.back();
  if (plan.K != sb[sb.size() - 2]) fail(op, "inner dimensions differ: ", shapeToString(a), " x ", shapeToString(b));
  plan.batchA.assign(sa.begin(), sa.end() - 2);
  plan.batchB.assign(sb.begin(), sb.end() - 2);
  plan.batch = broadcastShapes(op, plan.batchA, plan.batchB);
  plan.shape = plan.batch;
  if (!vecA) plan.shape.push_back(plan.M);
  if (!vecB) plan.shape.push_back(plan.N);
  return plan;
}

ReducePlan reducePlan(const char *op, const Shape &in, int64_t axesInputSince, const KernelArgs &args) {
  const Attrs &at = attrsOf(args);
  bool keep = at.getInt("keepdims", 1) != 0;
  bool noop = at.getInt("noop_with_empty_axes", 0) != 0;
  std::vector<int64_t> axes = args.opset >= axesInputSince ? intsInput(op, args.input(1)) : at.getInts("axes");
  const int64_t rank = rankOf(in);
  ReducePlan plan;
  if (axes.empty()) {
    if (noop) {
      plan.identity = true;
      plan.kept = plan.shape = in;
      return plan;
    }
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  }
  axes = normAxes(op, axes, rank);
  std::vector<bool> reduced(static_cast<size_t>(rank), false);
  for (int64_t a : axes) reduced[static_cast<size_t>(a)] = true;
  for (int64_t i = 0; i < rank; ++i) {
    plan.kept.push_back(reduced[i] ? 1 : in[i]);
    if (!reduced[i] || keep) plan.shape.push_back(reduced[i] ? 1 : in[i]);
  }
  for (int64_t a : axes) plan.count *= in[a];
  return plan;
}

void checkFusedWidths(const char *op, const std::vector<int64_t> &widths, size_t inputs, int64_t columns) {
  if (widths.size() < 2 || inputs != 2 + widths.size())
    fail(op, "with widths takes x, one weight and a bias (or none) per width, >= 2 widths; got ", inputs,
         " inputs and ", widths.size(), " widths");
  int64_t total = 0;
  for (int64_t n : widths) {
    if (n <= 0) fail(op, "widths must be positive");
    total += n;
  }
  if (total != columns) fail(op, "widths add up to ", total, ", the weight has ", columns, " columns");
}

} // namespace resa
