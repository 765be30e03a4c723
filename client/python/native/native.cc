// _promfeed_native: the Python reader's StreamWindows transport in C++ (native_stream.h), as
// a Python module.
//
// Python API (client/python/src/promfeed/_native.py wraps it):
//   Channel(target, root_pem, cert_pem, key_pem, tls, max_receive_bytes)
//   Channel.stream(method, request, metadata, wait_for_ready, capacity) -> Stream
//   Stream.next(timeout_s) -> Message | None   (None: timed out, or the call ended)
//   Stream.waiting() -> bool; Stream.ended() -> bool; Stream.status() -> (code, details)
//   Stream.cancel(); Stream.drain() -> (messages, bytes)   (benchmarks: receive only)
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "client/python/native/native_stream.h"

namespace py = pybind11;

using promfeed::native::Channel;
using promfeed::native::Message;
using promfeed::native::Stream;

PYBIND11_MODULE(_promfeed_native, m) {
  m.doc() = "promfeed's StreamWindows transport: a C++ receive thread per stream";

  py::class_<Message>(m, "Message", py::buffer_protocol())
      .def_buffer([](Message& msg) {
        return py::buffer_info(const_cast<uint8_t*>(msg.data()), 1, "B", 1,
                               {static_cast<py::ssize_t>(msg.size())}, {1}, /*readonly=*/true);
      })
      .def("__len__", &Message::size);

  py::class_<Stream>(m, "Stream")
      .def("next", &Stream::Next, py::arg("timeout_s"), py::call_guard<py::gil_scoped_release>())
      .def("waiting", &Stream::Waiting, py::call_guard<py::gil_scoped_release>())
      .def("ended", &Stream::Ended, py::call_guard<py::gil_scoped_release>())
      .def("status", &Stream::Status, py::call_guard<py::gil_scoped_release>())
      .def("cancel", &Stream::Cancel, py::call_guard<py::gil_scoped_release>())
      .def("drain", &Stream::Drain, py::call_guard<py::gil_scoped_release>());

  py::class_<Channel>(m, "Channel")
      .def(py::init<const std::string&, const std::string&, const std::string&, const std::string&,
                    bool, int>(),
           py::arg("target"), py::arg("root_pem"), py::arg("cert_pem"), py::arg("key_pem"),
           py::arg("tls"), py::arg("max_receive_bytes"))
      .def(
          "stream",
          [](Channel& c, std::string method, py::bytes request,
             std::vector<std::pair<std::string, std::string>> metadata, bool wait_for_ready,
             size_t capacity) {
            std::string req = request;  // copied with the GIL held
            py::gil_scoped_release release;
            return std::make_unique<Stream>(c.channel(), std::move(method), std::move(req),
                                            metadata, wait_for_ready, capacity);
          },
          py::arg("method"), py::arg("request"), py::arg("metadata"), py::arg("wait_for_ready"),
          py::arg("capacity"));
}
