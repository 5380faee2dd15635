"""Test hosts on the plane's host subnet: network namespaces behind a bridge, as pods are.

A pod has an address of its own, reaches the API server at ``KUBERNETES_SERVICE_HOST``
and is reached by the API server at the address its EndpointSlice names.  A
:class:`TestNetwork` gives a test that much, and no more, without leaving the machine:

* a bridge in this (the root) network namespace holding the subnet's first
  address, the plane's gateway (its serving certificate names it);
* a forwarder on ``gateway:443`` to the API server on 127.0.0.1, so a host's
  ``KUBERNETES_SERVICE_HOST``/``PORT`` are ``gateway``/``443``;
* hosts: network namespaces with a veth on the bridge and the next addresses,
  a loopback, and no route but the subnet's -- a host reaches the gateway and
  the other hosts, nothing else.

The plane routes webhooks only to EndpointSlice addresses in this subnet
(``tests/plane/local.py``, ``_GUARD_POLICY``).  Everything is removed on :meth:`close`.
Needs root (``ip netns``, ``ip link``), as the CI machine runs the suite.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import selectors
import socket
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass

API_PORT = 443  # KUBERNETES_SERVICE_PORT in a pod, as the `kubernetes` Service's port


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


@dataclass(frozen=True)
class Host:
    """One network namespace: its name (for ``ip netns exec``) and its address."""

    name: str
    address: ipaddress.IPv4Address

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside this host's network namespace."""
        return ["ip", "netns", "exec", self.name, *argv]


class Forwarder:
    """TCP from ``listen`` to ``target``, byte for byte, in one thread of this process."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server(listen, reuse_port=False)
        self.server.setblocking(False)
        self._stopping = threading.Event()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.server, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._run, name="otelwire-test-forwarder", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            for key, _ in self._selector.select(timeout=0.2):
                if key.data is None:
                    self._accept()
                    continue
                source, peer = key.fileobj, key.data
                try:
                    data = source.recv(65536)  # type: ignore[union-attr]
                except OSError:
                    data = b""
                if not data:
                    self._close(source, peer)  # type: ignore[arg-type]
                    continue
                with contextlib.suppress(OSError):
                    peer.setblocking(True)
                    peer.sendall(data)
                    peer.setblocking(False)

    def _accept(self) -> None:
        with contextlib.suppress(BlockingIOError):
            client, _ = self.server.accept()
            upstream = socket.create_connection(self.target, timeout=10)
            for one, other in ((client, upstream), (upstream, client)):
                one.setblocking(False)
                self._selector.register(one, selectors.EVENT_READ, other)

    def _close(self, *sockets: socket.socket) -> None:
        for sock in sockets:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(sock)
            with contextlib.suppress(OSError):
                sock.close()

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        for key in list(self._selector.get_map().values()):
            with contextlib.suppress(OSError):
                key.fileobj.close()  # type: ignore[union-attr]
        self._selector.close()


class TestNetwork:
    """A bridge, the API server at the gateway, and hosts in network namespaces (see the module)."""

    __test__ = False  # not a pytest class

    def __init__(self, subnet: ipaddress.IPv4Network, api_port: int) -> None:
        if os.geteuid() != 0:
            raise RuntimeError("test hosts need root (ip netns, ip link)")
        self.subnet = subnet
        addresses = subnet.hosts()
        self.gateway = next(addresses)
        self._free = addresses
        self.tag = f"otw{subnet.network_address.packed[2]}"  # unique per plane: its subnet's third octet
        self.bridge = f"{self.tag}br"
        self.hosts: list[Host] = []
        self.forwarder: Forwarder | None = None
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{self.gateway}/{subnet.prefixlen}", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            self.forwarder = Forwarder((str(self.gateway), API_PORT), ("127.0.0.1", api_port))
        except BaseException:
            self.close()
            raise

    @property
    def api_env(self) -> dict[str, str]:
        """What the kubelet gives a pod to find the API server."""
        return {"KUBERNETES_SERVICE_HOST": str(self.gateway), "KUBERNETES_SERVICE_PORT": str(API_PORT)}

    def add_host(self) -> Host:
        index = len(self.hosts)
        host = Host(f"{self.tag}h{index}", next(self._free))
        veth = f"{self.tag}v{index}"
        _ip("netns", "add", host.name)
        self.hosts.append(host)
        _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", host.name)
        _ip("link", "set", veth, "master", self.bridge, "up")
        _ip("-n", host.name, "addr", "add", f"{host.address}/{self.subnet.prefixlen}", "dev", "eth0")
        _ip("-n", host.name, "link", "set", "eth0", "up")
        _ip("-n", host.name, "link", "set", "lo", "up")
        return host

    def close(self) -> None:
        if self.forwarder is not None:
            self.forwarder.close()
            self.forwarder = None
        for host in self.hosts:
            with contextlib.suppress(RuntimeError):
                _ip("netns", "delete", host.name)  # takes its veth pair with it
        self.hosts.clear()
        with contextlib.suppress(RuntimeError):
            _ip("link", "delete", self.bridge)
