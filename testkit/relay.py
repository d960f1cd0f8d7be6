"""A TCP relay on a loopback port in front of a server: the network between a browser and the app, which a test can
cut (every open connection dropped, new ones refused: a closed laptop, a lost Wi-Fi) and bring back, or make silent
for some of its connections (their server's bytes vanish: a connection a network change left half open)."""

import socket
import threading

from testkit.upstream import free_port


class Relay:
    """Relays each connection made to `url` to the server at `host`:`port`, byte for byte, both ways."""

    def __init__(self, host, port):
        self.target = (host, port)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._open = {}  # the server side of each connection relayed now -> the last bytes its client sent
        self._silent = set()  # server sides whose bytes are dropped
        self._listener = None
        self.restore()

    def restore(self):
        """Accept connections again (the network is back)."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self):
        """Drop every open connection and refuse new ones until restore()."""
        _close(self._listener)  # shut down first: a close alone leaves the accept() under way listening
        with self._lock:
            dropped, self._open = list(self._open), {}
        for server in dropped:
            _close(server)  # its pump closes the client side

    def silence(self, marker: bytes) -> int:
        """From now on, drop what the server sends on each open connection whose client last sent `marker` (in its
        request line); returns how many."""
        with self._lock:
            chosen = {server for server, sent in self._open.items() if marker in sent}
            self._silent |= chosen
        return len(chosen)

    def _accept(self, listener):
        """Relay each new connection until the listener is shut down."""
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # shut down by cut()
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open[server] = b""
            threading.Thread(target=self._pump, args=(client, server, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, server), daemon=True).start()

    def _pump(self, source, sink, server):
        """Copy bytes from `source` to `sink` until either side ends (noting what the client sends, dropping what a
        silenced server sends); then close both."""
        try:
            while data := source.recv(65536):
                if source is not server:
                    with self._lock:
                        if server in self._open:
                            self._open[server] = data[:200]
                if source not in self._silent:
                    sink.sendall(data)
        except OSError:
            pass
        if source in self._silent:
            return  # the server's end vanishes too: its client waits on, as behind a half-open connection
        with self._lock:
            self._open.pop(server, None)
        for sock in (source, sink):
            _close(sock)


def _close(sock):
    """Close a socket at once, both ways (a peer blocked in recv() sees the end)."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
