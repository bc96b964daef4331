// The memtable (columns and read views of its prefix) and the per-version hide
// sets of tombstones.

#include "version.h"

#include <algorithm>

#include "alloc.h"

namespace timelog {

Memtable::Memtable(size_t cap_rows, size_t ooo_cap_rows)
    : cap_(cap_rows),
      ooo_cap_(ooo_cap_rows),
      ts_(NewArray<int64_t>(
          cap_rows, "the memtable's timestamp column (memtable_max_bytes)")),
      h_(NewArray<uint64_t>(
          cap_rows, "the memtable's object column (memtable_max_bytes)")),
      ots_(NewArray<int64_t>(
          ooo_cap_rows,
          "the memtable's out-of-order timestamps (ooo_budget_bytes)")),
      oh_(NewArray<uint64_t>(
          ooo_cap_rows,
          "the memtable's out-of-order objects (ooo_budget_bytes)")) {}

std::shared_ptr<const Run> Memtable::InorderView(size_t n,
                                                 size_t page_rows) const {
  if (n == 0) return nullptr;
  MutexLock lock(&cache_mu_);
  if (in_cache_ && in_cache_n_ == n) return in_cache_;
  // No owner: the cache must not keep its memtable alive (that would be a
  // cycle); every holder of this view also holds the Version owning `this`.
  // The view is rebuilt whenever rows were appended, so its index is coarse
  // (one key per page, as cheap to build as the old per-page fence); point
  // lookups do not use it (they search the memtable columns directly).
  in_cache_ =
      Run::Wrap(ts_.get(), h_.get(), n, page_rows, nullptr, 0, page_rows);
  in_cache_n_ = n;
  return in_cache_;
}

std::shared_ptr<const Run> Memtable::OooView(size_t on,
                                             const std::vector<MemMark>& marks,
                                             size_t page_rows) const {
  if (on == 0) return nullptr;
  MutexLock lock(&cache_mu_);
  if (cache_ && cache_on_ == on && cache_marks_ == marks.size()) return cache_;
  std::vector<uint32_t> idx;
  idx.reserve(on);
  for (size_t i = 0; i < on; ++i) {
    if (!OooHidden(marks, i, ots_[i])) idx.push_back(static_cast<uint32_t>(i));
  }
  std::shared_ptr<const Run> view;
  if (!idx.empty()) {
    ColumnBuilder b;
    AppendStableSorted(ots_.get(), oh_.get(), idx, &b);
    view = Run::FromBuilder(std::move(b), page_rows);
  }
  cache_ = view;
  cache_on_ = on;
  cache_marks_ = marks.size();
  return view;
}

std::shared_ptr<const HideSet> Version::Hide(uint64_t applied_seq) const {
  if (applied_seq >= last_seq || tomb_n == 0) return nullptr;
  MutexLock lock(&hide_mu_);
  auto it = hide_cache_.find(applied_seq);
  if (it != hide_cache_.end()) return it->second;
  const Tombstone* t = tombs->items();
  // Tombstones are stored in sequence order.
  size_t first = std::upper_bound(
                     t, t + tomb_n, applied_seq,
                     [](uint64_t s, const Tombstone& x) { return s < x.seq; }) -
                 t;
  std::shared_ptr<const HideSet> result;
  if (first < tomb_n) {
    auto hs = std::make_shared<HideSet>();
    hs->reserve(tomb_n - first);
    for (size_t i = first; i < tomb_n; ++i) hs->emplace_back(t[i].lo, t[i].hi);
    std::sort(hs->begin(), hs->end());
    size_t w = 0;
    for (size_t i = 1; i < hs->size(); ++i) {
      auto& cur = (*hs)[w];
      const auto& nx = (*hs)[i];
      // Merge overlapping or adjacent intervals (cur.second + 1 without
      // overflow).
      if (nx.first <= cur.second ||
          (cur.second != kMaxTs && nx.first == cur.second + 1)) {
        cur.second = std::max(cur.second, nx.second);
      } else {
        (*hs)[++w] = nx;
      }
    }
    hs->resize(w + 1);
    result = std::move(hs);
  }
  hide_cache_.emplace(applied_seq, result);
  return result;
}

const std::pair<int64_t, int64_t>* HideAt(const HideSet& hs, int64_t v) {
  auto it = std::lower_bound(hs.begin(), hs.end(), v,
                             [](const std::pair<int64_t, int64_t>& iv,
                                int64_t x) { return iv.second < x; });
  if (it != hs.end() && it->first <= v) return &*it;
  return nullptr;
}

void VisibleRanges(const Run& run, size_t b, size_t e, const HideSet* hide,
                   std::vector<IdxRange>* out) {
  if (b >= e) return;
  if (hide == nullptr || hide->empty()) {
    out->push_back({b, e});
    return;
  }
  const int64_t* ts = run.ts();
  int64_t first = ts[b];
  int64_t last = ts[e - 1];
  // First interval that can overlap [first, last].
  auto it = std::lower_bound(hide->begin(), hide->end(), first,
                             [](const std::pair<int64_t, int64_t>& iv,
                                int64_t v) { return iv.second < v; });
  size_t pos = b;
  for (; it != hide->end() && it->first <= last; ++it) {
    size_t hb = std::max(pos, run.LowerBound(it->first));
    size_t he = std::min(e, run.UpperBound(it->second));
    if (hb >= he) continue;
    if (hb > pos) out->push_back({pos, hb});
    pos = he;
  }
  if (pos < e) out->push_back({pos, e});
}

}  // namespace timelog
