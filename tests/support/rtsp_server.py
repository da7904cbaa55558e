"""An IP camera for the tests: GStreamer's RTSP server (Debian's gir1.2-gst-rtsp-server-1.0 and
python3-gst-1.0) serving an H.264 MP4 file at rtsp://127.0.0.1:PORT/door, from its start for each
viewer, as it was coded (no re-encoding). Run by Debian's own python3, which has the bindings:

    /usr/bin/python3 tests/support/rtsp_server.py FILE PORT

It prints "ready" once it listens."""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
path, port = sys.argv[1], sys.argv[2]
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(f"( filesrc location={path} ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )")
server.get_mount_points().add_factory("/door", factory)
server.attach(None)
print("ready", flush=True)
GLib.MainLoop().run()
