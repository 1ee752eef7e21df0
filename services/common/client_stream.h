// The client side of a long-lived bidirectional stream that its owner
// writes to from any thread: the proxy's Calls stream to a node
// (NodeCalls), a node's store and fetch streams to a peer (BatchStream).
//
// Why this exists. gRPC frees a client stream's state as soon as its last
// operation completes, and only then runs OnDone. An owner that starts a
// write outside a reaction (a call submitted on another thread) can do so
// in that moment, and the write then runs on freed memory: when a node
// drained on SIGTERM it ended its streams, and the proxy, still
// submitting, crashed ("pure virtual method called", SIGSEGV). So the
// stream holds itself open (gRPC's AddHold) for as long as its owner may
// write, and lets go only after telling the owner that its reads ended,
// which a stream always gets when it ends for any reason (the server's
// finish, an error, a cancellation), since a read is always pending.
//
// Model. Start opens the stream with one read pending. Every message read
// goes to `owner->OnStreamRead(in)`, then the next read starts. When the
// reads end, `owner->OnStreamReadsEnded()` runs; from its return on the
// owner must start no write (it clears, under its own lock, whatever lets
// it write). Each write's completion goes to `owner->OnStreamWriteDone`.
// Once gRPC is done, `owner->OnStreamDone(status)` runs, the reactor and
// its ClientContext are deleted, and then `owner->OnStreamGone()` runs, so
// an owner that waits for it knows the stream's memory is gone.
//
// Thread-safety: the owner starts writes (StartWrite on `out`) under its
// own lock, only while it has not been told the reads ended, and at most
// one at a time. It may TryCancel `context` until OnStreamDone.
#ifndef SHOPLIST_SERVICES_COMMON_CLIENT_STREAM_H_
#define SHOPLIST_SERVICES_COMMON_CLIENT_STREAM_H_

#include "grpcpp/client_context.h"
#include "grpcpp/support/client_callback.h"

namespace shoplist {

template <typename Owner, typename Out, typename In>
class ClientStream final : public grpc::ClientBidiReactor<Out, In> {
 public:
  // Opens a stream for `owner` with `open(context, reactor)`, which binds
  // the reactor to its method (stub->async()->Method(context, reactor)).
  template <typename Open>
  static ClientStream* Start(Owner* owner, Open open) {
    auto* stream = new ClientStream(owner);
    open(&stream->context, stream);
    stream->AddHold();
    stream->StartRead(&stream->in);
    stream->StartCall();
    return stream;
  }

  void OnWriteDone(bool ok) override { owner_->OnStreamWriteDone(ok); }

  void OnReadDone(bool ok) override {
    if (ok) {
      owner_->OnStreamRead(in);
      this->StartRead(&in);
      return;
    }
    owner_->OnStreamReadsEnded();
    this->RemoveHold();
  }

  void OnDone(const grpc::Status& status) override {
    Owner* owner = owner_;
    owner->OnStreamDone(status);
    delete this;  // and its ClientContext, before the owner may go
    owner->OnStreamGone();
  }

  grpc::ClientContext context;
  // What the owner writes, and what each read fills.
  Out out;
  In in;

 private:
  explicit ClientStream(Owner* owner) : owner_(owner) {}

  Owner* const owner_;
};

}  // namespace shoplist

#endif  // SHOPLIST_SERVICES_COMMON_CLIENT_STREAM_H_
