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
    // Size and first byte first: most names differ there, without a call to memcmp.
    const std::string_view known = kWellKnownNames[i];
    if (known.size() == name.size() && known[0] == name[0] && known == name) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
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
  // Stable: among equal names the input order is kept, so the last one wins below.
  auto by_name = [](const auto& a, const auto& b) { return a.first < b.first; };
  if (pending_.size() <= 16) {
    for (size_t i = 1; i < pending_.size(); ++i) {
      for (size_t j = i; j > 0 && by_name(pending_[j], pending_[j - 1]); --j) {
        std::swap(pending_[j], pending_[j - 1]);
      }
    }
  } else {
    std::stable_sort(pending_.begin(), pending_.end(), by_name);
  }
  // The body goes after room for its size (a varint of at most kMaxVarint bytes), which is
  // written last, just before it: one pass, one well-known-name lookup per label.
  constexpr size_t kMaxVarint = 10;
  buf_.assign(kMaxVarint, '\0');
  for (size_t i = 0; i < pending_.size(); ++i) {
    const auto& [name, value] = pending_[i];
    if (value.empty() || (i + 1 < pending_.size() && pending_[i + 1].first == name)) continue;
    if (const int code = WellKnownCode(name); code >= 0) {
      PutVarint(buf_, static_cast<uint64_t>(code) << 1 | 1);
    } else {
      PutVarint(buf_, name.size() << 1);
      buf_.append(name);
    }
    PutVarint(buf_, value.size());
    buf_.append(value);
  }
  const size_t body = buf_.size() - kMaxVarint;
  if (body == 0) return {};
  std::string size;
  PutVarint(size, body);  // Short: no allocation (small string).
  char* const start = buf_.data() + kMaxVarint - size.size();
  std::memcpy(start, size.data(), size.size());
  return std::string_view(start, size.size() + body);
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
