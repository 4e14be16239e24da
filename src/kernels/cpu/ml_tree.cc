// ai.onnx.ml tree ensembles: TreeEnsembleRegressor and TreeEnsembleClassifier
// (opsets 1-4; deprecated, that is removed, at ai.onnx.ml opset 5) and the
// unified TreeEnsemble (opset 5).
//
// Both attribute encodings are parsed into one Forest: branch nodes, leaves
// holding (target, weight) votes, and each tree's root. Parsing checks every
// length and index and refuses cycles, so a walk always ends in a leaf within
// nodes.size() steps; feature ids are checked against the input width at run
// time. Shared subtrees are allowed (a DAG): LightGBM converters point several
// BRANCH_EQ nodes at one child to encode set membership. Compile then lays
// each Forest out for the walk (see "The compiled walk"), which evaluates
// several rows per tree at once.
//
// Precision follows ONNX Runtime: splits and weights are kept in double, an
// input element is widened to double and compared with the split, so a float
// input against float splits compares exactly as in float, and a double
// input against double splits (`*_as_tensor`, or TreeEnsemble with T =
// double) compares in double, as scikit-learn does. Leaf weights are summed
// in double when the input is double or the weights are double attributes,
// else in float, as ONNX Runtime's ThresholdType does.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <map>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/cpu/ml_internal.h"
#include "kernels/registry.h"
#include "kernels/util.h"

namespace tiffin::kernels {
namespace {

using ml::Bad;
using ml::Post;

enum class Mode : uint8_t { kLeq, kLt, kGte, kGt, kEq, kNeq, kMember };
enum class Agg { kSum, kAverage, kMin, kMax };

// A child reference: >= 0 indexes Forest::nodes, < 0 is leaf -1 - ref.
constexpr int32_t LeafRef(int32_t leaf) { return -1 - leaf; }

struct Branch {
  double split = 0;
  int32_t feature = 0;
  int32_t set = -1;  // kMember: index into Forest::sets
  int32_t t = 0, f = 0;
  Mode mode = Mode::kLeq;
  bool missing_true = false;
};

struct Vote {
  int32_t target;
  double w;
};

// ---- The compiled walk ----
//
// After parsing and CheckForest, Compile turns a Forest into one array of
// 16-byte slots that the walk reads instead of Forest::nodes. A slot is a copy
// of a node. A branch slot holds the split, the feature and `next`: the index
// of the pair of slots holding its children (true child at next, false child
// at next + 1), even, with its low bit set when NaN goes to the true child
// (nodes_missing_value_tracks_true). A leaf slot holds next = -1 - leaf (< 0)
// and feature 0, a column any input that reaches a walk has (a walk happens
// only for a tree with a reachable branch, so max_feature >= 0 and the width
// check at run time guarantees a column 0); it is read and ignored. Siblings
// sharing a 32-byte aligned pair, a step is child = next + !go: one load per
// level, and a fetched node brings its sibling along. Each tree's slots are
// contiguous: its root slot and a spare one, then its pairs breadth first, so
// the top levels, which every row visits, share a few cache lines. A node with
// several parents (a DAG) is copied into each parent's pair and its own pair
// is shared, so the array has at most 2 * (trees + branches) slots. A branch
// whose two children are one node reaches that node whatever the input and is
// replaced by it, so a one-leaf tree's root slot is its leaf.
//
// RunForest takes the rows in chunks of kChunkRows and runs every tree, in
// tree order, over a chunk before the next chunk, so each row still adds its
// votes tree by tree in tree order (the sums are those of a walk of one row
// at a time, bit for bit), while the chunk's rows and each tree's top levels
// stay in cache. A tree walks the chunk's rows in blocks of kBlock: each row
// of a block has its own current slot and all advance one level per step
// until every one stands on a leaf, so the block's independent chains of
// loads and comparisons overlap and a mispredicted loop exit is paid once per
// block rather than once per row. A row left over (a batch of one, the rows
// after a batch's last full block) does the same across trees instead: it
// walks kBlock trees at a time, adding their votes in tree order after each
// group, and the last trees one at a time. When every reachable branch has
// one of the modes LEQ, LT, GTE, GT (scikit-learn writes LEQ only, XGBoost
// LT), a step is that one comparison, plus a NaN test when some branch sends
// NaN to its true child and the chunk holds a NaN; otherwise (EQ, NEQ,
// MEMBER or a mix) each slot's outcome mask in Compiled::mask decides, and a
// BRANCH_MEMBER slot searches its set.

// One node as the walk sees it (above).
struct alignas(16) Slot {
  double split = 0;
  int32_t feature = 0;
  int32_t next = 0;
};
static_assert(sizeof(Slot) == 16);

// Allocates with alignment kAlign (slot pairs must not straddle cache lines).
template <typename T, size_t kAlign>
struct AlignedAllocator {
  using value_type = T;
  template <typename U>
  struct rebind {
    using other = AlignedAllocator<U, kAlign>;
  };
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U, kAlign>&) {}  // NOLINT: allocator conversion
  T* allocate(size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(kAlign)));
  }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(kAlign)); }
  template <typename U>
  bool operator==(const AlignedAllocator<U, kAlign>&) const {
    return true;
  }
};

// How a step decides a branch: kLeq .. kGt when every reachable branch has
// that mode (the order of Mode's first four), kMixed otherwise.
enum class Path : uint8_t { kLeq, kLt, kGte, kGt, kMixed };

// What a step does about nodes_missing_value_tracks_true: kNone, no
// reachable branch sends NaN to its true child (no slot has its low bit
// set); kNoNaN, some do but the rows at hand hold no NaN, so only the low bit
// is cleared; kTest, NaN inputs are tested for (ordering paths; kMixed's
// masks decide NaN themselves and only clear the bit).
enum class Missing : uint8_t { kNone, kNoNaN, kTest };

// Compiled::mask of a branch slot: bit i is set when the branch goes to its
// true child for outcome i of comparing the input v with the split: 0 v <
// split, 1 v == split, 2 v > split, 3 v is NaN. kMemberBit marks
// BRANCH_MEMBER, decided by its set (bit 3 still decides NaN). Leaf slots
// have mask 0.
constexpr uint8_t kMemberBit = 16;

struct Compiled {
  std::vector<Slot, AlignedAllocator<Slot, 64>> slots;
  std::vector<int32_t> roots;  // each tree's root slot, in tree order
  Path path = Path::kLeq;
  bool missing = false;                   // some reachable branch sends NaN to its true child
  bool any_branch = false;                // some tree has a reachable branch
  std::vector<uint8_t> mask;              // kMixed: one per slot
  std::vector<int32_t> set_of;            // kMixed: per slot, BRANCH_MEMBER's index into sets
  std::vector<std::vector<double>> sets;  // Forest::sets, moved here
};

struct Forest {
  std::vector<Branch> nodes;
  std::vector<std::pair<int32_t, int32_t>> leaves;  // [begin, end) in votes
  std::vector<Vote> votes;
  std::vector<std::vector<double>> sets;  // sorted members of each kMember node
  std::vector<int32_t> roots;             // child references
  int64_t max_feature = -1;
  Compiled walk;  // built by Compile, which then drops nodes and sets
};

constexpr size_t kMaxNodes = size_t{1} << 30;
constexpr int64_t kMaxTargets = int64_t{1} << 24;

// Checks every reference and refuses cycles with an iterative depth-first
// search from each root; `name` describes branch i for messages.
Status CheckForest(const ir::Node& node, const Forest& f,
                   const std::function<std::string(int32_t)>& name) {
  const int64_t nn = static_cast<int64_t>(f.nodes.size());
  const int64_t nl = static_cast<int64_t>(f.leaves.size());
  auto valid = [&](int32_t ref) { return ref >= 0 ? ref < nn : -1 - int64_t{ref} < nl; };
  for (int32_t r : f.roots)
    if (!valid(r)) return Bad(node, "a tree root refers to no node");
  for (size_t i = 0; i < f.nodes.size(); ++i) {
    const Branch& b = f.nodes[i];
    if (!valid(b.t) || !valid(b.f))
      return Bad(node, name(static_cast<int32_t>(i)) + " has a child that is not a node or leaf");
    if (b.mode == Mode::kMember && (b.set < 0 || static_cast<size_t>(b.set) >= f.sets.size()))
      return Bad(node, name(static_cast<int32_t>(i)) + " has no membership set");
  }
  // 0 = unvisited, 1 = on the current path, 2 = done (its subtree is acyclic).
  std::vector<unsigned char> state(f.nodes.size(), 0);
  std::vector<std::pair<int32_t, int>> stack;  // (branch, children pushed so far)
  for (int32_t r : f.roots) {
    if (r < 0 || state[static_cast<size_t>(r)] == 2) continue;
    stack.push_back({r, 0});
    state[static_cast<size_t>(r)] = 1;
    while (!stack.empty()) {
      auto& [cur, next] = stack.back();
      if (next == 2) {
        state[static_cast<size_t>(cur)] = 2;
        stack.pop_back();
        continue;
      }
      const Branch& b = f.nodes[static_cast<size_t>(cur)];
      const int32_t child = next++ == 0 ? b.t : b.f;
      if (child < 0 || state[static_cast<size_t>(child)] == 2) continue;
      if (state[static_cast<size_t>(child)] == 1)
        return Bad(node, name(child) + " is reached again from its own subtree (a cycle)");
      state[static_cast<size_t>(child)] = 1;
      stack.push_back({child, 0});
    }
  }
  return Status::Ok();
}

uint8_t OutcomeMask(Mode mode, bool missing_true, double split) {
  if (mode == Mode::kMember) return static_cast<uint8_t>(kMemberBit | (missing_true ? 8 : 0));
  uint8_t bits = 0;
  switch (mode) {
    case Mode::kLeq:
      bits = 0b0011;
      break;
    case Mode::kLt:
      bits = 0b0001;
      break;
    case Mode::kGte:
      bits = 0b0110;
      break;
    case Mode::kGt:
      bits = 0b0100;
      break;
    case Mode::kEq:
      bits = 0b0010;
      break;
    default:  // kNeq
      bits = 0b0101;
      break;
  }
  // Against a NaN split, a number compares false but for != (outcome 0 is
  // the only one a number then produces: v == NaN and v > NaN are false).
  if (std::isnan(split)) bits = mode == Mode::kNeq ? 0b0111 : 0;
  // A NaN input: every comparison is false but !=.
  if (missing_true || mode == Mode::kNeq) bits |= 0b1000;
  return bits;
}

// Builds f.walk from f.nodes (then dropped) and f.sets (moved).
// REQUIRES: CheckForest(f) passed.
Status Compile(const ir::Node& node, Forest& f) {
  const std::vector<Branch>& nodes = f.nodes;
  if (2 * (f.roots.size() + nodes.size()) > static_cast<size_t>(INT32_MAX))
    return Bad(node, "too many nodes and trees");
  // Acyclic from the roots (CheckForest), so this ends.
  auto resolve = [&](int32_t ref) {
    while (ref >= 0 && nodes[static_cast<size_t>(ref)].t == nodes[static_cast<size_t>(ref)].f)
      ref = nodes[static_cast<size_t>(ref)].t;
    return ref;
  };
  Compiled& w = f.walk;
  std::vector<int32_t> pair_of(nodes.size(), -1);
  std::vector<int32_t> order;  // reachable branches, in the order their pairs are placed
  int32_t used = 0;
  auto place = [&](int32_t ref) {
    if (ref < 0 || pair_of[static_cast<size_t>(ref)] >= 0) return;
    pair_of[static_cast<size_t>(ref)] = used;
    used += 2;
    order.push_back(ref);
  };
  w.roots.resize(f.roots.size());
  for (size_t t = 0; t < f.roots.size(); ++t) {
    w.roots[t] = used;
    used += 2;  // the root slot and a spare copy of it, keeping pairs aligned
    size_t head = order.size();
    place(resolve(f.roots[t]));
    while (head < order.size()) {
      const Branch& b = nodes[static_cast<size_t>(order[head++])];
      place(resolve(b.t));
      place(resolve(b.f));
    }
  }
  // The path: one ordering mode for all reachable branches, or kMixed.
  bool any = false, same = true, members = false;
  Mode mode = Mode::kLeq;
  for (int32_t r : order) {
    const Branch& b = nodes[static_cast<size_t>(r)];
    if (!any) mode = b.mode;
    any = true;
    same = same && b.mode == mode;
    members = members || b.mode == Mode::kMember;
    w.missing = w.missing || b.missing_true;
  }
  w.any_branch = any;
  const bool mixed = !same || mode > Mode::kGt;
  w.path = mixed ? Path::kMixed : static_cast<Path>(mode);
  w.slots.assign(static_cast<size_t>(used), Slot{});
  if (mixed) w.mask.assign(static_cast<size_t>(used), 0);
  if (members) w.set_of.assign(static_cast<size_t>(used), -1);
  auto fill = [&](int32_t at, int32_t ref) {
    Slot& s = w.slots[static_cast<size_t>(at)];
    if (ref < 0) {
      s.next = ref;  // -1 - leaf
      return;
    }
    const Branch& b = nodes[static_cast<size_t>(ref)];
    s.split = b.split;
    s.feature = b.feature;
    s.next = pair_of[static_cast<size_t>(ref)] | (b.missing_true ? 1 : 0);
    if (mixed) w.mask[static_cast<size_t>(at)] = OutcomeMask(b.mode, b.missing_true, b.split);
    if (b.mode == Mode::kMember) w.set_of[static_cast<size_t>(at)] = b.set;
  };
  for (size_t t = 0; t < f.roots.size(); ++t) {
    const int32_t r = resolve(f.roots[t]);
    fill(w.roots[t], r);
    fill(w.roots[t] + 1, r);
  }
  for (int32_t r : order) {
    const Branch& b = nodes[static_cast<size_t>(r)];
    fill(pair_of[static_cast<size_t>(r)], resolve(b.t));
    fill(pair_of[static_cast<size_t>(r)] + 1, resolve(b.f));
  }
  w.sets = std::move(f.sets);
  std::vector<Branch>().swap(f.nodes);
  return Status::Ok();
}

// Whether branch slot `s` (index `at`) sends v to its true child.
template <Path P, Missing kMissing>
inline bool Go(const Compiled& w, size_t at, const Slot& s, double v) {
  if constexpr (P == Path::kMixed) {
    const unsigned m = w.mask[at];
    if (m & kMemberBit) [[unlikely]] {
      if (std::isnan(v)) return (m >> 3) & 1u;
      const std::vector<double>& set = w.sets[static_cast<size_t>(w.set_of[at])];
      return std::binary_search(set.begin(), set.end(), v);
    }
    const unsigned outcome = static_cast<unsigned>(v == s.split) +
                             2u * static_cast<unsigned>(v > s.split) +
                             3u * static_cast<unsigned>(std::isnan(v));
    return (m >> outcome) & 1u;
  } else {
    bool go;
    if constexpr (P == Path::kLeq)
      go = v <= s.split;
    else if constexpr (P == Path::kLt)
      go = v < s.split;
    else if constexpr (P == Path::kGte)
      go = v >= s.split;
    else
      go = v > s.split;
    // Every comparison with NaN is false; the slot's low bit sends it true.
    if constexpr (kMissing == Missing::kTest) go = go | (((s.next & 1) != 0) & std::isnan(v));
    return go;
  }
}

// Walks kLanes lanes down the trees: lane j starts at slot start[j] and
// reads the row at x + j * stride, and leaf[j] gets the leaf it reaches.
// Lanes are rows of one tree (stride C) or trees of one row (stride 0).
// Every lane has its own current slot; a step moves each lane that is not on
// a leaf yet, and the walk is done when all are. (GCC makes the select a
// per-lane branch that skips a finished lane; a branch-free select measured
// no better overall: within 10% either way on the scikit-learn bench
// forests.)
// REQUIRES: the forest has a reachable branch (so the input has a column 0,
// which a lane on a leaf reads).
template <Path P, Missing kMissing, typename E, int kLanes>
inline void WalkLanes(const Compiled& w, const int32_t* start, const E* x, int64_t stride,
                      int32_t* leaf) {
  const Slot* slots = w.slots.data();
  int32_t cur[kLanes];
  for (int j = 0; j < kLanes; ++j) cur[j] = start[j];
  bool more;
  do {
    more = false;
    for (int j = 0; j < kLanes; ++j) {
      const size_t at = static_cast<size_t>(cur[j]);
      const Slot& s = slots[at];
      const double v = static_cast<double>(x[j * stride + s.feature]);
      const bool go = Go<P, kMissing>(w, at, s, v);
      const int32_t pair = kMissing != Missing::kNone ? s.next & ~int32_t{1} : s.next;
      const int32_t child = pair + (go ? 0 : 1);
      const bool branch = s.next >= 0;
      cur[j] = branch ? child : cur[j];
      more = more | branch;
    }
  } while (more);
  for (int j = 0; j < kLanes; ++j) leaf[j] = -1 - slots[cur[j]].next;
}

// Hides v's value from the optimizer, so that the two arms of a branch that
// set it cannot be merged into a select.
inline void Opaque(size_t& v) {
#if defined(__GNUC__)
  asm volatile("" : "+r"(v));
#endif
}

// One row down one tree (what is left of a row's trees after WalkLanes took
// them kBlock at a time), returning its leaf. Alone, a walk has nothing to
// overlap with, so here the step is a conditional branch rather than a
// select: predicted right, the CPU fetches the next slot before the input is
// loaded and compared, taking those loads off the chain that is the walk's
// latency.
template <Path P, Missing kMissing, typename E>
inline int32_t WalkOne(const Compiled& w, int32_t root, const E* x) {
  const Slot* slots = w.slots.data();
  size_t at = static_cast<size_t>(root);
  for (;;) {
    const Slot& s = slots[at];
    if (s.next < 0) return -1 - s.next;
    const double v = static_cast<double>(x[s.feature]);
    const size_t pair =
        static_cast<size_t>(kMissing != Missing::kNone ? s.next & ~int32_t{1} : s.next);
    if (Go<P, kMissing>(w, at, s, v)) {
      at = pair;
      Opaque(at);
    } else {
      at = pair + 1;
      Opaque(at);
    }
  }
}

constexpr int kBlock = 8;

// Adds the votes of leaf[r] to row r's accumulators (acc + r * k; seen, for
// MIN and MAX only, marks targets that got a vote).
template <typename Acc>
inline void AddVotes(const Forest& f, Agg agg, const int32_t* leaf, int64_t rows, int64_t k,
                     Acc* acc, unsigned char* seen) {
  for (int64_t r = 0; r < rows; ++r) {
    const auto [begin, end] = f.leaves[static_cast<size_t>(leaf[r])];
    Acc* a = acc + r * k;
    for (int32_t j = begin; j < end; ++j) {
      const Vote& vote = f.votes[static_cast<size_t>(j)];
      const size_t t = static_cast<size_t>(vote.target);
      const Acc wv = static_cast<Acc>(vote.w);
      if (agg == Agg::kMin || agg == Agg::kMax) {
        unsigned char* s = seen + r * k;
        if (!s[t])
          a[t] = wv;
        else
          a[t] = agg == Agg::kMin ? std::min(a[t], wv) : std::max(a[t], wv);
        s[t] = 1;
      } else {
        a[t] += wv;
      }
    }
  }
}

// Runs every tree, in tree order, on one row and adds each one's votes to
// acc (seen: as AddVotes), kBlock trees at a time as lanes of WalkLanes.
template <Path P, Missing kMissing, typename E, typename Acc>
void WalkRow(const Forest& f, Agg agg, const E* x, int64_t k, Acc* acc, unsigned char* seen) {
  const Compiled& w = f.walk;
  const size_t trees = w.roots.size();
  size_t t = 0;
  if (w.any_branch) {
    int32_t leaf[kBlock];
    for (; t + kBlock <= trees; t += kBlock) {
      WalkLanes<P, kMissing, E, kBlock>(w, &w.roots[t], x, 0, leaf);
      for (int j = 0; j < kBlock; ++j) AddVotes(f, agg, &leaf[j], 1, k, acc, seen);
    }
  }
  for (; t < trees; ++t) {
    const int32_t one = WalkOne<P, kMissing, E>(w, w.roots[t], x);
    AddVotes(f, agg, &one, 1, k, acc, seen);
  }
}

// Runs every tree, in tree order, on `rows` rows (row r at x + r * c) and
// adds each one's votes to that row's accumulators (acc + r * k), so each
// row sums its votes in tree order: trees outer and blocks of kBlock rows
// inner, then the rows after the last full block one at a time. `leaf` has
// room for `rows` values.
template <Path P, Missing kMissing, typename E, typename Acc>
void WalkChunk(const Forest& f, Agg agg, const E* x, int64_t c, int64_t rows, int64_t k,
               int32_t* leaf, Acc* acc, unsigned char* seen) {
  const Compiled& w = f.walk;
  const int64_t blocked = rows - rows % kBlock;
  if (blocked > 0) {
    for (const int32_t root : w.roots) {
      if (w.slots[static_cast<size_t>(root)].next < 0) {
        // A one-leaf tree reads no input.
        std::fill_n(leaf, blocked, -1 - w.slots[static_cast<size_t>(root)].next);
      } else {
        int32_t start[kBlock];
        std::fill_n(start, kBlock, root);
        for (int64_t r = 0; r < blocked; r += kBlock)
          WalkLanes<P, kMissing, E, kBlock>(w, start, x + r * c, c, leaf + r);
      }
      AddVotes(f, agg, leaf, blocked, k, acc, seen);
    }
  }
  for (int64_t r = blocked; r < rows; ++r)
    WalkRow<P, kMissing, E>(f, agg, x + r * c, k, acc + r * k, seen ? seen + r * k : nullptr);
}

template <typename E, typename Acc>
using ChunkFn = void (*)(const Forest&, Agg, const E*, int64_t, int64_t, int64_t, int32_t*, Acc*,
                         unsigned char*);

// The walk for w; `nan_free` says the rows hold no NaN.
template <Path P, typename E, typename Acc>
ChunkFn<E, Acc> ChunkFor(const Compiled& w, bool nan_free) {
  if constexpr (P == Path::kMixed) {
    return &WalkChunk<Path::kMixed, Missing::kNoNaN, E, Acc>;
  } else {
    if (!w.missing) return &WalkChunk<P, Missing::kNone, E, Acc>;
    return nan_free ? &WalkChunk<P, Missing::kNoNaN, E, Acc>
                    : &WalkChunk<P, Missing::kTest, E, Acc>;
  }
}

template <typename E, typename Acc>
ChunkFn<E, Acc> PickChunk(const Compiled& w, bool nan_free) {
  switch (w.path) {
    case Path::kLeq:
      return ChunkFor<Path::kLeq, E, Acc>(w, nan_free);
    case Path::kLt:
      return ChunkFor<Path::kLt, E, Acc>(w, nan_free);
    case Path::kGte:
      return ChunkFor<Path::kGte, E, Acc>(w, nan_free);
    case Path::kGt:
      return ChunkFor<Path::kGt, E, Acc>(w, nan_free);
    case Path::kMixed:
      break;
  }
  return ChunkFor<Path::kMixed, E, Acc>(w, nan_free);
}

// Whether v[0, n) holds no NaN.
template <typename E>
bool NanFree(const E* v, int64_t n) {
  bool nan = false;
  for (int64_t i = 0; i < n; ++i) nan |= std::isnan(v[i]);
  return !nan;
}

Status CheckWidth(const ir::Node& node, const Forest& f, const Tensor& x) {
  if (x.rank() != 1 && x.rank() != 2) return Bad(node, "X must be [C] or [N, C]");
  if (f.max_feature >= x.shape().back())
    return Bad(node, "feature id " + std::to_string(f.max_feature) +
                         " is out of range for an input with " + std::to_string(x.shape().back()) +
                         " columns");
  return Status::Ok();
}

// A float, double or float16 tensor attribute as doubles (empty when absent);
// `dtype` receives its element type.
Result<std::vector<double>> TensorValues(const ir::Node& node, const std::string& key,
                                         DType* dtype = nullptr) {
  std::vector<double> v;
  if (!node.HasAttribute(key)) return v;
  TIFFIN_ASSIGN_OR_RETURN(Tensor t, node.GetTensor(key));
  if (dtype) *dtype = t.dtype();
  v.resize(static_cast<size_t>(t.size()));
  for (size_t i = 0; i < v.size(); ++i) {
    switch (t.dtype()) {
      case DType::kFloat32:
        v[i] = t.data<float>()[i];
        break;
      case DType::kFloat64:
        v[i] = t.data<double>()[i];
        break;
      case DType::kFloat16:
        v[i] = static_cast<float>(t.data<Float16>()[i]);
        break;
      default:
        return Status(Bad(node, "attribute " + key + " has dtype " +
                                    std::string(DTypeName(t.dtype())) +
                                    "; it must be float, double or float16"));
    }
  }
  return v;
}

// Float list attribute `key`, or its `key`_as_tensor twin (double
// parameters); both at once is an error. Sets *is_double when the tensor
// holds doubles.
Result<std::vector<double>> FloatsOrTensor(const ir::Node& node, const std::string& key,
                                           bool* is_double) {
  TIFFIN_ASSIGN_OR_RETURN(std::vector<float> f, node.GetFloats(key));
  DType dt = DType::kUndefined;
  TIFFIN_ASSIGN_OR_RETURN(std::vector<double> t, TensorValues(node, key + "_as_tensor", &dt));
  if (!f.empty() && !t.empty())
    return Status(Bad(node, "attributes " + key + " and " + key + "_as_tensor are both set"));
  if (!t.empty()) {
    *is_double = *is_double || dt == DType::kFloat64;
    return t;
  }
  return std::vector<double>(f.begin(), f.end());
}

Result<Agg> ParseAgg(const ir::Node& node, const std::string& s) {
  if (s == "SUM") return Agg::kSum;
  if (s == "AVERAGE") return Agg::kAverage;
  if (s == "MIN") return Agg::kMin;
  if (s == "MAX") return Agg::kMax;
  return Status(Bad(node, "unknown aggregate_function '" + s + "'"));
}

// ---- TreeEnsembleRegressor / TreeEnsembleClassifier (opsets 1-4) ----

// Parses the nodes_* arrays and the leaf votes (prefix "target" or "class"),
// checking every length and index. `n_out` bounds the vote ids.
Result<Forest> ParseV3(const ir::Node& node, const std::string& prefix, int64_t n_out,
                       bool* is_double) {
  TIFFIN_ASSIGN_OR_RETURN(auto tids, node.GetInts("nodes_treeids"));
  TIFFIN_ASSIGN_OR_RETURN(auto nids, node.GetInts("nodes_nodeids"));
  TIFFIN_ASSIGN_OR_RETURN(auto feats, node.GetInts("nodes_featureids"));
  TIFFIN_ASSIGN_OR_RETURN(auto modes, node.GetStrings("nodes_modes"));
  TIFFIN_ASSIGN_OR_RETURN(auto vals, FloatsOrTensor(node, "nodes_values", is_double));
  TIFFIN_ASSIGN_OR_RETURN(auto tn, node.GetInts("nodes_truenodeids"));
  TIFFIN_ASSIGN_OR_RETURN(auto fn, node.GetInts("nodes_falsenodeids"));
  TIFFIN_ASSIGN_OR_RETURN(auto miss, node.GetInts("nodes_missing_value_tracks_true"));
  const size_t n = nids.size();
  if (n == 0) return Status(Bad(node, "nodes_nodeids is empty"));
  if (n > kMaxNodes) return Status(Bad(node, "too many nodes"));
  auto need = [&](size_t len, const char* what) -> Status {
    if (len == n) return Status::Ok();
    return Bad(node, std::string(what) + " has " + std::to_string(len) +
                         " values; nodes_nodeids has " + std::to_string(n));
  };
  TIFFIN_RETURN_IF_ERROR(need(tids.size(), "nodes_treeids"));
  TIFFIN_RETURN_IF_ERROR(need(feats.size(), "nodes_featureids"));
  TIFFIN_RETURN_IF_ERROR(need(modes.size(), "nodes_modes"));
  TIFFIN_RETURN_IF_ERROR(need(vals.size(), "nodes_values"));
  TIFFIN_RETURN_IF_ERROR(need(tn.size(), "nodes_truenodeids"));
  TIFFIN_RETURN_IF_ERROR(need(fn.size(), "nodes_falsenodeids"));
  if (!miss.empty()) TIFFIN_RETURN_IF_ERROR(need(miss.size(), "nodes_missing_value_tracks_true"));
  auto label = [&](size_t i) {
    return "node (tree " + std::to_string(tids[i]) + ", id " + std::to_string(nids[i]) + ")";
  };
  std::map<std::pair<int64_t, int64_t>, size_t> index;
  for (size_t i = 0; i < n; ++i)
    if (!index.emplace(std::make_pair(tids[i], nids[i]), i).second)
      return Status(Bad(node, label(i) + " is listed twice"));
  // Entry i becomes branch ref[i] >= 0 or leaf LeafRef(k).
  Forest f;
  std::vector<int32_t> ref(n);
  std::vector<Mode> mode(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string& m = modes[i];
    if (m == "LEAF") {
      ref[i] = LeafRef(static_cast<int32_t>(f.leaves.size()));
      f.leaves.push_back({0, 0});
      continue;
    }
    if (m == "BRANCH_LEQ")
      mode[i] = Mode::kLeq;
    else if (m == "BRANCH_LT")
      mode[i] = Mode::kLt;
    else if (m == "BRANCH_GTE")
      mode[i] = Mode::kGte;
    else if (m == "BRANCH_GT")
      mode[i] = Mode::kGt;
    else if (m == "BRANCH_EQ")
      mode[i] = Mode::kEq;
    else if (m == "BRANCH_NEQ")
      mode[i] = Mode::kNeq;
    else
      return Status(Bad(node, label(i) + " has unknown mode '" + m + "'"));
    ref[i] = static_cast<int32_t>(f.nodes.size());
    f.nodes.emplace_back();
  }
  std::vector<bool> is_child(n, false);
  std::vector<size_t> entry_of_branch(f.nodes.size());
  for (size_t i = 0; i < n; ++i) {
    if (ref[i] < 0) continue;
    entry_of_branch[static_cast<size_t>(ref[i])] = i;
    Branch& b = f.nodes[static_cast<size_t>(ref[i])];
    if (feats[i] < 0 || feats[i] > INT32_MAX)
      return Status(Bad(node, label(i) + " has feature id " + std::to_string(feats[i]) +
                                  ", which is out of range"));
    b.feature = static_cast<int32_t>(feats[i]);
    f.max_feature = std::max(f.max_feature, feats[i]);
    b.split = vals[i];
    b.mode = mode[i];
    b.missing_true = !miss.empty() && miss[i] != 0;
    auto ti = index.find({tids[i], tn[i]});
    auto fi = index.find({tids[i], fn[i]});
    if (ti == index.end() || fi == index.end())
      return Status(Bad(node, label(i) + " has a child id that is not a node of its tree"));
    b.t = ref[ti->second];
    b.f = ref[fi->second];
    is_child[ti->second] = true;
    is_child[fi->second] = true;
  }
  std::map<int64_t, size_t> root_of;
  for (size_t i = 0; i < n; ++i) {
    if (is_child[i]) continue;
    if (!root_of.emplace(tids[i], i).second)
      return Status(Bad(node, "tree " + std::to_string(tids[i]) + " has more than one root"));
  }
  for (size_t i = 0; i < n; ++i)
    if (!root_of.count(tids[i]))
      return Status(Bad(node, "tree " + std::to_string(tids[i]) + " has no root (a cycle)"));
  for (const auto& [tree, i] : root_of) f.roots.push_back(ref[i]);
  // Votes; those naming a branch are ignored, as ONNX Runtime does (older
  // onnxmltools wrote them).
  TIFFIN_ASSIGN_OR_RETURN(auto wt, node.GetInts(prefix + "_treeids"));
  TIFFIN_ASSIGN_OR_RETURN(auto wn, node.GetInts(prefix + "_nodeids"));
  TIFFIN_ASSIGN_OR_RETURN(auto wi, node.GetInts(prefix + "_ids"));
  TIFFIN_ASSIGN_OR_RETURN(auto ww, FloatsOrTensor(node, prefix + "_weights", is_double));
  const size_t nw = wt.size();
  if (wn.size() != nw || wi.size() != nw || ww.size() != nw)
    return Status(Bad(node, prefix + "_treeids/_nodeids/_ids/_weights must have equal lengths"));
  std::vector<std::vector<Vote>> per(f.leaves.size());
  for (size_t k = 0; k < nw; ++k) {
    auto it = index.find({wt[k], wn[k]});
    if (it == index.end())
      return Status(Bad(node, prefix + " weight " + std::to_string(k) + " names no node"));
    if (wi[k] < 0 || wi[k] >= n_out)
      return Status(Bad(node, prefix + "_ids value " + std::to_string(wi[k]) +
                                  " is out of range [0, " + std::to_string(n_out) + ")"));
    const int32_t r = ref[it->second];
    if (r < 0) per[static_cast<size_t>(-1 - r)].push_back({static_cast<int32_t>(wi[k]), ww[k]});
  }
  for (size_t i = 0; i < per.size(); ++i) {
    f.leaves[i].first = static_cast<int32_t>(f.votes.size());
    f.votes.insert(f.votes.end(), per[i].begin(), per[i].end());
    f.leaves[i].second = static_cast<int32_t>(f.votes.size());
  }
  TIFFIN_RETURN_IF_ERROR(CheckForest(
      node, f, [&](int32_t b) { return label(entry_of_branch[static_cast<size_t>(b)]); }));
  TIFFIN_RETURN_IF_ERROR(Compile(node, f));
  return f;
}

// Rows per chunk (see "The compiled walk"; 30 KB of rows of 30 doubles), and
// a bound on the chunk's accumulators (rows * k) and converted input (rows *
// C), which makes chunks shorter for many targets or columns.
constexpr int64_t kChunkRows = 128;
constexpr int64_t kChunkValues = int64_t{1} << 16;

// Runs the forest on every row of X: out(i, acc) gets row i's aggregated
// votes (averaged for AVERAGE; 0 for targets no leaf voted for), in double
// when `dbl` or X is double, else in float. X is [C] (one row) or [N, C];
// float and double X are read in place, other element types converted to
// double a chunk at a time.
// REQUIRES: CheckWidth(node, f, x) passed.
template <typename Out>
Status RunForest(const ir::Node& node, const Tensor& x, const Forest& f, Agg agg, int64_t k,
                 bool dbl, Out&& out) {
  if (x.rank() != 1 && x.rank() != 2) return Bad(node, "X must be [C] or [N, C]");
  switch (x.dtype()) {
    case DType::kFloat32:
    case DType::kFloat64:
    case DType::kFloat16:
    case DType::kInt32:
    case DType::kInt64:
      break;
    default:
      return BadDType(node, "X", x.dtype());
  }
  const int64_t c = x.shape().back();
  const int64_t n = x.rank() == 1 ? 1 : x.dim(0);
  const bool direct = x.dtype() == DType::kFloat32 || x.dtype() == DType::kFloat64;
  const bool minmax = agg == Agg::kMin || agg == Agg::kMax;
  int64_t chunk = std::min(kChunkRows, std::max<int64_t>(1, kChunkValues / k));
  if (!direct)
    chunk = std::min(chunk, std::max<int64_t>(1, kChunkValues / std::max<int64_t>(c, 1)));
  if (chunk > kBlock) chunk -= chunk % kBlock;  // whole blocks but in the last chunk
  chunk = std::max<int64_t>(1, std::min(chunk, n));
  // rows_at(i0, rows): rows [i0, i0 + rows) of X as E values, [rows, C].
  auto run = [&](auto acc_tag, auto elem_tag, auto&& rows_at) {
    using Acc = decltype(acc_tag);
    using E = decltype(elem_tag);
    // A forest that sends NaN to true children somewhere walks without the
    // NaN test on chunks that hold no NaN (a scan of the chunk costs well
    // under 1% of walking it).
    const ChunkFn<E, Acc> walk_any = PickChunk<E, Acc>(f.walk, false);
    const ChunkFn<E, Acc> walk_nan_free = PickChunk<E, Acc>(f.walk, true);
    std::vector<Acc> acc(static_cast<size_t>(chunk * k));
    std::vector<unsigned char> seen(minmax ? static_cast<size_t>(chunk * k) : 0);
    std::vector<int32_t> leaf(static_cast<size_t>(chunk));
    for (int64_t i0 = 0; i0 < n; i0 += chunk) {
      const int64_t rows = std::min(chunk, n - i0);
      std::fill_n(acc.begin(), rows * k, Acc(0));
      if (minmax) std::fill_n(seen.begin(), rows * k, 0);
      const E* xc = rows_at(i0, rows);
      const ChunkFn<E, Acc> walk =
          walk_any != walk_nan_free && NanFree(xc, rows * c) ? walk_nan_free : walk_any;
      walk(f, agg, xc, c, rows, k, leaf.data(), acc.data(), minmax ? seen.data() : nullptr);
      for (int64_t r = 0; r < rows; ++r) {
        Acc* a = acc.data() + r * k;
        if (agg == Agg::kAverage)
          for (int64_t j = 0; j < k; ++j) a[j] /= static_cast<Acc>(f.roots.size());
        out(i0 + r, a);
      }
    }
  };
  auto with_acc = [&](auto elem_tag, auto&& rows_at) {
    if (dbl || x.dtype() == DType::kFloat64)
      run(double{}, elem_tag, rows_at);
    else
      run(float{}, elem_tag, rows_at);
  };
  if (direct) {
    auto in_place = [&](auto tag) {
      using T = decltype(tag);
      const T* p = x.data<T>();
      with_acc(T{}, [&](int64_t i0, int64_t) { return p + i0 * c; });
    };
    if (x.dtype() == DType::kFloat64)
      in_place(double{});
    else
      in_place(float{});
    return Status::Ok();
  }
  std::vector<double> buf(static_cast<size_t>(chunk * c));
  auto converted = [&](auto tag) {
    using T = decltype(tag);
    const T* p = x.data<T>();
    with_acc(double{}, [&](int64_t i0, int64_t rows) {
      const T* src = p + i0 * c;
      for (int64_t j = 0; j < rows * c; ++j) {
        if constexpr (std::is_same_v<T, Float16>)
          buf[static_cast<size_t>(j)] = static_cast<float>(src[j]);
        else
          buf[static_cast<size_t>(j)] = static_cast<double>(src[j]);
      }
      return static_cast<const double*>(buf.data());
    });
  };
  if (x.dtype() == DType::kFloat16)
    converted(Float16{});
  else if (x.dtype() == DType::kInt32)
    converted(int32_t{});
  else
    converted(int64_t{});
  return Status::Ok();
}

int64_t Rows(const Tensor& x) { return x.rank() == 2 ? x.dim(0) : 1; }

struct TreeRegAttrs {
  Forest forest;
  int64_t n_targets = 1;
  Agg agg = Agg::kSum;
  Post post = Post::kNone;
  std::vector<double> base;
  bool dbl = false;  // double parameters: aggregate in double
  static Result<TreeRegAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    TreeRegAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.n_targets, node.GetInt("n_targets", 1));
    if (a.n_targets < 1 || a.n_targets > kMaxTargets)
      return Status(Bad(node, "n_targets must be in [1, 2^24]"));
    TIFFIN_ASSIGN_OR_RETURN(std::string ag, node.GetString("aggregate_function", "SUM"));
    TIFFIN_ASSIGN_OR_RETURN(a.agg, ParseAgg(node, ag));
    TIFFIN_ASSIGN_OR_RETURN(a.post, ml::ParsePost(node));
    TIFFIN_ASSIGN_OR_RETURN(a.base, FloatsOrTensor(node, "base_values", &a.dbl));
    if (!a.base.empty() && a.base.size() != static_cast<size_t>(a.n_targets))
      return Status(Bad(node, "base_values must have n_targets values"));
    TIFFIN_ASSIGN_OR_RETURN(a.forest, ParseV3(node, "target", a.n_targets, &a.dbl));
    return a;
  }
};

Status TreeRegCompute(KernelContext& ctx, const TreeRegAttrs& a) {
  const int64_t k = a.n_targets;
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  TIFFIN_RETURN_IF_ERROR(CheckWidth(ctx.node(), a.forest, *x));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, DType::kFloat32, Shape{Rows(*x), k}));
  return RunForest(ctx.node(), *x, a.forest, a.agg, k, a.dbl, [&](int64_t i, auto* acc) {
    for (int64_t j = 0; j < k; ++j)
      if (!a.base.empty())
        acc[j] += static_cast<std::decay_t<decltype(*acc)>>(a.base[static_cast<size_t>(j)]);
    ml::ApplyPost(a.post, acc, k);
    float* o = out->data<float>() + i * k;
    for (int64_t j = 0; j < k; ++j) o[j] = static_cast<float>(acc[j]);
  });
}

struct TreeClsAttrs {
  Forest forest;
  std::vector<int64_t> ilabels;
  std::vector<std::string> slabels;
  bool strings = false;
  int64_t n_classes = 0;
  bool binary = false;  // two labels, votes only for class 0: scores [1 - p, p]
  Post post = Post::kNone;
  std::vector<double> base;
  bool dbl = false;
  static Result<TreeClsAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    TreeClsAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.ilabels, node.GetInts("classlabels_int64s"));
    TIFFIN_ASSIGN_OR_RETURN(a.slabels, node.GetStrings("classlabels_strings"));
    if (a.ilabels.empty() == a.slabels.empty())
      return Status(
          Bad(node, "exactly one of classlabels_int64s and classlabels_strings must be set"));
    a.strings = !a.slabels.empty();
    a.n_classes = static_cast<int64_t>(a.strings ? a.slabels.size() : a.ilabels.size());
    if (a.n_classes > kMaxTargets) return Status(Bad(node, "too many class labels"));
    TIFFIN_ASSIGN_OR_RETURN(a.post, ml::ParsePost(node));
    TIFFIN_ASSIGN_OR_RETURN(a.base, FloatsOrTensor(node, "base_values", &a.dbl));
    if (!a.base.empty() && a.base.size() != static_cast<size_t>(a.n_classes))
      return Status(Bad(node, "base_values must have one value per class"));
    TIFFIN_ASSIGN_OR_RETURN(a.forest, ParseV3(node, "class", a.n_classes, &a.dbl));
    if (a.n_classes == 2) {
      bool only0 = true, positive = true;
      for (const Vote& v : a.forest.votes) {
        only0 &= v.target == 0;
        positive &= v.w >= 0;
      }
      a.binary = only0 && !a.forest.votes.empty();
      if (a.binary && (!positive || a.post != Post::kNone))
        return Status(NotSupported(node.Describe() +
                                   ": a binary tree classifier with one score column is "
                                   "supported only with non-negative weights and "
                                   "post_transform NONE"));
    }
    return a;
  }
};

Status TreeClsCompute(KernelContext& ctx, const TreeClsAttrs& a) {
  const int64_t k = a.n_classes;
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  TIFFIN_RETURN_IF_ERROR(CheckWidth(ctx.node(), a.forest, *x));
  const int64_t n = Rows(*x);
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y,
                          ctx.Output(0, a.strings ? DType::kString : DType::kInt64, Shape{n}));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * z, ctx.Output(1, DType::kFloat32, Shape{n, k}));
  return RunForest(ctx.node(), *x, a.forest, Agg::kSum, k, a.dbl, [&](int64_t i, auto* acc) {
    using Acc = std::decay_t<decltype(*acc)>;
    for (int64_t j = 0; j < k; ++j)
      if (!a.base.empty()) acc[j] += static_cast<Acc>(a.base[static_cast<size_t>(j)]);
    float* o = z->data<float>() + i * k;
    size_t label = 0;
    if (a.binary) {
      const Acc p = acc[0];
      label = p > Acc(0.5) ? 1 : 0;
      o[0] = static_cast<float>(1 - p);
      o[1] = static_cast<float>(p);
    } else {
      for (int64_t j = 1; j < k; ++j)
        if (acc[j] > acc[label]) label = static_cast<size_t>(j);
      ml::ApplyPost(a.post, acc, k);
      for (int64_t j = 0; j < k; ++j) o[j] = static_cast<float>(acc[j]);
    }
    if (a.strings)
      y->data<std::string>()[i] = a.slabels[label];
    else
      y->data<int64_t>()[i] = a.ilabels[label];
  });
}

// ---- TreeEnsemble (opset 5) ----

// Integer list attributes of one kind: values of an integer tensor.
Result<std::vector<int64_t>> ModeValues(const ir::Node& node) {
  TIFFIN_ASSIGN_OR_RETURN(Tensor t, node.GetTensor("nodes_modes"));
  std::vector<int64_t> v(static_cast<size_t>(t.size()));
  for (size_t i = 0; i < v.size(); ++i) {
    switch (t.dtype()) {
      case DType::kUInt8:
        v[i] = t.data<uint8_t>()[i];
        break;
      case DType::kInt8:
        v[i] = t.data<int8_t>()[i];
        break;
      case DType::kInt32:
        v[i] = t.data<int32_t>()[i];
        break;
      case DType::kInt64:
        v[i] = t.data<int64_t>()[i];
        break;
      default:
        return Status(Bad(
            node, "nodes_modes must be a uint8 tensor, got " + std::string(DTypeName(t.dtype()))));
    }
  }
  return v;
}

struct TreeEnsembleAttrs {
  Forest forest;
  int64_t n_targets = 0;
  Agg agg = Agg::kSum;
  Post post = Post::kNone;
  DType dtype = DType::kUndefined;  // of the splits and weights, so of X and Y
  static Result<TreeEnsembleAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    TreeEnsembleAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.n_targets, node.GetInt("n_targets", 0));
    if (a.n_targets < 1 || a.n_targets > kMaxTargets)
      return Status(
          Bad(node, "n_targets must be set and in [1, 2^24], got " + std::to_string(a.n_targets)));
    TIFFIN_ASSIGN_OR_RETURN(int64_t ag, node.GetInt("aggregate_function", 1));
    const Agg aggs[] = {Agg::kAverage, Agg::kSum, Agg::kMin, Agg::kMax};
    if (ag < 0 || ag > 3)
      return Status(Bad(node, "aggregate_function " + std::to_string(ag) +
                                  " is not one of 0 (AVERAGE), 1 (SUM), 2 (MIN), 3 (MAX)"));
    a.agg = aggs[ag];
    TIFFIN_ASSIGN_OR_RETURN(int64_t post, node.GetInt("post_transform", 0));
    TIFFIN_ASSIGN_OR_RETURN(a.post, ml::PostFromInt(node, post));

    TIFFIN_ASSIGN_OR_RETURN(auto feats, node.GetInts("nodes_featureids"));
    TIFFIN_ASSIGN_OR_RETURN(auto tn, node.GetInts("nodes_truenodeids"));
    TIFFIN_ASSIGN_OR_RETURN(auto tl, node.GetInts("nodes_trueleafs"));
    TIFFIN_ASSIGN_OR_RETURN(auto fn, node.GetInts("nodes_falsenodeids"));
    TIFFIN_ASSIGN_OR_RETURN(auto fl, node.GetInts("nodes_falseleafs"));
    TIFFIN_ASSIGN_OR_RETURN(auto miss, node.GetInts("nodes_missing_value_tracks_true"));
    TIFFIN_ASSIGN_OR_RETURN(auto roots, node.GetInts("tree_roots"));
    TIFFIN_ASSIGN_OR_RETURN(auto targets, node.GetInts("leaf_targetids"));
    if (!node.HasAttribute("nodes_splits") || !node.HasAttribute("nodes_modes") ||
        !node.HasAttribute("leaf_weights"))
      return Status(Bad(node, "nodes_splits, nodes_modes and leaf_weights are required"));
    TIFFIN_ASSIGN_OR_RETURN(auto splits, TensorValues(node, "nodes_splits", &a.dtype));
    TIFFIN_ASSIGN_OR_RETURN(auto modes, ModeValues(node));
    DType wdt = DType::kUndefined, mdt = DType::kUndefined;
    TIFFIN_ASSIGN_OR_RETURN(auto weights, TensorValues(node, "leaf_weights", &wdt));
    TIFFIN_ASSIGN_OR_RETURN(auto members, TensorValues(node, "membership_values", &mdt));
    if (wdt != a.dtype || (mdt != DType::kUndefined && mdt != a.dtype))
      return Status(Bad(node,
                        "nodes_splits, leaf_weights and membership_values must have one "
                        "element type (the input's)"));

    const size_t n = feats.size();
    const size_t nl = targets.size();
    if (n == 0 || n > kMaxNodes)
      return Status(Bad(node, "nodes_featureids must have 1 to 2^30 values"));
    if (nl == 0 || nl > kMaxNodes)
      return Status(Bad(node, "leaf_targetids must have 1 to 2^30 values"));
    if (roots.empty()) return Status(Bad(node, "tree_roots is empty"));
    auto need = [&](size_t len, size_t want, const char* what, const char* base) -> Status {
      if (len == want) return Status::Ok();
      return Bad(node, std::string(what) + " has " + std::to_string(len) + " values; " + base +
                           " has " + std::to_string(want));
    };
    TIFFIN_RETURN_IF_ERROR(need(splits.size(), n, "nodes_splits", "nodes_featureids"));
    TIFFIN_RETURN_IF_ERROR(need(modes.size(), n, "nodes_modes", "nodes_featureids"));
    TIFFIN_RETURN_IF_ERROR(need(tn.size(), n, "nodes_truenodeids", "nodes_featureids"));
    TIFFIN_RETURN_IF_ERROR(need(tl.size(), n, "nodes_trueleafs", "nodes_featureids"));
    TIFFIN_RETURN_IF_ERROR(need(fn.size(), n, "nodes_falsenodeids", "nodes_featureids"));
    TIFFIN_RETURN_IF_ERROR(need(fl.size(), n, "nodes_falseleafs", "nodes_featureids"));
    if (!miss.empty())
      TIFFIN_RETURN_IF_ERROR(
          need(miss.size(), n, "nodes_missing_value_tracks_true", "nodes_featureids"));
    TIFFIN_RETURN_IF_ERROR(need(weights.size(), nl, "leaf_weights", "leaf_targetids"));

    Forest& f = a.forest;
    auto entry = [](size_t i) { return "nodes_* entry " + std::to_string(i); };
    // One vote per leaf.
    f.leaves.resize(nl);
    f.votes.resize(nl);
    for (size_t k = 0; k < nl; ++k) {
      if (targets[k] < 0 || targets[k] >= a.n_targets)
        return Status(Bad(node, "leaf_targetids[" + std::to_string(k) +
                                    "] = " + std::to_string(targets[k]) + " is out of range [0, " +
                                    std::to_string(a.n_targets) + ")"));
      f.votes[k] = {static_cast<int32_t>(targets[k]), weights[k]};
      f.leaves[k] = {static_cast<int32_t>(k), static_cast<int32_t>(k + 1)};
    }
    // Children index nodes_* or, when the *leafs flag is set, leaf_*.
    auto child = [&](size_t i, int64_t id, int64_t leaf, const char* which) -> Result<int32_t> {
      const size_t limit = leaf ? nl : n;
      if (id < 0 || static_cast<uint64_t>(id) >= limit)
        return Status(Bad(node, entry(i) + " has " + which + " " + std::to_string(id) +
                                    ", out of range [0, " + std::to_string(limit) + ") of the " +
                                    (leaf ? "leaves" : "nodes")));
      return leaf ? LeafRef(static_cast<int32_t>(id)) : static_cast<int32_t>(id);
    };
    f.nodes.resize(n);
    size_t next_member = 0;  // position in membership_values
    for (size_t i = 0; i < n; ++i) {
      Branch& b = f.nodes[i];
      if (modes[i] < 0 || modes[i] > 6)
        return Status(Bad(node, entry(i) + " has mode " + std::to_string(modes[i]) +
                                    " (0 BRANCH_LEQ .. 6 BRANCH_MEMBER)"));
      b.mode = static_cast<Mode>(modes[i]);
      if (feats[i] < 0 || feats[i] > INT32_MAX)
        return Status(Bad(node, entry(i) + " has feature id " + std::to_string(feats[i]) +
                                    ", which is out of range"));
      b.feature = static_cast<int32_t>(feats[i]);
      f.max_feature = std::max(f.max_feature, feats[i]);
      b.split = splits[i];
      b.missing_true = !miss.empty() && miss[i] != 0;
      TIFFIN_ASSIGN_OR_RETURN(b.t, child(i, tn[i], tl[i], "nodes_truenodeids"));
      TIFFIN_ASSIGN_OR_RETURN(b.f, child(i, fn[i], fl[i], "nodes_falsenodeids"));
      if (b.mode == Mode::kMember) {
        // This node's set: the next values of membership_values up to a NaN.
        if (next_member >= members.size())
          return Status(Bad(node,
                            "membership_values has fewer NaN-separated sets than there "
                            "are BRANCH_MEMBER nodes"));
        std::vector<double> s;
        while (next_member < members.size() && !std::isnan(members[next_member]))
          s.push_back(members[next_member++]);
        ++next_member;  // the NaN
        std::sort(s.begin(), s.end());
        b.set = static_cast<int32_t>(f.sets.size());
        f.sets.push_back(std::move(s));
      }
    }
    if (next_member < members.size())
      return Status(Bad(node,
                        "membership_values has more sets than there are BRANCH_MEMBER "
                        "nodes"));
    for (int64_t r : roots) {
      if (r < 0 || static_cast<uint64_t>(r) >= n)
        return Status(Bad(node, "tree_roots value " + std::to_string(r) + " is out of range [0, " +
                                    std::to_string(n) + ")"));
      // A one-leaf tree is a root whose two branches name one leaf; walking
      // it reaches that leaf whatever the input, as the spec reads.
      f.roots.push_back(static_cast<int32_t>(r));
    }
    TIFFIN_RETURN_IF_ERROR(
        CheckForest(node, f, [&](int32_t b) { return entry(static_cast<size_t>(b)); }));
    TIFFIN_RETURN_IF_ERROR(Compile(node, f));
    return a;
  }
};

Status TreeEnsembleCompute(KernelContext& ctx, const TreeEnsembleAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  if (x->dtype() != a.dtype)
    return Status(NotSupported(node.Describe() + ": X has dtype " +
                               std::string(DTypeName(x->dtype())) +
                               ", but the splits and leaf weights are " +
                               std::string(DTypeName(a.dtype)) + " (they must match)"));
  TIFFIN_RETURN_IF_ERROR(CheckWidth(node, a.forest, *x));
  const int64_t k = a.n_targets;
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, a.dtype, Shape{Rows(*x), k}));
  return RunForest(node, *x, a.forest, a.agg, k, false, [&](int64_t i, auto* acc) {
    ml::ApplyPost(a.post, acc, k);
    for (int64_t j = 0; j < k; ++j) {
      if (a.dtype == DType::kFloat64)
        y->data<double>()[i * k + j] = static_cast<double>(acc[j]);
      else if (a.dtype == DType::kFloat32)
        y->data<float>()[i * k + j] = static_cast<float>(acc[j]);
      else
        y->data<Float16>()[i * k + j] = Float16(static_cast<float>(acc[j]));
    }
  });
}

// TreeEnsembleRegressor and TreeEnsembleClassifier are deprecated at
// ai.onnx.ml opset 5 (removed; TreeEnsemble replaces them), so their rows
// end at opset 4. Opset 3 added only the *_as_tensor twins.
const KernelDef kRows[] = {
    {"TreeEnsembleRegressor", "ai.onnx.ml", 1, 4, MakeAttrKernel<TreeRegAttrs, TreeRegCompute>},
    {"TreeEnsembleClassifier", "ai.onnx.ml", 1, 4, MakeAttrKernel<TreeClsAttrs, TreeClsCompute>},
    {"TreeEnsemble", "ai.onnx.ml", 5, 5, MakeAttrKernel<TreeEnsembleAttrs, TreeEnsembleCompute>},
};

}  // namespace

namespace ml {
std::span<const KernelDef> TreeKernels() { return kRows; }
}  // namespace ml

}  // namespace tiffin::kernels
