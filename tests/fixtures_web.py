"""A small web site on 127.0.0.1 for the web-page tests (no network): an article page with
navigation and a footer around it, a redirect to it, a redirect loop, a page too large, an
image, a GBK text file, a missing page, a redirect to ftp:// and a page that never ends.

`site()` starts it in a thread; `.url(path)` is a page's address, `.requests` every
(path, Host header) it answered, `.pages[path]` may be changed to change what it serves.
`tls_site(name)` serves the same over https with a certificate for `name` from a CA it
makes, and gives the CA file to trust.
"""

from __future__ import annotations

import datetime
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ARTICLE_TITLE = "高雄港概况"
ARTICLE_FACT = "高雄港的灯塔建于1883年，塔高十五米，至今仍在使用。"
ARTICLE_FACT_EN = "The Kaohsiung harbour lighthouse was built in 1883 and is fifteen metres tall."
NAV_TEXT = "首页导航菜单链接"
FOOTER_TEXT = "版权所有页脚联系我们"
UPDATED_FACT = "高雄港的新灯塔建于2024年，塔高三十米。"
TEXT_FACT = "这是一份用GBK编码保存的港口告示，码头每天早上六点开放。"


def article(fact: str = ARTICLE_FACT) -> bytes:
    body = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{ARTICLE_TITLE} | 港口资讯网</title></head>
<body>
<nav><a href="/">{NAV_TEXT}</a> <a href="/a">新闻</a> <a href="/b">关于</a></nav>
<article>
<h1>{ARTICLE_TITLE}</h1>
<p>高雄港位于台湾南部，是台湾最大的国际港口，每年有数万艘船舶进出。港区分为多个码头，
负责货柜、散货和客运等不同业务，港口的发展带动了整个城市的经济。</p>
<h2>灯塔</h2>
<p>{fact}{ARTICLE_FACT_EN}</p>
<h2>吞吐量</h2>
<table><tr><th>年份</th><th>货柜</th></tr><tr><td>2019</td><td>1040万</td></tr>
<tr><td>2020</td><td>960万</td></tr></table>
</article>
<footer>{FOOTER_TEXT} © 2024</footer>
</body></html>"""
    return body.encode("utf-8")


@dataclass
class Page:
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stream_bytes: int = 0
    """Send this many bytes after `body`, without a Content-Length (a page too large)."""
    hang_s: float = 0.0
    """Send the headers, then nothing for this long (a page that never arrives)."""


def default_pages() -> dict[str, Page]:
    return {
        "/article.html": Page(body=article()),
        "/moved": Page(302, headers={"Location": "/article.html"}),
        "/loop/0": Page(302, headers={"Location": "/loop/1"}),
        **{f"/loop/{i}": Page(302, headers={"Location": f"/loop/{i + 1}"}) for i in range(1, 9)},
        "/huge": Page(body=b"<html><body><p>", stream_bytes=3 * 1024 * 1024),
        "/image.png": Page(content_type="image/png", body=b"\x89PNG\r\n\x1a\n" + b"\0" * 64),
        "/notes.txt": Page(content_type="text/plain; charset=gbk", body=TEXT_FACT.encode("gbk")),
        "/missing": Page(404, body=b"not here"),
        "/to-ftp": Page(302, headers={"Location": "ftp://127.0.0.1/file.html"}),
        "/hang": Page(body=b"<html><body><p>slow", hang_s=3.0),
    }


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        site: Site = self.server.site  # type: ignore[attr-defined]
        site.requests.append((self.path, self.headers.get("Host", "")))
        page = site.pages.get(self.path, Page(404, body=b"no such page"))
        self.send_response(page.status)
        self.send_header("Content-Type", page.content_type)
        for name, value in page.headers.items():
            self.send_header(name, value)
        if not page.stream_bytes and not page.hang_s:
            self.send_header("Content-Length", str(len(page.body)))
        self.end_headers()
        self.wfile.write(page.body)
        self.wfile.flush()
        if page.hang_s:
            time.sleep(page.hang_s)
        self._stream(page.stream_bytes)
        if page.stream_bytes or page.hang_s:
            self.close_connection = True

    def _stream(self, total: int) -> None:
        block = "港口".encode() * 10_000
        sent = 0
        try:
            while sent < total:
                self.wfile.write(block)
                sent += len(block)
        except OSError:
            pass  # the client gave up, as it should

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Site:
    server: ThreadingHTTPServer
    scheme: str = "http"
    host: str = "127.0.0.1"
    pages: dict[str, Page] = field(default_factory=default_pages)
    requests: list[tuple[str, str]] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str, host: str | None = None) -> str:
        return f"{self.scheme}://{host or self.host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def site(tls: ssl.SSLContext | None = None) -> Site:
    """The site, serving on 127.0.0.1 (over TLS with `tls`)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    served = Site(server, scheme="https" if tls else "http")
    server.site = served  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return served


def tls_site(name: str, folder: Path) -> tuple[Site, Path]:
    """The site over https with a certificate for `name` (signed by a CA made here), and the
    CA's certificate file."""
    ca_key, ca_cert = _certificate("zhiku test CA", None)
    key, cert = _certificate(name, (ca_key, ca_cert))
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    from cryptography.hazmat.primitives import serialization

    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    served = site(context)
    served.host = name
    return served, ca_file


def _certificate(name: str, issuer: tuple | None) -> tuple:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer_key, signer_cert = issuer if issuer else (key, None)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(signer_cert.subject if signer_cert else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False
        )
    return key, builder.sign(signer_key, hashes.SHA256())
