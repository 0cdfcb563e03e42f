#!/usr/bin/python3
"""N WebSocket clients that complete the handshake, subscribe, and then never read a byte.

A real stuck consumer: plain TCP sockets with a small receive buffer, so the server's sends back
up as they would for a frozen browser tab. Usage: stuck-ws-clients.py PORT TOKEN N. Prints READY
once all are connected and subscribed; exits when stdin closes.
"""
import json
import os
import socket
import sys

port, token, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
payload = json.dumps({"type": "subscribe"}).encode()
mask = bytes([1, 2, 3, 4])
frame = bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(
        (
            "GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
        + frame
    )
    socks.append(s)
print("READY", flush=True)
sys.stdin.read()
for s in socks:
    s.close()
os._exit(0)
