// How a front-end tells a person that a call of the client library
// failed: the process exit code of shoplist-cli and the HTTP status of the
// page's API, side by side so the two front-ends cannot disagree about
// what is bad input and what is a failure.
//
//   absl::Status          exit  HTTP
//   OK                      0   200
//   INVALID_ARGUMENT        2   400  bad input: fix the command
//   OUT_OF_RANGE            1   400  the change would break a limit
//   NOT_FOUND               1   404
//   FAILED_PRECONDITION     1   409  ambiguous name, unsynced changes, ...
//   RESOURCE_EXHAUSTED      1   409  a list full of items
//   PERMISSION_DENIED       1   403
//   UNAVAILABLE             1   503  home busy, cloud needed but offline
//   anything else           1   500
//
// A change that is stored but whose sync failed is not an error of the
// call (its SyncReport says so); the CLI exits 1 for it, the page answers
// 200 and shows the report.
#ifndef SHOPLIST_CLIENTS_CORE_STATUS_CODES_H_
#define SHOPLIST_CLIENTS_CORE_STATUS_CODES_H_

#include "absl/status/status.h"

namespace shoplist::client {

int ExitCode(const absl::Status& status);
int HttpStatus(const absl::Status& status);

}  // namespace shoplist::client

#endif  // SHOPLIST_CLIENTS_CORE_STATUS_CODES_H_
