#include "daemon/model/labels.h"

#include <algorithm>
#include <cstring>
#include <ostream>

namespace promfeed {
namespace {

// Label names stored as a one-byte code. Append only at the end: never reorder (the order
// does not matter for sorting, which always compares the names themselves).
constexpr std::string_view kWellKnownNames[] = {
    "__name__",    "job",
    "instance",    "le",
    "quantile",    "cpu",
    "mode",        "device",
    "namespace",   "pod",
    "container",   "service",
    "endpoint",    "code",
    "method",      "handler",
    "path",        "status",
    "node",        "name",
    "type",        "state",
    "mountpoint",  "fstype",
    "interface",   "id",
    "image",       "version",
    "reason",      "phase",
    "condition",   "resource",
    "verb",        "scope",
    "group",       "kind",
    "host",        "region",
    "zone",        "cluster",
    "env",         "app",
    "component",   "operation",
    "result",      "uid",
    "owner_kind",  "owner_name",
    "job_name",    "daemonset",
    "deployment",  "replicaset",
    "statefulset", "persistentvolumeclaim",
    "pod_ip",      "created_by_kind",
};

// Code of a well-known name, or -1.
int WellKnownCode(std::string_view name) {
  if (name.empty()) return -1;
  for (size_t i = 0; i < std::size(kWellKnownNames); ++i) {
    // Byte by byte: the names are short, and most differ in size or first byte.
    const std::string_view known = kWellKnownNames[i];
    if (known.size() != name.size()) continue;
    size_t k = 0;
    while (k < known.size() && known[k] == name[k]) ++k;
    if (k == known.size()) return static_cast<int>(i);
  }
  return -1;
}

// Writes `v` as a varint (at most 10 bytes) at `p`; returns the end.
char* PutVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

char* PutBytes(char* p, std::string_view bytes) {
  std::memcpy(p, bytes.data(), bytes.size());
  return p + bytes.size();
}

uint64_t GetVarint(const char*& p) {
  uint64_t v = 0;
  int shift = 0;
  for (;;) {
    const auto b = static_cast<unsigned char>(*p++);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (b < 0x80) return v;
    shift += 7;
  }
}

// Decodes the label at `p` and advances `p` past it.
LabelView DecodeLabel(const char*& p) {
  LabelView l;
  const uint64_t tag = GetVarint(p);
  if (tag & 1) {
    l.name = kWellKnownNames[tag >> 1];
  } else {
    l.name = std::string_view(p, tag >> 1);
    p += tag >> 1;
  }
  const uint64_t n = GetVarint(p);
  l.value = std::string_view(p, n);
  p += n;
  return l;
}

// The body [begin, end) of an encoded label set.
std::pair<const char*, const char*> Body(const char* data) {
  if (data == nullptr) return {nullptr, nullptr};
  const char* p = data;
  const uint64_t n = GetVarint(p);
  return {p, p + n};
}

}  // namespace

void PrintTo(const LabelView& l, std::ostream* os) { *os << l.name << "=\"" << l.value << '"'; }

LabelView Labels::const_iterator::operator*() const {
  const char* p = p_;
  return DecodeLabel(p);
}

Labels::const_iterator& Labels::const_iterator::operator++() {
  DecodeLabel(p_);
  return *this;
}

Labels::const_iterator Labels::begin() const { return const_iterator(Body(data_).first); }
Labels::const_iterator Labels::end() const { return const_iterator(Body(data_).second); }

size_t Labels::size() const { return static_cast<size_t>(std::distance(begin(), end())); }

std::string_view Labels::encoded() const {
  if (data_ == nullptr) return {};
  auto [b, e] = Body(data_);
  return std::string_view(data_, static_cast<size_t>(e - data_));
}

Labels Labels::FromEncoded(std::string_view encoded) {
  Labels l;
  if (!encoded.empty()) {
    l.data_ = new char[encoded.size()];
    std::memcpy(l.data_, encoded.data(), encoded.size());
  }
  return l;
}

Labels::Labels(const Labels& other) : Labels(FromEncoded(other.encoded())) {}

Labels& Labels::operator=(const Labels& other) {
  if (this != &other) *this = FromEncoded(other.encoded());
  return *this;
}

Labels::Labels(std::vector<Label> labels) {
  LabelsBuilder b;
  for (const Label& l : labels) b.Add(l.name, l.value);
  *this = b.Build();
}

std::string_view LabelsBuilder::Encode() {
  // Stable: among equal names the input order is kept, so the last one wins below. Names
  // mostly differ in their first byte: compared inline before memcmp (both unsigned).
  auto by_name = [](const auto& a, const auto& b) {
    const std::string_view x = a.first, y = b.first;
    if (!x.empty() && !y.empty() && x[0] != y[0]) {
      return static_cast<unsigned char>(x[0]) < static_cast<unsigned char>(y[0]);
    }
    return x < y;
  };
  if (pending_.size() <= 16) {
    for (size_t i = 1; i < pending_.size(); ++i) {
      for (size_t j = i; j > 0 && by_name(pending_[j], pending_[j - 1]); --j) {
        std::swap(pending_[j], pending_[j - 1]);
      }
    }
  } else {
    std::stable_sort(pending_.begin(), pending_.end(), by_name);
  }
  // One pass into a buffer large enough for any encoding of these labels: the body goes
  // after room for its size, which is written last, just before it.
  constexpr size_t kMaxVarint = 10;
  size_t max_size = kMaxVarint;
  for (const auto& [name, value] : pending_)
    max_size += 2 * kMaxVarint + name.size() + value.size();
  if (buf_.size() < max_size) buf_.resize(max_size);
  char* const body_begin = buf_.data() + kMaxVarint;
  char* p = body_begin;
  for (size_t i = 0; i < pending_.size(); ++i) {
    const auto& [name, value] = pending_[i];
    if (value.empty() || (i + 1 < pending_.size() && pending_[i + 1].first == name)) continue;
    if (const int code = WellKnownCode(name); code >= 0) {
      p = PutVarint(p, static_cast<uint64_t>(code) << 1 | 1);
    } else {
      p = PutBytes(PutVarint(p, name.size() << 1), name);
    }
    p = PutBytes(PutVarint(p, value.size()), value);
  }
  const size_t body = static_cast<size_t>(p - body_begin);
  if (body == 0) return {};
  char size[kMaxVarint];
  const size_t size_bytes = static_cast<size_t>(PutVarint(size, body) - size);
  char* const start = body_begin - size_bytes;
  std::memcpy(start, size, size_bytes);
  return std::string_view(start, size_bytes + body);
}

std::string_view Labels::Get(std::string_view name) const {
  for (LabelView l : *this) {
    if (l.name == name) return l.value;
    if (l.name > name) break;
  }
  return "";
}

Labels Labels::With(std::string_view name, std::string_view value) const {
  LabelsBuilder b;
  for (LabelView l : *this) b.Add(l.name, l.value);
  b.Add(name, value);
  return b.Build();
}

std::strong_ordering operator<=>(const Labels& a, const Labels& b) {
  auto ia = a.begin(), ea = a.end(), ib = b.begin(), eb = b.end();
  for (; ia != ea && ib != eb; ++ia, ++ib) {
    const LabelView x = *ia, y = *ib;
    if (auto c = x.name <=> y.name; c != 0) return c;
    if (auto c = x.value <=> y.value; c != 0) return c;
  }
  if (ia != ea) return std::strong_ordering::greater;
  if (ib != eb) return std::strong_ordering::less;
  return std::strong_ordering::equal;
}

std::string Labels::ToString() const {
  std::string out(MetricName());
  out += '{';
  bool first = true;
  for (LabelView l : *this) {
    if (l.name == kMetricNameLabel) continue;
    if (!first) out += ", ";
    first = false;
    out += l.name;
    out += "=\"";
    for (char c : l.value) {
      if (c == '\\' || c == '"') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace promfeed
