import socket, sys, time
def send(parts, port=18928):
    c = socket.create_connection(("127.0.0.1", port)); c.settimeout(1.5)
    for p in parts:
        c.sendall(p); time.sleep(0.15)
    out = b""
    try:
        while True:
            d = c.recv(65536)
            if not d: break
            out += d
    except socket.timeout: out += b"<timeout>"
    print(out.decode(errors="replace")); print("=====")
send([b"GET /api/x?y=1 HTTP/1.1\r\nHo", b"st: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: foo\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n",
      b"POST /api HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel", b"lo"])
send([b"POST /api/chunk HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\nGET /apix HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n"])
send([b"POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc"])
send([b"GET /api/x HTTP/1.1\r\n\r\n"])
send([b"GET /api/x HTTP/1.0\r\nHost: a\r\n\r\n"])
