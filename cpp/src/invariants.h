// CheckInvariants: the structural invariants of one version, checked
// exhaustively.

#ifndef TIMELOG_INVARIANTS_H_
#define TIMELOG_INVARIANTS_H_

#include <string>

#include "version.h"

namespace timelog {

// Returns "" if `v` is well formed, else a description of the first violation:
//   tombstones: lo <= hi, sequence numbers strictly increasing and <= last_seq;
//   every run (sealed, L0, L1): non-empty, sorted by timestamp, applied_seq <=
//     last_seq, and its search index (LowerBound / UpperBound) agrees with a
//     linear scan at every distinct timestamp;
//   L1: windows lo <= hi, sorted and disjoint, each run inside its window;
//   memtable: published rows within capacity, in-order rows sorted, marks
//     within the published rows.
// O(records * log(page)). Any thread, on an immutable version.
std::string CheckInvariants(const Version& v);

}  // namespace timelog

#endif  // TIMELOG_INVARIANTS_H_
