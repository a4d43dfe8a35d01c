#!/usr/bin/python3
"""A loopback TLS server that counts the connections made to it.

    /usr/bin/python3 tests/cli/tls_server.py CERT KEY PORT-FILE COUNT-FILE

Listens on 127.0.0.1 on a free port, written to PORT-FILE once ready. Every
accepted connection adds one to COUNT-FILE (rewritten each time), then the
TLS handshake is attempted with CERT/KEY; a client that rejects the
certificate ends it there. Python standard library only.
"""
import socket
import ssl
import sys

cert, key, port_file, count_file = sys.argv[1:5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.bind(("127.0.0.1", 0))
srv.listen(16)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
import os
os.rename(port_file + ".tmp", port_file)
n = 0
while True:
    conn, _ = srv.accept()
    n += 1
    with open(count_file, "w") as f:
        f.write(str(n))
    conn.settimeout(5)
    try:
        with ctx.wrap_socket(conn, server_side=True) as t:
            t.recv(1)
    except (ssl.SSLError, OSError):
        pass
    finally:
        conn.close()
