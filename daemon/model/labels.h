// Labels: a series identity, its full label set sorted by name.
// A value type; thread-compatible.
//
// Stored compactly (the store holds one per series): one heap block holding the labels in a
// canonical byte encoding, with well-known label names (__name__, job, instance, ...) as a
// one-byte code. Equal label sets have equal encodings, so equality and hashing work on the
// bytes; LabelsBuilder encodes label sets without allocating, for lookups by the encoding.
#ifndef PROMFEED_MODEL_LABELS_H_
#define PROMFEED_MODEL_LABELS_H_

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace promfeed {

inline constexpr std::string_view kMetricNameLabel = "__name__";

struct Label {
  std::string name;
  std::string value;

  friend auto operator<=>(const Label&, const Label&) = default;
};

// One label of a Labels, viewing the Labels' storage (valid while the Labels lives unchanged).
struct LabelView {
  std::string_view name;
  std::string_view value;

  operator Label() const { return Label{std::string(name), std::string(value)}; }
  friend bool operator==(const LabelView&, const LabelView&) = default;
  friend bool operator==(const LabelView& a, const Label& b) {
    return a.name == b.name && a.value == b.value;
  }
  friend void PrintTo(const LabelView& l, std::ostream* os);
};

// Invariants: 1. sorted by name; 2. names unique; 3. no empty values
// (Prometheus treats an empty value as an absent label).
class Labels {
 public:
  // Iterates the labels in name order as LabelView values.
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = LabelView;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = LabelView;

    const_iterator() = default;
    LabelView operator*() const;
    const_iterator& operator++();
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++*this;
      return old;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) {
      return a.p_ == b.p_;
    }

   private:
    friend class Labels;
    explicit const_iterator(const char* p) : p_(p) {}
    const char* p_ = nullptr;
  };
  using iterator = const_iterator;
  using value_type = LabelView;
  using size_type = size_t;

  Labels() = default;
  // Sorts, drops empty values; on duplicate names the last one wins.
  explicit Labels(std::vector<Label> labels);
  Labels(const Labels& other);
  Labels(Labels&& other) noexcept : data_(std::exchange(other.data_, nullptr)) {}
  Labels& operator=(const Labels& other);
  Labels& operator=(Labels&& other) noexcept {
    std::swap(data_, other.data_);
    return *this;
  }
  ~Labels() { delete[] data_; }

  // Value of `name`, or "" when absent.
  std::string_view Get(std::string_view name) const;
  std::string_view MetricName() const { return Get(kMetricNameLabel); }
  // Returns a copy with `name` set to `value` (removed when value is empty).
  Labels With(std::string_view name, std::string_view value) const;

  // The labels as a range of LabelView, sorted by name.
  const Labels& items() const { return *this; }
  const_iterator begin() const;
  const_iterator end() const;
  bool empty() const { return data_ == nullptr; }
  size_t size() const;

  // Prometheus notation: name{a="b", c="d"} with escaped values.
  std::string ToString() const;

  // The canonical encoding ("" when empty): equal label sets, equal bytes.
  std::string_view encoded() const;
  // A Labels from the bytes of encoded() or LabelsBuilder::Encode().
  static Labels FromEncoded(std::string_view encoded);

  friend std::strong_ordering operator<=>(const Labels& a, const Labels& b);
  friend bool operator==(const Labels& a, const Labels& b) { return a.encoded() == b.encoded(); }

  template <typename H>
  friend H AbslHashValue(H h, const Labels& l) {
    return H::combine(std::move(h), l.encoded());
  }

 private:
  // Null when empty; else varint(body size), then per label in name order: the name as
  // varint(code << 1 | 1) for a well-known name or varint(size << 1) and its bytes, then
  // varint(value size) and the value's bytes.
  char* data_ = nullptr;
};

// Builds label sets into a reused buffer: Add the labels in any order, then Encode (the
// canonical bytes for lookups by Labels::encoded()) or Build. Thread-compatible.
class LabelsBuilder {
 public:
  void Clear() { pending_.clear(); }
  // `name` and `value` must stay valid until Encode/Build.
  void Add(std::string_view name, std::string_view value) { pending_.emplace_back(name, value); }
  // Sorts (last one wins among equal names), drops empty values and encodes; the result is
  // valid until the next call on this builder.
  std::string_view Encode();
  Labels Build() { return Labels::FromEncoded(Encode()); }

 private:
  std::vector<std::pair<std::string_view, std::string_view>> pending_;
  std::string buf_;
};

}  // namespace promfeed

#endif  // PROMFEED_MODEL_LABELS_H_
