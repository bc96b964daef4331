// EngineState: the first version, the drop report and the fork's wait for
// readers.

#include "engine_state.h"

#include <algorithm>
#include <thread>

namespace timelog {

EngineState::EngineState(const Config& cfg)
    : cfg_(cfg),
      page_rows_(std::max<size_t>(16, cfg.target_page_bytes / 16)),
      mem_cap_(std::max<size_t>(64, cfg.memtable_max_bytes / 16)),
      ooo_cap_(std::max<size_t>(1, cfg.ooo_budget_bytes / 16)) {
  auto v = std::make_shared<Version>();
  v->l1 = std::make_shared<const WindowList>();
  v->mem = std::make_shared<Memtable>(mem_cap_, ooo_cap_);
  v->marks = std::make_shared<const std::vector<MemMark>>();
  v->tombs = std::make_shared<TombLog>(16);
  current_ = std::move(v);
}

void EngineState::Report(const std::vector<uint64_t>& dropped, void* token) {
  if (dropped.empty()) return;
  // relaxed: a statistics counter (EngineCounters).
  counters_.records_dropped.fetch_add(dropped.size(),
                                      std::memory_order_relaxed);
  if (token != nullptr) {
    cfg_.drop_commit(cfg_.drop_ctx, token, dropped.data(), dropped.size());
  } else if (cfg_.on_drop) {
    cfg_.on_drop(cfg_.drop_ctx, dropped.data(), dropped.size());
  }
}

void EngineState::WaitForReadersToLeave() const {
  // With mu held no engine reader call can start; wait for the ones already
  // past it, which still take the memtable's and the version's cache mutexes
  // (those objects are shared with snapshots, so the child could not re-create
  // them). They hold no engine lock and wait for nothing, so this ends.
  // acquire: pairs with LeaveRead's release.
  while (readers_inside_.load(std::memory_order_acquire) != 0) {
    std::this_thread::yield();
  }
}

}  // namespace timelog
