# Test upstream: answers each request with its head as the body (keep-alive, content-length), chunked if path has /chunk
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 18929)); s.listen(16)
def serve(c):
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            d = c.recv(65536)
            if not d: return
            buf += d
        head, buf = buf.split(b"\r\n\r\n", 1)
        cl = 0
        for l in head.split(b"\r\n")[1:]:
            if l.lower().startswith(b"content-length:"): cl = int(l.split(b":")[1])
        while len(buf) < cl: buf += c.recv(65536)
        body, buf = head + b"\r\n\r\n" + buf[:cl], buf[cl:]
        if b"/chunk" in head.split(b"\r\n")[0]:
            c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n" + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
        else:
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nKeep-Alive: timeout=5\r\n\r\n" % len(body) + body)
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
