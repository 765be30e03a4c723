#include "daemon/logging/logging.h"

#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <utility>
#include <vector>

namespace promfeed::logging {

namespace {

struct Field {
  std::string key;
  std::string value;
};

// Splits "event words key=value key2="quoted value"" into the event and its fields.
// Anything before the first key=value token is the message.
std::pair<std::string, std::vector<Field>> Split(std::string_view payload) {
  std::string msg;
  std::vector<Field> fields;
  size_t i = 0;
  while (i < payload.size()) {
    while (i < payload.size() && payload[i] == ' ') ++i;
    const size_t start = i;
    while (i < payload.size() && payload[i] != ' ' && payload[i] != '=') ++i;
    if (i < payload.size() && payload[i] == '=' && i > start) {
      Field f{std::string(payload.substr(start, i - start)), ""};
      ++i;
      if (i < payload.size() && payload[i] == '"') {
        // Quoted value with \" and \\ escapes.
        for (++i; i < payload.size() && payload[i] != '"'; ++i) {
          if (payload[i] == '\\' && i + 1 < payload.size()) ++i;
          f.value += payload[i];
        }
        ++i;
      } else {
        const size_t vstart = i;
        while (i < payload.size() && payload[i] != ' ') ++i;
        f.value = std::string(payload.substr(vstart, i - vstart));
      }
      fields.push_back(std::move(f));
    } else {
      while (i < payload.size() && payload[i] != ' ') ++i;
      if (fields.empty()) {
        if (!msg.empty()) msg += ' ';
        msg += payload.substr(start, i - start);
      } else {
        // Stray words after fields stay attached to the previous value.
        fields.back().value += " ";
        fields.back().value += payload.substr(start, i - start);
      }
    }
  }
  return {msg, fields};
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

class LineFormatter final : public spdlog::formatter {
 public:
  explicit LineFormatter(std::string format) : format_(std::move(format)) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm;
    gmtime_r(&secs, &tm);
    char ts[40];
    const size_t n = std::strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(ts + n, sizeof(ts) - n, ".%03dZ", static_cast<int>(ms % 1000));
    const auto level = spdlog::level::to_string_view(msg.level);
    const std::string line = FormatLine(format_, ts, std::string_view(level.data(), level.size()),
                                        std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(line.data(), line.data() + line.size());
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<LineFormatter>(format_);
  }

 private:
  const std::string format_;
};

}  // namespace

std::string Quote(std::string_view value) {
  const bool plain = !value.empty() && value.find_first_of(" \"=\\\n\t") == std::string::npos;
  if (plain) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string FormatLine(std::string_view format, std::string_view ts, std::string_view level,
                       std::string_view payload) {
  auto [msg, fields] = Split(payload);
  std::string line;
  if (format == "json") {
    line = "{\"ts\":" + JsonString(ts) + ",\"level\":" + JsonString(level) +
           ",\"msg\":" + JsonString(msg);
    for (const Field& f : fields) line += "," + JsonString(f.key) + ":" + JsonString(f.value);
    return line + "}";
  }
  line = "ts=" + std::string(ts) + " level=" + std::string(level) + " msg=" + Quote(msg);
  for (const Field& f : fields) line += " " + f.key + "=" + Quote(f.value);
  return line;
}

absl::Status Configure(std::string_view level, std::string_view format) {
  spdlog::level::level_enum lvl;
  if (level == "debug") {
    lvl = spdlog::level::debug;
  } else if (level == "info") {
    lvl = spdlog::level::info;
  } else if (level == "warn") {
    lvl = spdlog::level::warn;
  } else if (level == "error") {
    lvl = spdlog::level::err;
  } else {
    return absl::InvalidArgumentError("log level '" + std::string(level) +
                                      "' is unknown; use debug, info, warn or error");
  }
  if (format != "logfmt" && format != "json") {
    return absl::InvalidArgumentError("log format '" + std::string(format) +
                                      "' is unknown; use logfmt or json");
  }
  auto logger = std::make_shared<spdlog::logger>("promfeed",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_formatter(std::make_unique<LineFormatter>(std::string(format)));
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
  return absl::OkStatus();
}

}  // namespace promfeed::logging
