// The production IngestSink: the series store. Kept apart from poller.cc so tests with a
// fake sink do not link the store.
#include <memory>

#include "daemon/store/series_store.h"
#include "daemon/upstream/poller.h"

namespace promfeed::upstream {
namespace {

class StoreSink : public IngestSink {
 public:
  explicit StoreSink(store::SeriesStore* store) : store_(store) {}
  size_t Append(const Labels& labels, std::span<const Sample> samples) override {
    return store_->Append(labels, samples).appended;
  }
  size_t AppendEncoded(std::string_view encoded_labels, std::span<const Sample> samples) override {
    return store_->AppendEncoded(encoded_labels, samples).appended;
  }
  void Publish() override { store_->Publish(); }
  void AdvanceCompleteThrough(int64_t t_ms) override { store_->AdvanceCompleteThrough(t_ms); }

 private:
  store::SeriesStore* const store_;
};

}  // namespace

Poller::Poller(config::Config config, store::SeriesStore* store, PollerOptions options)
    : Poller(std::move(config), std::make_unique<StoreSink>(store), std::move(options)) {}

}  // namespace promfeed::upstream
