// Column-array allocation that names what failed.
//
// Every large array the engine owns (memtable columns, run columns, the
// tombstone log) is allocated through NewArray, so an allocation failure
// surfaces as timelog::AllocationError whose message says which structure,
// how many elements and how many bytes. Nothing is allocated on the failure
// path except the message itself; if even that fails, the plain
// std::bad_alloc propagates.

#ifndef TIMELOG_SRC_ALLOC_H_
#define TIMELOG_SRC_ALLOC_H_

#include <cstddef>
#include <cstdio>
#include <memory>
#include <new>
#include <string>

#include "timelog/engine.h"

namespace timelog {

// "could not allocate <what>: <n> rows x <size> bytes = <human size>".
[[noreturn]] inline void ThrowAllocationError(const char* what, size_t n,
                                              size_t elem_size) {
  const long double bytes = static_cast<long double>(n) * elem_size;
  static const char* const kUnits[] = {"bytes", "KiB", "MiB", "GiB",
                                       "TiB",   "PiB", "EiB"};
  long double shown = bytes;
  int unit = 0;
  while (shown >= 1024 && unit < 6) {
    shown /= 1024;
    ++unit;
  }
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "could not allocate %s: %zu rows x %zu bytes = %.1Lf %s", what,
                n, elem_size, shown, kUnits[unit]);
  throw AllocationError(buf);
}

template <class T>
std::unique_ptr<T[]> NewArray(size_t n, const char* what) {
  try {
    return std::unique_ptr<T[]>(new T[n]);
  } catch (const std::bad_alloc&) {
    ThrowAllocationError(what, n, sizeof(T));
  }
}

}  // namespace timelog

#endif  // TIMELOG_SRC_ALLOC_H_
