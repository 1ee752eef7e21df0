#include "services/common/crash_stacks.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <ucontext.h>

#include <cstdint>
#include <cstring>

#include "absl/debugging/failure_signal_handler.h"
#include "absl/debugging/stacktrace.h"
#include "absl/debugging/symbolize.h"

namespace shoplist {
namespace {

// Called by Abseil, from the signal handler when `uc` is the signal's
// context: async-signal-safe (libunwind's local unwinding is; nothing here
// allocates). With a context, the stack starts at the interrupted frame
// and `skip_count` (which counts the handler's own frames) is not needed.
int UnwindFromTables(void** pcs, int* sizes, int max_depth, int skip_count,
                     const void* uc, int* min_dropped_frames) {
  unw_context_t context;
  unw_cursor_t cursor;
  int count = 0;
  int skip = 0;
  if (uc != nullptr) {
    static_assert(sizeof(unw_context_t) == sizeof(ucontext_t));
    std::memcpy(&context, uc, sizeof context);
    if (unw_init_local2(&cursor, &context, UNW_INIT_SIGNAL_FRAME) < 0) {
      return 0;
    }
    // libunwind makes up a one-byte procedure where no unwind table
    // covers the PC.
    unw_proc_info_t info;
    if (unw_get_proc_info(&cursor, &info) < 0 ||
        info.end_ip <= info.start_ip + 1) {
      // No code known at the PC: the process jumped to a bad address, most
      // likely by a call, whose return address is then on top of the
      // stack. Report the PC, and unwind from the caller.
      unw_word_t pc = 0;
      unw_get_reg(&cursor, UNW_REG_IP, &pc);
      if (max_depth > 0) {
        pcs[count] = reinterpret_cast<void*>(pc);
        if (sizes != nullptr) sizes[count] = 0;
        ++count;
      }
      greg_t* regs = context.uc_mcontext.gregs;
      const auto* top = reinterpret_cast<const uintptr_t*>(regs[REG_RSP]);
      regs[REG_RIP] = static_cast<greg_t>(top[0]);
      regs[REG_RSP] += sizeof(uintptr_t);
      if (unw_init_local2(&cursor, &context, 0) < 0) return count;
    }
  } else {
    unw_getcontext(&context);
    if (unw_init_local(&cursor, &context) < 0) return 0;
    skip = skip_count + 1;  // and this function
  }
  int dropped = 0;
  do {
    unw_word_t pc = 0;
    if (unw_get_reg(&cursor, UNW_REG_IP, &pc) < 0 || pc == 0) break;
    if (skip > 0) {
      --skip;
    } else if (count < max_depth) {
      pcs[count] = reinterpret_cast<void*>(pc);
      if (sizes != nullptr) sizes[count] = 0;
      ++count;
    } else {
      ++dropped;
    }
  } while (unw_step(&cursor) > 0 && dropped < 64);
  if (min_dropped_frames != nullptr) *min_dropped_frames = dropped;
  return count;
}

}  // namespace

void InstallCrashStacks(const char* argv0) {
  absl::InitializeSymbolizer(argv0);
  absl::SetStackUnwinder(UnwindFromTables);
  // libunwind reads its tables lazily; a first unwind now keeps that out of
  // the signal handler.
  void* warm[4];
  absl::GetStackTrace(warm, 4, 0);
  absl::InstallFailureSignalHandler(absl::FailureSignalHandlerOptions());
}

}  // namespace shoplist
