// Clean shutdown on SIGTERM and SIGINT: main() blocks both before starting
// any thread, so every thread inherits the mask and only
// WaitForTerminationSignal() receives them.
#ifndef SHOPLIST_SERVICES_COMMON_SIGNALS_H_
#define SHOPLIST_SERVICES_COMMON_SIGNALS_H_

#include <pthread.h>
#include <signal.h>

namespace shoplist {

inline sigset_t TerminationSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

// REQUIRES: called before any thread starts.
inline void BlockTerminationSignals() {
  sigset_t signals = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

// Blocks until SIGTERM or SIGINT; returns the signal.
inline int WaitForTerminationSignal() {
  sigset_t signals = TerminationSignals();
  int signal = 0;
  sigwait(&signals, &signal);
  return signal;
}

}  // namespace shoplist

#endif  // SHOPLIST_SERVICES_COMMON_SIGNALS_H_
