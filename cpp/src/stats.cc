// StatsEntries: a Stats as a flat list of (section, name, value) entries.

#include "timelog/stats.h"

namespace timelog {
namespace {

void Fill(StatsEntry* e, uint64_t v) { e->u = v; }
void Fill(StatsEntry* e, int64_t v) {
  e->is_signed = true;
  e->i = v;
}
void Fill(StatsEntry* e, const OptionalTs& v) {
  e->is_signed = true;
  e->present = v.has_value();
  e->i = v.value_or(0);
}

}  // namespace

std::vector<StatsEntry> StatsEntries(const Stats& s) {
  std::vector<StatsEntry> out;
#define TIMELOG_STATS_ENTRY(section, type, name)      \
  {                                                   \
    StatsEntry e{#section, #name, true, false, 0, 0}; \
    Fill(&e, s.name);                                 \
    out.push_back(e);                                 \
  }
  TIMELOG_STATS(TIMELOG_STATS_ENTRY)
#undef TIMELOG_STATS_ENTRY
  return out;
}

}  // namespace timelog
