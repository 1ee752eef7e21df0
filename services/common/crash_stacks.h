// Crash reports that say where: a server that dies of a signal (SIGSEGV,
// SIGABRT, SIGBUS, SIGILL, SIGFPE, SIGTRAP) writes the signal, the faulting
// PC and a symbolized stack to stderr (its log) before it dies with that
// signal, so a core is still dumped where cores are on.
//
// Abseil's failure handler prints the report; its own unwinder on x86-64
// follows frame pointers, which Debian's libraries (libc, libstdc++,
// gRPC) omit, so a crash inside them printed one bogus frame. The stack is
// taken instead by libunwind from the unwind tables every library carries
// (.eh_frame), through the signal frame. A crash at an address with no
// code (a call through a freed object's vtable, the usual shape of a
// use-after-free) is unwound from the return address its call left on the
// stack.
#ifndef SHOPLIST_SERVICES_COMMON_CRASH_STACKS_H_
#define SHOPLIST_SERVICES_COMMON_CRASH_STACKS_H_

namespace shoplist {

// Installs the handler for the process; `argv0` finds the binary's symbols.
// Call once, early in main, before threads start.
void InstallCrashStacks(const char* argv0);

}  // namespace shoplist

#endif  // SHOPLIST_SERVICES_COMMON_CRASH_STACKS_H_
