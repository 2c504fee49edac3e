"""Test peers for event_xmlrpc and event_stream (stdlib only, loopback only).

XmlRpcPeer: Python's own xmlrpc.server, with an HTTP/1.1 (keep-alive) handler, threaded; it
records every call (method, decoded params), the raw request bodies and headers, and how many
TCP connections it accepted. Per-method behaviour: return True, raise a Fault, or sleep first.

JsonRpcPeer: a TCP server that reads JSON values back to back (as event_stream writes them)
and, depending on `mode`, stays silent, replies with a result, replies with an error, or
closes the connection after each message.
"""
import json
import socket
import socketserver
import threading
import time
import xmlrpc.client
import xmlrpc.server


def wait_until(predicate, timeout=5.0, interval=0.02):
    deadline = time.time() + timeout
    value = predicate()
    while not value and time.time() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


class _KeepAliveHandler(xmlrpc.server.SimpleXMLRPCRequestHandler):
    protocol_version = "HTTP/1.1"  # the stdlib default (HTTP/1.0) closes after every call
    rpc_paths = ("/RPC2", "/custom/path")

    def log_message(self, *args):
        pass  # keep the test output readable (timeouts of idle keep-alive connections)

    def setup(self):
        super().setup()
        self.server.peer._connection_opened()

    def decode_request_content(self, data):
        data = super().decode_request_content(data)
        if data is not None:
            self.server.peer._raw(bytes(data), dict(self.headers.items()))
        return data


class _ThreadingXmlRpcServer(socketserver.ThreadingMixIn, xmlrpc.server.SimpleXMLRPCServer):
    daemon_threads = True
    allow_reuse_address = True


class XmlRpcPeer:
    """A real XML-RPC server on loopback. Use as a context manager or call close()."""

    def __init__(self, host="127.0.0.1", port=0, idle_timeout=None, http10=False):
        self.calls = []      # (method, params tuple) in arrival order
        self.bodies = []     # raw request bodies (bytes)
        self.headers = []    # request headers (dict)
        self.connections = 0
        self.faults = {}     # method -> (code, text): answer with a Fault
        self.delays = {}     # method -> seconds to sleep before answering
        self._lock = threading.Lock()
        handler = type("Handler", (_KeepAliveHandler,),
                       {"timeout": idle_timeout,
                        # http10: the stdlib's default, which closes after every call
                        "protocol_version": "HTTP/1.0" if http10 else "HTTP/1.1"})
        server_cls = _ThreadingXmlRpcServer
        if ":" in host:
            server_cls = type("Server6", (_ThreadingXmlRpcServer,),
                              {"address_family": socket.AF_INET6})
        self.server = server_cls((host, port), requestHandler=handler, logRequests=False,
                                 allow_none=True)
        self.server.peer = self
        self.server.register_instance(self)
        self.host = host
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    # -- called by the server --
    def _connection_opened(self):
        with self._lock:
            self.connections += 1

    def _raw(self, body, headers):
        with self._lock:
            self.bodies.append(body)
            self.headers.append(headers)

    def _dispatch(self, method, params):
        with self._lock:
            self.calls.append((method, params))
            delay = self.delays.get(method)
            fault = self.faults.get(method)
        if delay:
            time.sleep(delay)
        if fault:
            raise xmlrpc.client.Fault(*fault)
        return True

    # -- used by tests --
    def wait_calls(self, n, timeout=5.0):
        """Waits until at least n calls arrived; returns the calls."""
        wait_until(lambda: len(self.calls) >= n, timeout)
        with self._lock:
            return list(self.calls)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class JsonRpcPeer:
    """A JSON-RPC server over plain TCP, reading JSON values back to back.

    mode: "silent" (notifications), "result" (reply {"jsonrpc":"2.0","result":true,"id":…}),
    "error" (reply with an error object), "close" (close the connection after each message).
    """

    def __init__(self, mode="silent", host="127.0.0.1", port=0):
        self.mode = mode
        self.messages = []   # decoded JSON values in arrival order
        self.raw = b""       # every byte received, all connections in order of arrival
        self.connections = 0
        self._lock = threading.Lock()
        self._conns = []
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        decoder = json.JSONDecoder()
        buf = ""
        conn.settimeout(0.1)
        while not self._stop.is_set():
            try:
                data = conn.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            with self._lock:
                self.raw += data
            buf += data.decode("utf-8")
            while True:
                buf = buf.lstrip()
                if not buf:
                    break
                try:
                    obj, end = decoder.raw_decode(buf)
                except json.JSONDecodeError:
                    break  # incomplete: wait for more
                buf = buf[end:]
                with self._lock:
                    self.messages.append(obj)
                if not self._answer(conn, obj):
                    buf = None
                    break
            if buf is None:
                break
        try:
            conn.close()
        except OSError:
            pass

    def _answer(self, conn, obj):
        """Replies as the mode says; False when the connection must be closed."""
        mode = self.mode
        if mode == "close":
            return False
        if mode in ("result", "error") and isinstance(obj, dict) and "id" in obj:
            if mode == "result":
                reply = {"jsonrpc": "2.0", "result": True, "id": obj["id"]}
            else:
                reply = {"jsonrpc": "2.0", "error": {"code": -32000, "message": "refused"},
                         "id": obj["id"]}
            try:
                conn.sendall(json.dumps(reply).encode())
            except OSError:
                return False
        return True

    def wait_messages(self, n, timeout=5.0):
        wait_until(lambda: len(self.messages) >= n, timeout)
        with self._lock:
            return list(self.messages)

    def close(self):
        self._stop.set()
        try:
            self.sock.close()
        except OSError:
            pass
        with self._lock:
            for c in self._conns:
                try:
                    c.close()
                except OSError:
                    pass
        self._thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RawHttpPeer:
    """An HTTP/1.1 server that answers every request with the same canned response bytes,
    written in `pieces` separate sends (to exercise partial reads). For transfer encodings
    Python's xmlrpc.server never uses (chunked). Counts connections and requests."""

    def __init__(self, response, pieces=1, host="127.0.0.1"):
        self.response = response
        self.pieces = pieces
        self.requests = []   # raw request bodies
        self.connections = 0
        self._lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._conns = []
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        buf = b""
        conn.settimeout(0.1)
        while not self._stop.is_set():
            head_end = buf.find(b"\r\n\r\n")
            if head_end >= 0:
                head = buf[:head_end].decode("latin-1")
                length = 0
                for line in head.split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                if len(buf) >= head_end + 4 + length:
                    body = buf[head_end + 4:head_end + 4 + length]
                    buf = buf[head_end + 4 + length:]
                    with self._lock:
                        self.requests.append(body)
                    step = max(1, -(-len(self.response) // self.pieces))
                    try:
                        for i in range(0, len(self.response), step):
                            conn.sendall(self.response[i:i + step])
                            if self.pieces > 1:
                                time.sleep(0.01)
                    except OSError:
                        break
                    continue
            try:
                data = conn.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            buf += data
        try:
            conn.close()
        except OSError:
            pass

    def close(self):
        self._stop.set()
        try:
            self.sock.close()
        except OSError:
            pass
        with self._lock:
            for c in self._conns:
                try:
                    c.close()
                except OSError:
                    pass
        self._thread.join(5)
