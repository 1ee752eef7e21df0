// Lets people write flags the way the docs show them (--read-quorum) even
// though Abseil flag names use underscores (read_quorum): rewrites the name
// part of every "--name[=value]" argument in place, before ParseCommandLine.
#ifndef SHOPLIST_SERVICES_COMMON_FLAG_NAMES_H_
#define SHOPLIST_SERVICES_COMMON_FLAG_NAMES_H_

#include <cstring>

namespace shoplist {

inline void NormalizeFlagNames(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    char* arg = argv[i];
    if (std::strcmp(arg, "--") == 0) return;  // the rest are not flags
    if (std::strncmp(arg, "--", 2) != 0) continue;
    for (char* p = arg + 2; *p != '\0' && *p != '='; ++p) {
      if (*p == '-') *p = '_';
    }
  }
}

}  // namespace shoplist

#endif  // SHOPLIST_SERVICES_COMMON_FLAG_NAMES_H_
