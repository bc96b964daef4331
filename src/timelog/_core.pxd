# cython: language_level=3
"""Declarations of the C++ engine API used by timelog._core.

Pure declarations, no code: everything here names something in
cpp/include/timelog/*.h, plus the one C++ -> Python exception translator
(src/timelog/_translate.h), declared here where the `except +` clauses can see
it. Every call that can throw is declared `except +_translate_cpp_exception`, so
C++ exceptions are converted into Python exceptions in exactly one place.
"""

from libc.stdint cimport int64_t, uint32_t, uint64_t
from libcpp cimport bool as cbool
from libcpp.memory cimport shared_ptr, unique_ptr
from libcpp.optional cimport optional
from libcpp.string cimport string
from libcpp.vector cimport vector


# The single C++ -> Python exception translator (_translate.h, next to this file).
# Cython calls it inside the `catch (...)` of every `except +_translate_cpp_exception`
# call, with the GIL held.
cdef extern from "_translate.h":
    void _set_error_class "timelog_set_error_class"(object cls)
    void _translate_cpp_exception "timelog_translate_cpp_exception"() nogil


cdef extern from "timelog/types.h" namespace "timelog" nogil:
    const int64_t kMinTs
    const int64_t kMaxTs

    cdef struct CRecord "timelog::Record":
        int64_t ts
        uint64_t handle

    cdef enum class CWriteResult "timelog::WriteResult":
        kOk "timelog::WriteResult::kOk"
        kBusy "timelog::WriteResult::kBusy"

    cdef cppclass CPageSpan "timelog::PageSpan":
        const int64_t* ts
        const uint64_t* handles
        size_t size
        # `owner` (std::shared_ptr<const void>) keeps the page alive; it is
        # copied along with the struct and never touched directly.


cdef extern from "timelog/options.h" namespace "timelog" nogil:
    # Engine defaults; the option table in _options.py must agree.
    const uint64_t kDefaultMemtableMaxBytes
    const uint32_t kDefaultSealedMaxRuns
    const uint32_t kDefaultMaintenanceWakeupMs
    const uint64_t kDefaultTargetPageBytes
    const uint32_t kDefaultMaxDeltaSegments
    const uint64_t kDefaultTargetRecords
    const uint32_t kDefaultHysteresisPct
    const double kDefaultAlpha
    const uint32_t kDefaultWarmupFlushes

    ctypedef void* (*CDropReserveFn "timelog::DropReserveFn")(void* ctx, size_t n) noexcept nogil
    ctypedef void (*CDropCommitFn "timelog::DropCommitFn")(
        void* ctx, void* token, const uint64_t* handles, size_t n) noexcept nogil
    ctypedef void (*CDropCancelFn "timelog::DropCancelFn")(void* ctx, void* token) noexcept nogil

    cdef enum class CMaintenanceMode "timelog::MaintenanceMode":
        kBackground "timelog::MaintenanceMode::kBackground"
        kDisabled "timelog::MaintenanceMode::kDisabled"

    cdef cppclass CCompactionConfig "timelog::CompactionConfig":
        uint64_t target_bytes
        uint32_t max_inputs
        uint32_t max_windows

    cdef cppclass CAdaptiveConfig "timelog::AdaptiveConfig":
        cbool enabled
        uint64_t target_records
        int64_t min_window
        int64_t max_window
        uint32_t hysteresis_pct
        int64_t window_quantum
        double alpha
        uint32_t warmup_flushes
        uint32_t stale_flushes

    cdef cppclass CConfig "timelog::Config":
        CMaintenanceMode maintenance
        uint64_t memtable_max_bytes
        uint64_t ooo_budget_bytes
        uint32_t sealed_max_runs
        uint32_t maintenance_wakeup_ms
        uint64_t target_page_bytes
        uint32_t max_delta_segments
        int64_t window_size
        int64_t window_origin
        double delete_debt_threshold
        CCompactionConfig compaction
        CAdaptiveConfig adaptive
        void* drop_ctx
        CDropReserveFn drop_reserve
        CDropCommitFn drop_commit
        CDropCancelFn drop_cancel


cdef extern from "timelog/stats.h" namespace "timelog" nogil:
    cdef cppclass CStats "timelog::Stats":
        pass   # read through StatsEntries

    cdef struct CStatsEntry "timelog::StatsEntry":
        const char* section
        const char* name
        cbool present
        cbool is_signed
        uint64_t u
        int64_t i

    vector[CStatsEntry] StatsEntries(const CStats& s) except +_translate_cpp_exception


cdef extern from "timelog/engine.h" namespace "timelog" nogil:
    cdef cppclass CCursor "timelog::Cursor":
        size_t Next(CRecord* out, size_t cap) except +_translate_cpp_exception
        size_t NextColumns(int64_t* ts, uint64_t* handles, size_t cap) except +_translate_cpp_exception
        unique_ptr[CCursor] Reversed() except +_translate_cpp_exception const
        uint64_t Remaining() const

    cdef cppclass CSnapshot "timelog::Snapshot":
        optional[int64_t] Ceil(int64_t t) except +_translate_cpp_exception const
        optional[int64_t] Floor(int64_t t) except +_translate_cpp_exception const
        optional[int64_t] MinTs() except +_translate_cpp_exception const
        optional[int64_t] MaxTs() except +_translate_cpp_exception const
        unique_ptr[CCursor] Range(int64_t lo, int64_t hi, cbool reverse) except +_translate_cpp_exception const
        vector[CPageSpan] PageSpans(int64_t lo, int64_t hi) except +_translate_cpp_exception const
        void CountBy(int64_t lo, int64_t hi, int64_t origin, int64_t every, int64_t* starts,
                     uint64_t* counts, size_t nbuckets) except +_translate_cpp_exception const

    cdef cppclass CEngine "timelog::Engine":
        @staticmethod
        unique_ptr[CEngine] Create(const CConfig& config) except +_translate_cpp_exception

        CWriteResult Append(int64_t ts, uint64_t handle) except +_translate_cpp_exception
        CWriteResult AppendBatch(const int64_t* ts, const uint64_t* handles, size_t n) except +_translate_cpp_exception
        bint AdoptSortedBatch(vector[int64_t]* ts, vector[uint64_t]* h, CWriteResult* result) except +_translate_cpp_exception
        CWriteResult Delete(int64_t lo, int64_t hi) except +_translate_cpp_exception
        CWriteResult Cutoff(int64_t t) except +_translate_cpp_exception

        cbool WaitForRoom(uint32_t timeout_ms) except +_translate_cpp_exception

        void Flush() except +_translate_cpp_exception
        cbool MaintStep() except +_translate_cpp_exception
        void Compact() except +_translate_cpp_exception
        void StartMaintenance() except +_translate_cpp_exception
        void StopMaintenance() except +_translate_cpp_exception
        cbool MaintenanceRunning() except +_translate_cpp_exception const
        # fork hooks (engine.h, "Thread safety"); noexcept in C++
        void PrepareFork()
        void AfterForkParent()
        void AfterForkChild()

        shared_ptr[const CSnapshot] GetSnapshot() except +_translate_cpp_exception const
        # One-shot reads on the current state (no snapshot allocation).
        uint64_t Count(int64_t lo, int64_t hi) except +_translate_cpp_exception const
        optional[int64_t] Ceil(int64_t t) except +_translate_cpp_exception const
        optional[int64_t] Floor(int64_t t) except +_translate_cpp_exception const
        cbool Contains(int64_t t) except +_translate_cpp_exception const
        void Equal(int64_t t, vector[uint64_t]* out) except +_translate_cpp_exception const
        unique_ptr[CCursor] Range(int64_t lo, int64_t hi, cbool reverse) except +_translate_cpp_exception const
        CStats GetStats() except +_translate_cpp_exception const
        string CheckInvariants() except +_translate_cpp_exception const

        void CollectHandles(vector[uint64_t]* out) except +_translate_cpp_exception

    uint64_t BucketCount(int64_t lo, int64_t hi, int64_t origin, int64_t every) except +_translate_cpp_exception


cdef extern from "timelog/retire_stack.h" namespace "timelog" nogil:
    cdef cppclass CRetireStack "timelog::RetireStack":
        CRetireStack() except +_translate_cpp_exception
        void* Reserve(size_t n) noexcept
        void PushReserved(void* token, const uint64_t* handles, size_t n) noexcept
        @staticmethod
        void CancelReserved(void* token) noexcept
        size_t PopBatch(vector[uint64_t]* out, size_t limit) except +_translate_cpp_exception
        size_t queued() noexcept
        uint64_t pushed_total() noexcept
        uint64_t alloc_failures() noexcept


cdef extern from "timelog/fair_lock.h" namespace "timelog" nogil:
    cdef cppclass CFairLock "timelog::FairLock":
        CFairLock() except +_translate_cpp_exception
        uint64_t Ticket() noexcept
        cbool Serving(uint64_t t) noexcept
        cbool Idle() noexcept
        void Wait(uint64_t t) except +_translate_cpp_exception
        void Release() noexcept
        void Reset() noexcept
