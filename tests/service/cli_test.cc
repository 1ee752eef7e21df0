// The CLI's client logic in-process: SyncEngine against gRPC's generated
// gMock stubs of ListService, and Cli commands on a real LocalStore in a
// temporary home with a fake cloud behind the mocked stubs (a ListState per
// list that merges what a Sync sends and answers what the caller lacks).
#include "clients/cli/cli.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/cli/local_store.h"
#include "clients/cli/sync_engine.h"
#include "codec/list_codec.h"
#include "crdt/list_id.h"
#include "crdt/list_state.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "shoplist/v1/list_service_mock.grpc.pb.h"
#include "tests/support/temp_dir.h"

namespace shoplist::cli {
namespace {

using ::testing::_;
using ::testing::DoAll;
using ::testing::HasSubstr;
using ::testing::InSequence;
using ::testing::Invoke;
using ::testing::IsEmpty;
using ::testing::NiceMock;
using ::testing::Not;
using ::testing::Return;
using ::testing::SaveArg;
using ::testing::StrictMock;

using MockStub = v1::MockListServiceStub;
using Stubs = std::vector<std::unique_ptr<v1::ListService::StubInterface>>;

constexpr crdt::ReplicaId kMe = 0xA11CE;
constexpr crdt::ReplicaId kBob = 0xB0B;

grpc::Status Unavailable() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "proxy unreachable");
}

std::string ListId() {
  absl::StatusOr<std::string> id = crdt::NewListId();
  EXPECT_TRUE(id.ok()) << id.status();
  return id.ok() ? *id : std::string("aaaaaaaaaaaaaaaaaaaaaaaaaa");
}

// Wanted of `name`, or -1 when the item is absent.
int64_t WantedOf(const crdt::ListState& state, const std::string& name) {
  auto it = state.items().find(name);
  return it == state.items().end() ? -1 : it->second.Wanted();
}

crdt::ListState Decoded(const v1::ListState& message) {
  absl::StatusOr<crdt::ListState> state = codec::DecodeState(message);
  EXPECT_TRUE(state.ok()) << state.status();
  return state.ok() ? *std::move(state) : crdt::ListState();
}

crdt::CausalContext Decoded(const v1::CausalContext& message) {
  absl::StatusOr<crdt::CausalContext> context = codec::DecodeContext(message);
  EXPECT_TRUE(context.ok()) << context.status();
  return context.ok() ? *std::move(context) : crdt::CausalContext();
}

// An action answering a Sync with `missing`.
auto Answer(const crdt::ListState& missing) {
  return [missing](grpc::ClientContext*, const v1::SyncRequest&,
                   v1::SyncResponse* response) {
    codec::EncodeState(missing, response->mutable_missing());
    response->set_acks(2);
    return grpc::Status::OK;
  };
}

// Builds `count` stubs of mock type M, handing ownership to the returned
// vector and the raw pointers to `mocks`.
template <typename M>
Stubs MakeStubs(int count, std::vector<M*>* mocks) {
  Stubs stubs;
  for (int i = 0; i < count; ++i) {
    auto stub = std::make_unique<M>();
    mocks->push_back(stub.get());
    stubs.push_back(std::move(stub));
  }
  return stubs;
}

void ExpectSameList(const LocalList& actual, const LocalList& expected) {
  EXPECT_EQ(actual.id, expected.id);
  EXPECT_EQ(actual.state, expected.state);
  EXPECT_EQ(actual.pending, expected.pending);
  EXPECT_EQ(actual.on_server, expected.on_server);
  EXPECT_EQ(actual.awaiting_fetch, expected.awaiting_fetch);
}

// ---------------------------------------------------------------------------
// SyncEngine
// ---------------------------------------------------------------------------

class SyncEngineTest : public ::testing::Test {
 protected:
  // A list this home created: its creation and `item` (2 wanted) pending.
  LocalList NewLocalList(const std::string& item = "milk") {
    LocalList list;
    list.id = ListId();
    crdt::ListState create = *list.state.Create(kMe, "groceries", 1);
    crdt::ListState add = *list.state.Add(kMe, item, 2);
    list.pending = create;
    list.pending.Merge(add);
    return list;
  }

  // Bob's replica of the same list, with a change this home lacks.
  crdt::ListState BobsChange(const LocalList& list) {
    crdt::ListState bob = list.state;
    return *bob.Add(kBob, "bread", 1);
  }
};

TEST_F(SyncEngineTest, EveryProxyUnavailableIsOfflineAndLeavesListAlone) {
  std::vector<StrictMock<MockStub>*> mocks;
  SyncEngine engine(MakeStubs(2, &mocks), absl::Seconds(1));
  EXPECT_CALL(*mocks[0], Sync(_, _, _)).WillOnce(Return(Unavailable()));
  EXPECT_CALL(*mocks[1], Sync(_, _, _)).WillOnce(Return(Unavailable()));

  LocalList list = NewLocalList();
  const LocalList before = list;
  absl::StatusOr<SyncOutcome> outcome = engine.Sync(list);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, SyncOutcome::kOffline);
  ExpectSameList(list, before);
  EXPECT_FALSE(list.pending.empty());
}

TEST_F(SyncEngineTest, NoProxyAtAllIsOffline) {
  SyncEngine engine(Stubs(), absl::Seconds(1));
  LocalList list = NewLocalList();
  const LocalList before = list;
  absl::StatusOr<SyncOutcome> outcome = engine.Sync(list);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, SyncOutcome::kOffline);
  ExpectSameList(list, before);
}

TEST_F(SyncEngineTest, FailsOverToSecondProxyAndPrefersItNextTime) {
  std::vector<StrictMock<MockStub>*> mocks;
  SyncEngine engine(MakeStubs(2, &mocks), absl::Seconds(1));
  LocalList list = NewLocalList();
  crdt::ListState bobs = BobsChange(list);
  {
    InSequence seq;
    // Only once: the second sync must go to proxy 1 first.
    EXPECT_CALL(*mocks[0], Sync(_, _, _)).WillOnce(Return(Unavailable()));
    EXPECT_CALL(*mocks[1], Sync(_, _, _)).WillOnce(Invoke(Answer(bobs)));
    EXPECT_CALL(*mocks[1], Sync(_, _, _))
        .WillOnce(Invoke(Answer(crdt::ListState())));
  }

  absl::StatusOr<SyncOutcome> outcome = engine.Sync(list);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, SyncOutcome::kSynced);
  EXPECT_TRUE(list.pending.empty());
  EXPECT_TRUE(list.on_server);
  EXPECT_FALSE(list.awaiting_fetch);
  EXPECT_EQ(WantedOf(list.state, "bread"), 1);
  EXPECT_EQ(WantedOf(list.state, "milk"), 2);
  EXPECT_EQ(list.state.View().title, "groceries");
  EXPECT_EQ(engine.preferred(), 1u);

  outcome = engine.Sync(list);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, SyncOutcome::kSynced);
  EXPECT_EQ(engine.preferred(), 1u);
}

TEST_F(SyncEngineTest, DeadlineExceededAlsoFailsOver) {
  std::vector<StrictMock<MockStub>*> mocks;
  SyncEngine engine(MakeStubs(3, &mocks), absl::Seconds(1));
  LocalList list = NewLocalList();
  {
    InSequence seq;
    EXPECT_CALL(*mocks[0], Sync(_, _, _))
        .WillOnce(Return(
            grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "too slow")));
    EXPECT_CALL(*mocks[1], Sync(_, _, _))
        .WillOnce(Return(
            grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "too slow")));
    EXPECT_CALL(*mocks[2], Sync(_, _, _))
        .WillOnce(Invoke(Answer(BobsChange(list))));
  }
  absl::StatusOr<SyncOutcome> outcome = engine.Sync(list);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, SyncOutcome::kSynced);
  EXPECT_TRUE(list.pending.empty());
  EXPECT_TRUE(list.on_server);
  EXPECT_EQ(WantedOf(list.state, "bread"), 1);
  EXPECT_EQ(engine.preferred(), 2u);
}

TEST_F(SyncEngineTest, NonRetryableErrorIsReturnedAndOtherProxiesNotTried) {
  std::vector<StrictMock<MockStub>*> mocks;
  SyncEngine engine(MakeStubs(2, &mocks), absl::Seconds(1));
  // Proxy 1 has no expectation: a StrictMock fails the test if called.
  EXPECT_CALL(*mocks[0], Sync(_, _, _))
      .WillOnce(Return(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                    "item name too long")));
  LocalList list = NewLocalList();
  const LocalList before = list;
  absl::StatusOr<SyncOutcome> outcome = engine.Sync(list);
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(outcome.status().message()),
              HasSubstr("item name too long"));
  ExpectSameList(list, before);
}

TEST_F(SyncEngineTest, RequestCarriesOnlyThePendingDeltaAndTheKnownContext) {
  LocalList list;
  list.id = ListId();
  ASSERT_TRUE(list.state.Create(kMe, "big", 1).ok());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(list.state.Add(kMe, absl::StrCat("item-", i), 1).ok());
  }
  list.on_server = true;  // all of that is synced
  absl::StatusOr<crdt::ListState> change = list.state.Add(kMe, "item-7", 3);
  ASSERT_TRUE(change.ok()) << change.status();
  list.pending = *change;
  ASSERT_EQ(list.state.items().size(), 50u);

  std::vector<StrictMock<MockStub>*> mocks;
  SyncEngine engine(MakeStubs(1, &mocks), absl::Seconds(1));
  v1::SyncRequest sent;
  EXPECT_CALL(*mocks[0], Sync(_, _, _))
      .WillOnce(DoAll(SaveArg<1>(&sent), Invoke(Answer(crdt::ListState()))));
  absl::StatusOr<SyncOutcome> outcome = engine.Sync(list);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, SyncOutcome::kSynced);

  EXPECT_EQ(sent.list_id(), list.id);
  crdt::ListState delta = Decoded(sent.delta());
  ASSERT_EQ(delta.items().size(), 1u);
  EXPECT_EQ(delta.items().begin()->first, "item-7");
  EXPECT_FALSE(delta.title().has_value());
  EXPECT_EQ(Decoded(sent.known()), list.state.context());
  EXPECT_FALSE(sent.create());
}

TEST_F(SyncEngineTest, CreateOnlyForAListNeverAcknowledgedAndNotAwaitingFetch) {
  struct Case {
    bool on_server;
    bool awaiting_fetch;
    bool create;
  };
  for (const Case& c : {Case{false, false, true}, Case{true, false, false},
                        Case{false, true, false}}) {
    SCOPED_TRACE(absl::StrCat("on_server=", c.on_server,
                              " awaiting_fetch=", c.awaiting_fetch));
    std::vector<StrictMock<MockStub>*> mocks;
    SyncEngine engine(MakeStubs(1, &mocks), absl::Seconds(1));
    v1::SyncRequest sent;
    EXPECT_CALL(*mocks[0], Sync(_, _, _))
        .WillOnce(DoAll(SaveArg<1>(&sent), Invoke(Answer(crdt::ListState()))));
    LocalList list;
    if (c.awaiting_fetch) {
      list.id = ListId();
    } else {
      list = NewLocalList();
    }
    list.on_server = c.on_server;
    list.awaiting_fetch = c.awaiting_fetch;
    ASSERT_TRUE(engine.Sync(list).ok());
    EXPECT_EQ(sent.create(), c.create);
  }
}

TEST_F(SyncEngineTest, NotFoundIsNotFoundOutcome) {
  std::vector<StrictMock<MockStub>*> mocks;
  SyncEngine engine(MakeStubs(2, &mocks), absl::Seconds(1));
  EXPECT_CALL(*mocks[0], Sync(_, _, _))
      .WillOnce(
          Return(grpc::Status(grpc::StatusCode::NOT_FOUND, "no such list")));
  LocalList list;
  list.id = ListId();
  list.awaiting_fetch = true;
  const LocalList before = list;
  absl::StatusOr<SyncOutcome> outcome = engine.Sync(list);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, SyncOutcome::kNotFound);
  ExpectSameList(list, before);
}

TEST_F(SyncEngineTest, TombstoneReplyIsDeletedOutcome) {
  std::vector<StrictMock<MockStub>*> mocks;
  SyncEngine engine(MakeStubs(1, &mocks), absl::Seconds(1));
  EXPECT_CALL(*mocks[0], Sync(_, _, _))
      .WillOnce(Invoke(Answer(crdt::ListState::Tombstone())));
  LocalList list = NewLocalList();
  list.on_server = true;
  absl::StatusOr<SyncOutcome> outcome = engine.Sync(list);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, SyncOutcome::kDeleted);
  EXPECT_TRUE(list.state.deleted());
}

TEST_F(SyncEngineTest, EachCallCarriesADeadlineOfTheTimeout) {
  std::vector<StrictMock<MockStub>*> mocks;
  SyncEngine engine(MakeStubs(1, &mocks), absl::Seconds(7));
  std::chrono::system_clock::time_point deadline;
  EXPECT_CALL(*mocks[0], Sync(_, _, _))
      .WillOnce(Invoke([&](grpc::ClientContext* context, const v1::SyncRequest&,
                           v1::SyncResponse*) {
        deadline = context->deadline();
        return Unavailable();
      }));
  LocalList list = NewLocalList();
  const absl::Time start = absl::Now();
  ASSERT_TRUE(engine.Sync(list).ok());
  absl::Duration left = absl::FromChrono(deadline) - start;
  EXPECT_GT(left, absl::Seconds(6));
  EXPECT_LE(left, absl::Seconds(8));
}

// ---------------------------------------------------------------------------
// Cli
// ---------------------------------------------------------------------------

// The cloud behind the mocked proxies: one state per list. A Sync merges the
// request's delta and answers what the caller lacks, as the real service
// does; unknown lists are created only when the request asks to.
class FakeCloud {
 public:
  grpc::Status Sync(const v1::SyncRequest& request,
                    v1::SyncResponse* response) {
    ++calls;
    if (!up) return Unavailable();
    requests.push_back(request);
    absl::StatusOr<crdt::ListState> delta = codec::DecodeState(request.delta());
    absl::StatusOr<crdt::CausalContext> known =
        codec::DecodeContext(request.known());
    if (!delta.ok() || !known.ok()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad request");
    }
    auto it = lists.find(request.list_id());
    if (it == lists.end()) {
      if (!request.create()) {
        return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such list");
      }
      it = lists.emplace(request.list_id(), crdt::ListState()).first;
    }
    it->second.Merge(*delta);
    codec::EncodeState(it->second.DeltaSince(*known),
                       response->mutable_missing());
    response->set_acks(2);
    return grpc::Status::OK;
  }

  bool up = true;
  int calls = 0;
  std::map<std::string, crdt::ListState> lists;
  std::vector<v1::SyncRequest> requests;  // those that reached the cloud
};

// Spaces removed (for comparing JSON whatever its spacing; the tests use no
// spaces inside strings).
std::string Compact(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c != ' ') out += c;
  }
  return out;
}

class CliTest : public ::testing::Test {
 protected:
  // A Cli on the test's home whose engines talk to `cloud_` through two
  // fresh mocked proxies each time.
  std::unique_ptr<Cli> MakeCli(bool json = false, bool yes = false) {
    CliOptions options;
    options.home = home_.path();
    options.proxies = "proxy-a:7000,proxy-b:7000";
    options.json = json;
    options.yes = yes;
    auto cli = std::make_unique<Cli>(options, out_, err_, in_);
    cli->set_engine_factory([this](absl::Duration timeout) {
      Stubs stubs;
      for (int i = 0; i < 2; ++i) {
        auto stub = std::make_unique<NiceMock<MockStub>>();
        ON_CALL(*stub, Sync(_, _, _))
            .WillByDefault([this](grpc::ClientContext*,
                                  const v1::SyncRequest& request,
                                  v1::SyncResponse* response) {
              return cloud_.Sync(request, response);
            });
        stubs.push_back(std::move(stub));
      }
      return std::make_unique<SyncEngine>(std::move(stubs), timeout);
    });
    return cli;
  }

  // The list as a new LocalStore on the home sees it (opened and closed
  // here, so no Cli may be running a command).
  std::optional<LocalList> Stored(const std::string& id) {
    absl::StatusOr<std::unique_ptr<LocalStore>> store =
        LocalStore::Open(home_.path(), absl::Seconds(1));
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return std::nullopt;
    absl::StatusOr<std::optional<LocalList>> list = (*store)->Load(id);
    EXPECT_TRUE(list.ok()) << list.status();
    return list.ok() ? *list : std::nullopt;
  }

  std::vector<std::string> StoredIds() {
    absl::StatusOr<std::unique_ptr<LocalStore>> store =
        LocalStore::Open(home_.path(), absl::Seconds(1));
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return {};
    absl::StatusOr<std::vector<std::string>> ids = (*store)->ListIds();
    EXPECT_TRUE(ids.ok()) << ids.status();
    return ids.ok() ? *ids : std::vector<std::string>();
  }

  // Runs `new TITLE` and returns the id it printed; clears out and err.
  std::string NewList(const std::string& title) {
    int code = MakeCli()->New(title);
    EXPECT_EQ(code, 0) << err_.str();
    std::string id = out_.str();
    if (!id.empty() && id.back() == '\n') id.pop_back();
    EXPECT_TRUE(crdt::ValidateListId(id).ok()) << "printed: " << out_.str();
    Clear();
    return id;
  }

  void Clear() {
    out_.str("");
    out_.clear();
    err_.str("");
    err_.clear();
  }

  // A list someone else made in the cloud.
  std::string CloudList(const std::string& title) {
    std::string id = ListId();
    crdt::ListState bob;
    EXPECT_TRUE(bob.Create(kBob, title, 5).ok());
    EXPECT_TRUE(bob.Add(kBob, "coffee", 3).ok());
    cloud_.lists[id] = bob;
    return id;
  }

  shoplist::testing::TempDir home_;
  FakeCloud cloud_;
  std::ostringstream out_;
  std::ostringstream err_;
  std::istringstream in_;
};

TEST_F(CliTest, AddWhileOfflineIsDurableAndSyncsLater) {
  cloud_.up = false;
  const std::string id = NewList("Groceries");

  EXPECT_EQ(MakeCli()->Add(id, "milk", 2), 0) << err_.str();
  EXPECT_THAT(err_.str(), HasSubstr("offline"));
  EXPECT_THAT(out_.str(), HasSubstr("milk"));
  EXPECT_TRUE(cloud_.requests.empty());

  // A new store on the same home (the Cli closed its own).
  std::optional<LocalList> stored = Stored(id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(WantedOf(stored->state, "milk"), 2);
  EXPECT_EQ(WantedOf(stored->pending, "milk"), 2);
  EXPECT_EQ(stored->state.View().title, "Groceries");
  EXPECT_FALSE(stored->on_server);
  EXPECT_EQ(stored->UnsyncedChanges(), 2u);  // the title and milk

  cloud_.up = true;
  Clear();
  EXPECT_EQ(MakeCli()->Sync(""), 0) << err_.str();
  ASSERT_FALSE(cloud_.requests.empty());
  const v1::SyncRequest& sent = cloud_.requests.back();
  EXPECT_EQ(sent.list_id(), id);
  EXPECT_TRUE(sent.create());
  EXPECT_EQ(WantedOf(Decoded(sent.delta()), "milk"), 2);
  ASSERT_EQ(cloud_.lists.count(id), 1u);
  EXPECT_EQ(WantedOf(cloud_.lists[id], "milk"), 2);
  EXPECT_EQ(cloud_.lists[id].View().title, "Groceries");

  stored = Stored(id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(stored->pending.empty());
  EXPECT_EQ(stored->UnsyncedChanges(), 0u);
  EXPECT_TRUE(stored->on_server);
  EXPECT_EQ(WantedOf(stored->state, "milk"), 2);
}

TEST_F(CliTest, NewPrintsTheIdAndSyncsIt) {
  EXPECT_EQ(MakeCli()->New("Groceries"), 0) << err_.str();
  std::vector<std::string> ids = StoredIds();
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(out_.str(), ids[0] + "\n");
  std::optional<LocalList> stored = Stored(ids[0]);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->state.View().title, "Groceries");
  EXPECT_TRUE(stored->on_server);
  EXPECT_TRUE(stored->pending.empty());
  EXPECT_EQ(cloud_.lists[ids[0]].View().title, "Groceries");
}

TEST_F(CliTest, NewWithJsonPrintsTheIdAsJson) {
  EXPECT_EQ(MakeCli(/*json=*/true)->New("Groceries"), 0) << err_.str();
  std::vector<std::string> ids = StoredIds();
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(Compact(out_.str()), "{\"id\":\"" + ids[0] + "\"}\n");
}

TEST_F(CliTest, ShowWithJsonPrintsIdTitleAndItems) {
  const std::string id = NewList("Groceries");
  ASSERT_EQ(MakeCli()->Add(id, "milk", 2), 0) << err_.str();
  ASSERT_EQ(MakeCli()->Add(id, "eggs", 6), 0) << err_.str();
  ASSERT_EQ(MakeCli()->Buy(id, "milk", 1), 0) << err_.str();
  Clear();

  EXPECT_EQ(MakeCli(/*json=*/true)->Show(id), 0) << err_.str();
  const std::string json = Compact(out_.str());
  const std::string expected_start =
      "{\"id\":\"" + id +
      "\",\"title\":\"Groceries\",\"items\":["
      "{\"name\":\"eggs\",\"wanted\":6,\"bought\":0},"
      "{\"name\":\"milk\",\"wanted\":2,\"bought\":1}]";
  EXPECT_EQ(json.substr(0, expected_start.size()), expected_start) << json;
  EXPECT_EQ(json.substr(json.size() - 2), "}\n") << json;
}

TEST_F(CliTest, ShowWithJsonEscapesStrings) {
  const std::string id = NewList("Groceries");
  ASSERT_EQ(MakeCli()->Add(id, "say\"hi\"\\", 1), 0) << err_.str();
  Clear();
  EXPECT_EQ(MakeCli(/*json=*/true)->Show(id), 0) << err_.str();
  EXPECT_THAT(out_.str(),
              HasSubstr("{\"name\": \"say\\\"hi\\\"\\\\\", \"wanted\": 1"));
}

TEST_F(CliTest, ListIsFoundByUniqueIdPrefixAndByTitle) {
  const std::string groceries = NewList("Groceries");
  const std::string hardware = NewList("Hardware");
  size_t differ = 0;
  while (groceries[differ] == hardware[differ]) ++differ;
  const std::string prefix = groceries.substr(0, differ + 1);

  EXPECT_EQ(MakeCli()->Show(prefix), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr(groceries));
  EXPECT_THAT(out_.str(), HasSubstr("Groceries"));
  EXPECT_THAT(out_.str(), Not(HasSubstr(hardware)));
  Clear();

  EXPECT_EQ(MakeCli()->Show("Hardware"), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr(hardware));
  EXPECT_THAT(out_.str(), Not(HasSubstr(groceries)));
  Clear();

  // A change by title lands on that list.
  EXPECT_EQ(MakeCli()->Add("Hardware", "nails", 100), 0) << err_.str();
  EXPECT_EQ(WantedOf(Stored(hardware)->state, "nails"), 100);
  EXPECT_EQ(WantedOf(Stored(groceries)->state, "nails"), -1);
}

TEST_F(CliTest, AmbiguousTitleFailsWithAMessage) {
  const std::string first = NewList("Groceries");
  const std::string second = NewList("Groceries");

  EXPECT_EQ(MakeCli()->Show("Groceries"), 1);
  EXPECT_THAT(err_.str(), HasSubstr("more than one"));
  EXPECT_THAT(err_.str(), HasSubstr(first));
  EXPECT_THAT(err_.str(), HasSubstr(second));
  EXPECT_THAT(out_.str(), IsEmpty());
  Clear();

  const int calls = cloud_.calls;
  EXPECT_EQ(MakeCli()->Add("Groceries", "milk", 1), 1);
  EXPECT_THAT(err_.str(), HasSubstr("more than one"));
  EXPECT_EQ(cloud_.calls, calls);
  EXPECT_EQ(WantedOf(Stored(first)->state, "milk"), -1);
  EXPECT_EQ(WantedOf(Stored(second)->state, "milk"), -1);
}

TEST_F(CliTest, UnknownListIsNotFound) {
  NewList("Groceries");
  EXPECT_EQ(MakeCli()->Show("Hardware"), 1);
  EXPECT_THAT(err_.str(), HasSubstr("no list 'Hardware'"));
}

TEST_F(CliTest, RemoveOfAnAbsentItemFailsAndStoresNothing) {
  const std::string id = NewList("Groceries");
  ASSERT_EQ(MakeCli()->Add(id, "milk", 2), 0) << err_.str();
  Clear();
  const std::optional<LocalList> before = Stored(id);
  ASSERT_TRUE(before.has_value());
  const int calls = cloud_.calls;

  EXPECT_EQ(MakeCli()->Remove(id, "bread", std::nullopt), 1);
  EXPECT_THAT(err_.str(), HasSubstr("no item 'bread'"));
  EXPECT_EQ(MakeCli()->Remove(id, "bread", 1), 1);

  std::optional<LocalList> after = Stored(id);
  ASSERT_TRUE(after.has_value());
  ExpectSameList(*after, *before);
  EXPECT_EQ(cloud_.calls, calls);
}

TEST_F(CliTest, RemoveTakesTheItemOffAndSyncsIt) {
  const std::string id = NewList("Groceries");
  ASSERT_EQ(MakeCli()->Add(id, "milk", 2), 0) << err_.str();
  EXPECT_EQ(MakeCli()->Remove(id, "milk", std::nullopt), 0) << err_.str();
  EXPECT_TRUE(Stored(id)->state.View().items.empty());
  EXPECT_TRUE(cloud_.lists[id].View().items.empty());
  EXPECT_TRUE(Stored(id)->pending.empty());
}

TEST_F(CliTest, ForgetWithUnsyncedChangesNeedsYes) {
  cloud_.up = false;
  const std::string id = NewList("Groceries");
  const int calls = cloud_.calls;

  EXPECT_EQ(MakeCli()->Forget(id), 1);
  EXPECT_THAT(err_.str(), HasSubstr("unsynced"));
  EXPECT_TRUE(Stored(id).has_value());
  Clear();

  EXPECT_EQ(MakeCli(/*json=*/false, /*yes=*/true)->Forget(id), 0) << err_.str();
  EXPECT_FALSE(Stored(id).has_value());
  EXPECT_EQ(cloud_.calls, calls);  // forgetting tells no one
}

TEST_F(CliTest, ForgetOfASyncedListNeedsNoYes) {
  const std::string id = NewList("Groceries");
  EXPECT_EQ(MakeCli()->Forget(id), 0) << err_.str();
  EXPECT_FALSE(Stored(id).has_value());
  // Only this home forgets it.
  EXPECT_FALSE(cloud_.lists[id].deleted());
}

TEST_F(CliTest, DeleteAnsweredNoDoesNothing) {
  const std::string id = NewList("Groceries");
  const std::optional<LocalList> before = Stored(id);
  ASSERT_TRUE(before.has_value());
  const int calls = cloud_.calls;

  in_.str("n\n");
  EXPECT_NE(MakeCli()->Delete(id), 0);
  EXPECT_THAT(err_.str(), HasSubstr("[y/N]"));
  EXPECT_THAT(err_.str(), HasSubstr("not deleted"));

  std::optional<LocalList> after = Stored(id);
  ASSERT_TRUE(after.has_value());
  ExpectSameList(*after, *before);
  EXPECT_EQ(cloud_.calls, calls);
  EXPECT_FALSE(cloud_.lists[id].deleted());
}

TEST_F(CliTest, DeleteAnsweredYesDeletesForEveryone) {
  const std::string id = NewList("Groceries");
  in_.str("y\n");
  EXPECT_EQ(MakeCli()->Delete(id), 0) << err_.str();
  EXPECT_FALSE(Stored(id).has_value());
  EXPECT_TRUE(cloud_.lists[id].deleted());
}

TEST_F(CliTest, JoinOfAnIdTheCloudDoesNotKnowFailsAndKeepsNothing) {
  const std::string id = ListId();
  EXPECT_NE(MakeCli()->Join(id), 0);
  EXPECT_THAT(err_.str(), HasSubstr(id));
  ASSERT_EQ(cloud_.requests.size(), 1u);
  EXPECT_FALSE(cloud_.requests[0].create());
  EXPECT_FALSE(Stored(id).has_value());
  EXPECT_TRUE(StoredIds().empty());
  EXPECT_EQ(cloud_.lists.count(id), 0u);
}

TEST_F(CliTest, JoinOfAnInvalidIdIsBadUsage) {
  EXPECT_EQ(MakeCli()->Join("not-an-id"), 2);
  EXPECT_EQ(cloud_.calls, 0);
  EXPECT_TRUE(StoredIds().empty());
}

TEST_F(CliTest, JoinFetchesTheList) {
  const std::string id = CloudList("Bob's party");
  EXPECT_EQ(MakeCli()->Join(id), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("Bob's party"));
  std::optional<LocalList> stored = Stored(id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(WantedOf(stored->state, "coffee"), 3);
  EXPECT_TRUE(stored->on_server);
  EXPECT_FALSE(stored->awaiting_fetch);
}

TEST_F(CliTest, JoinOfflineKeepsTheIdAndTheNextSyncFillsItIn) {
  const std::string id = CloudList("Bob's party");
  cloud_.up = false;
  EXPECT_EQ(MakeCli()->Join(id), 0) << err_.str();
  EXPECT_THAT(err_.str(), HasSubstr("offline"));
  std::optional<LocalList> stored = Stored(id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(stored->awaiting_fetch);
  EXPECT_FALSE(stored->on_server);
  EXPECT_TRUE(stored->state.empty());

  cloud_.up = true;
  Clear();
  EXPECT_EQ(MakeCli()->Sync(""), 0) << err_.str();
  ASSERT_FALSE(cloud_.requests.empty());
  EXPECT_FALSE(cloud_.requests.back().create());
  stored = Stored(id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_FALSE(stored->awaiting_fetch);
  EXPECT_TRUE(stored->on_server);
  EXPECT_EQ(stored->state.View().title, "Bob's party");
  EXPECT_EQ(WantedOf(stored->state, "coffee"), 3);
}

TEST_F(CliTest, SyncThatLearnsOfDeletionDropsTheListAndReportsLostChanges) {
  const std::string id = NewList("Groceries");
  cloud_.up = false;
  ASSERT_EQ(MakeCli()->Add(id, "milk", 2), 0) << err_.str();
  ASSERT_EQ(Stored(id)->UnsyncedChanges(), 1u);
  // Meanwhile someone else deleted it.
  cloud_.lists[id] = crdt::ListState::Tombstone();
  cloud_.up = true;
  Clear();

  EXPECT_EQ(MakeCli()->Sync(""), 0) << err_.str();
  EXPECT_THAT(err_.str(), HasSubstr("deleted by someone else"));
  EXPECT_THAT(err_.str(), HasSubstr("1 unsynced change(s)"));
  EXPECT_FALSE(Stored(id).has_value());
  EXPECT_TRUE(StoredIds().empty());
}

TEST_F(CliTest, SyncWhileOfflineKeepsEverythingAndFails) {
  cloud_.up = false;
  const std::string id = NewList("Groceries");
  ASSERT_EQ(MakeCli()->Add(id, "milk", 2), 0) << err_.str();
  const std::optional<LocalList> before = Stored(id);
  ASSERT_TRUE(before.has_value());
  Clear();
  EXPECT_EQ(MakeCli()->Sync(""), 1);
  EXPECT_THAT(err_.str(), HasSubstr("offline"));
  std::optional<LocalList> after = Stored(id);
  ASSERT_TRUE(after.has_value());
  ExpectSameList(*after, *before);
}

}  // namespace
}  // namespace shoplist::cli
