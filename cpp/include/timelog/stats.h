// timelog engine statistics: the Stats snapshot and the one list of its fields.
//
// TIMELOG_STATS(X) is the single definition of every counter, as
// X(section, type, name). It declares the fields of Stats and StatsEntries(),
// which the Python binding turns into stats()'s nested dict by a loop, so a
// counter added here appears there with no other change.
//
// Thread safety: Stats is a plain value (Engine::GetStats fills one from a
// consistent read state); StatsEntries is a pure function.

#ifndef TIMELOG_STATS_H_
#define TIMELOG_STATS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace timelog {

using OptionalTs = std::optional<int64_t>;  // absent when the log is empty

// X(section, type, name). Sections and fields in the order stats() shows them.
//   segments_l1       runs in L1 windows
//   records_estimate  exact visible count
//   records_physical  stored records, tombstoned ones included
//   engine_bytes      bytes held by record storage and index
//   window_size       the current (possibly adaptive) L1 window
//   records_dropped   handles reported through the drop callback
#define TIMELOG_STATS(X)                       \
  X(storage, uint64_t, segments_l0)            \
  X(storage, uint64_t, segments_l1)            \
  X(storage, uint64_t, windows_l1)             \
  X(storage, uint64_t, pages_total)            \
  X(storage, uint64_t, records_estimate)       \
  X(storage, uint64_t, records_physical)       \
  X(storage, OptionalTs, min_ts)               \
  X(storage, OptionalTs, max_ts)               \
  X(storage, uint64_t, tombstone_count)        \
  X(storage, uint64_t, engine_bytes)           \
  X(storage, int64_t, window_size)             \
  X(memtable, uint64_t, active_records)        \
  X(memtable, uint64_t, ooo_records)           \
  X(memtable, uint64_t, sealed_runs)           \
  X(operational, uint64_t, seals_total)        \
  X(operational, uint64_t, ooo_budget_hits)    \
  X(operational, uint64_t, backpressure_waits) \
  X(operational, uint64_t, flushes_total)      \
  X(operational, uint64_t, compactions_total)  \
  X(operational, uint64_t, compaction_retries) \
  X(operational, uint64_t, windows_dropped)    \
  X(operational, uint64_t, records_dropped)

struct Stats {
#define TIMELOG_STATS_FIELD(section, type, name) type name{};
  TIMELOG_STATS(TIMELOG_STATS_FIELD)
#undef TIMELOG_STATS_FIELD
};

// One field of a Stats, for generic consumers.
struct StatsEntry {
  const char* section;  // static strings
  const char* name;
  bool present;  // false: an absent optional (min_ts / max_ts of an empty log)
  bool is_signed;  // the value is `i` (int64_t fields), else `u`
  uint64_t u;
  int64_t i;
};

// The fields of `s`, in TIMELOG_STATS order.
std::vector<StatsEntry> StatsEntries(const Stats& s);

}  // namespace timelog

#endif  // TIMELOG_STATS_H_
