#!/usr/bin/env python3
"""Drive a running mailgate daemon with Python's smtplib and raw sockets; check replies and spool files.

usage: smtp_clients_test.py --host H --port P --spool DIR --size-limit N --rcpt-limit N
                            [--greet-port P2 --greet-pause-ms MS] [--reject-port P3 --reject-spool DIR3]
                            [--only CASE ...] [--skip CASE ...]

The daemon on --port must run with smtpd.message-size-limit = N (--size-limit), smtpd.recipient-limit = N
(--rcpt-limit) and smtpd.bare-lf = normalize (the default); the one on --greet-port with
smtpd.greet-pause = MS; the one on --reject-port with smtpd.bare-lf = reject. Every case checks the
SMTP replies and, for each message it expects queued, the spool file named by "250 2.0.0 Ok: queued as ID":
envelope fields, the size and crc32c fields, and the message after the Received header, byte for byte.

Python 3.11 standard library only. Exit status 0 when every case passed; each failure is printed with
its traceback and the transcript of the raw-socket cases.
"""

import argparse
import re
import smtplib
import socket
import sys
import time
import traceback
from pathlib import Path

TIMEOUT = 15.0
QUEUED = re.compile(rb"^250 2\.0\.0 Ok: queued as ([A-Za-z0-9]+)$")
# -------------------------------------------------------------------------------------------- spool files

# CRC32C (Castagnoli), reflected polynomial 0x82F63B78; the stdlib has only zlib's CRC32.
_CRC32C_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC32C_TABLE.append(_c)


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _CRC32C_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283, "CRC32C self-check"


class Spooled:
    """One queue file, parsed; size and crc32c verified; Received header split off."""

    def __init__(self, path: Path):
        self.path = path
        raw = path.read_bytes()
        blank = raw.find(b"\n\n")
        assert blank > 0, f"{path}: no blank line after the envelope"
        self.envelope_bytes = raw[:blank + 1]
        self.message = raw[blank + 2:]
        lines = self.envelope_bytes.decode("utf-8").split("\n")[:-1]
        assert lines[0] == "MAILGATE-SPOOL 1", f"{path}: bad first line {lines[0]!r}"
        self.lines = lines
        self.fields = {}
        for line in lines[1:]:
            key, sep, value = line.partition(": ")
            assert sep and key, f"{path}: envelope line is not 'key: value': {line!r}"
            self.fields.setdefault(key, []).append(value)
        size = self.one("size")
        assert re.fullmatch(r"[0-9]{20}", size), f"{path}: size field {size!r} is not 20 digits"
        assert int(size) == len(self.message), \
            f"{path}: size field says {int(size)}, message has {len(self.message)} bytes"
        crc = self.one("crc32c")
        assert re.fullmatch(r"[0-9a-f]{8}", crc), f"{path}: crc32c field {crc!r} is not 8 hex digits"
        actual = f"{crc32c(self.message):08x}"
        assert crc == actual, f"{path}: crc32c field {crc} but the message's CRC32C is {actual}"
        assert self.message.startswith(b"Received: from "), f"{path}: no Received header first"
        pos = 0
        while True:
            end = self.message.index(b"\r\n", pos)
            assert b"\n" not in self.message[pos:end], f"{path}: bare LF in the Received header"
            pos = end + 2
            if pos >= len(self.message) or self.message[pos:pos + 1] not in (b" ", b"\t"):
                break
        self.received = self.message[:pos]
        self.content = self.message[pos:]

    def one(self, key):
        values = self.fields.get(key, [])
        assert len(values) == 1, f"{self.path}: want one {key!r} field, got {values}\n{self.dump()}"
        return values[0]

    def all(self, key):
        return self.fields.get(key, [])

    def dump(self):
        return "\n".join(self.lines) + "\n\n" + self.message.decode("utf-8", "replace")


class Ctx:
    def __init__(self, args):
        self.host = args.host
        self.port = args.port
        self.queue = Path(args.spool) / "queue"
        self.size_limit = args.size_limit
        self.rcpt_limit = args.rcpt_limit
        self.greet_port = args.greet_port
        self.greet_pause_ms = args.greet_pause_ms
        self.reject_port = args.reject_port
        self.reject_spool = args.reject_spool

    def spooled(self, reply) -> Spooled:
        if isinstance(reply, str):
            reply = reply.encode("utf-8")
        m = QUEUED.match(reply)
        assert m, f"not a queued reply: {reply!r}"
        return Spooled(self.queue / m.group(1).decode("ascii"))

    def queue_count(self) -> int:
        return len(list(self.queue.iterdir())) if self.queue.is_dir() else 0


def expect_content(spooled: Spooled, expected: bytes):
    if spooled.content != expected:
        raise AssertionError(f"{spooled.path}: stored message differs from what was sent\n"
                             f"sent:   {expected!r}\nstored: {spooled.content!r}")


# -------------------------------------------------------------------------------------------- raw socket


class Wire:
    """A raw SMTP connection with a transcript."""

    def __init__(self, port, host="127.0.0.1", greet=True):
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.transcript = []
        if greet:
            self.expect(b"220 ")

    def send(self, data: bytes):
        self.transcript.append(b"C: " + data)
        self.sock.sendall(data)

    def read_line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"connection closed; unread {self.buf!r}")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        assert b"\n" not in line, f"reply with a bare LF: {line!r}"
        self.transcript.append(b"S: " + line)
        return line

    def reply(self) -> list:
        lines = []
        while True:
            line = self.read_line()
            assert re.match(rb"^[2-5][0-9][0-9][ -]", line), f"malformed reply line {line!r}"
            lines.append(line)
            if line[3:4] == b" ":
                return lines

    def expect(self, prefix: bytes) -> bytes:
        lines = self.reply()
        assert lines[-1].startswith(prefix), f"expected a reply starting {prefix!r}, got {lines!r}"
        return lines[-1]

    def ehlo(self, name=b"client.example.test"):
        self.send(b"EHLO " + name + b"\r\n")
        lines = self.reply()
        assert lines[-1].startswith(b"250 "), lines
        return [line[4:] for line in lines]

    def wait_closed(self):
        """The server must close the connection now: nothing but EOF (or a reset) may follow."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.buf += chunk
        except ConnectionResetError:
            pass
        assert not self.buf, f"unexpected bytes before the close: {self.buf!r}"

    def close(self):
        self.sock.close()

    def dump(self):
        return "\n".join(t.decode("utf-8", "replace") for t in self.transcript)


class RecordingSMTP(smtplib.SMTP):
    """smtplib.SMTP that keeps the reply to the end of data, which names the queue file."""

    last_data_reply = None

    def data(self, msg):
        code, text = super().data(msg)
        self.last_data_reply = f"{code} ".encode() + text
        return code, text


def smtp(ctx) -> RecordingSMTP:
    s = RecordingSMTP(ctx.host, ctx.port, local_hostname="client.example.test", timeout=TIMEOUT)
    return s


# -------------------------------------------------------------------------------------------- cases


def case_plain_send(ctx):
    msg = (b"From: b@example.test\r\nTo: a@example.test\r\nSubject: plain smtplib\r\n\r\n"
           b"Hello from smtplib.\r\n.a line that starts with a dot\r\n..and one with two\r\n")
    with smtp(ctx) as s:
        refused = s.sendmail("b@example.test", ["a@example.test"], msg)
        assert refused == {}, refused
        reply = s.last_data_reply
    sp = ctx.spooled(reply)
    # smtplib adds "size=N" because the server offers SIZE (RFC 1870); stored as sent
    assert sp.all("mail") == [f"<b@example.test> size={len(msg)}"], sp.all("mail")
    assert sp.all("rcpt") == ["<a@example.test>"], sp.all("rcpt")
    assert sp.one("helo") == "client.example.test"
    assert sp.one("protocol") == "ESMTP"
    assert b"by mx.example.test (mailgate) with ESMTP id " + sp.one("id").encode() in sp.received, sp.received
    assert b"for <a@example.test>;" in sp.received, sp.received
    expect_content(sp, msg)


def case_pipelined_send(ctx):
    w = Wire(ctx.port)
    try:
        assert b"PIPELINING" in w.ehlo()
        w.send(b"MAIL FROM:<p@example.test>\r\nRCPT TO:<r1@example.test>\r\n"
               b"RCPT TO:<r2@example.test> NOTIFY=SUCCESS,FAILURE\r\nDATA\r\n")
        assert w.reply() == [b"250 2.1.0 Ok"], w.dump()
        assert w.reply() == [b"250 2.1.5 Ok"], w.dump()
        assert w.reply() == [b"250 2.1.5 Ok"], w.dump()
        assert w.reply()[0].startswith(b"354 "), w.dump()
        body = (b"Subject: pipelined\r\n\r\nline 1\r\n..dot-stuffed\r\n.\r\n")
        w.send(body)
        reply = w.expect(b"250 ")
        w.send(b"QUIT\r\n")
        assert w.reply() == [b"221 2.0.0 Bye"], w.dump()
        w.wait_closed()
    except BaseException:
        print(w.dump())
        raise
    finally:
        w.close()
    sp = ctx.spooled(reply)
    assert sp.all("mail") == ["<p@example.test>"], sp.all("mail")
    assert sp.all("rcpt") == ["<r1@example.test>", "<r2@example.test> NOTIFY=SUCCESS,FAILURE"], sp.all("rcpt")
    expect_content(sp, b"Subject: pipelined\r\n\r\nline 1\r\n.dot-stuffed\r\n")


def case_bdat(ctx):
    # the chunks hold what would end or be unstuffed in DATA: BDAT data must be stored untouched (RFC 3030)
    chunk1 = b"X: 1\r\n\r\n.\r"
    chunk2 = b"\n..\r\n"
    assert len(chunk1) == 10 and len(chunk2) == 5
    w = Wire(ctx.port)
    try:
        assert b"CHUNKING" in w.ehlo()
        w.send(b"MAIL FROM:<bdat@example.test>\r\n")
        assert w.reply() == [b"250 2.1.0 Ok"], w.dump()
        w.send(b"RCPT TO:<r@example.test>\r\n")
        assert w.reply() == [b"250 2.1.5 Ok"], w.dump()
        w.send(b"BDAT 10\r\n" + chunk1)
        assert w.reply() == [b"250 2.0.0 10 octets received"], w.dump()
        w.send(b"BDAT 5 LAST\r\n" + chunk2)
        reply = w.expect(b"250 2.0.0 Ok: queued as ")
        # and pipelined, as RFC 3030 allows: all chunks in one write
        w.send(b"MAIL FROM:<bdat2@example.test> BODY=BINARYMIME\r\nRCPT TO:<r@example.test>\r\n"
               b"BDAT 3\r\n\x00\xff\nBDAT 2 LAST\r\n\r\n")
        assert w.reply() == [b"250 2.1.0 Ok"], w.dump()
        assert w.reply() == [b"250 2.1.5 Ok"], w.dump()
        assert w.reply() == [b"250 2.0.0 3 octets received"], w.dump()
        reply2 = w.expect(b"250 2.0.0 Ok: queued as ")
        w.send(b"QUIT\r\n")
        assert w.reply() == [b"221 2.0.0 Bye"], w.dump()
    except BaseException:
        print(w.dump())
        raise
    finally:
        w.close()
    sp = ctx.spooled(reply)
    assert sp.all("mail") == ["<bdat@example.test>"], sp.all("mail")
    expect_content(sp, chunk1 + chunk2)
    sp2 = ctx.spooled(reply2)
    assert sp2.all("mail") == ["<bdat2@example.test> BODY=BINARYMIME"], sp2.all("mail")
    expect_content(sp2, b"\x00\xff\n\r\n")


def case_smtputf8(ctx):
    sender = "发件人@例子.测试"
    rcpt = "用户@例子.测试"
    msg = ("From: " + sender + "\r\nTo: " + rcpt + "\r\nSubject: 你好\r\n\r\nUTF-8 everywhere: Grüße, 你好\r\n"
           ).encode("utf-8")
    with smtp(ctx) as s:
        s.ehlo()
        assert s.has_extn("smtputf8")
        refused = s.sendmail(sender, [rcpt], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        assert refused == {}, refused
        reply = s.last_data_reply
    sp = ctx.spooled(reply)
    mail = sp.all("mail")
    assert len(mail) == 1, mail
    assert mail[0].startswith("<" + sender + "> "), mail
    assert set(mail[0].split(" ")[1:]) == {"SMTPUTF8", "BODY=8BITMIME", f"size={len(msg)}"}, mail
    assert sp.all("rcpt") == ["<" + rcpt + ">"], sp.all("rcpt")
    # the exact octets of the addresses, not a re-encoding
    assert ("mail: <" + sender + ">").encode("utf-8") in sp.envelope_bytes
    assert ("\nrcpt: <" + rcpt + ">\n").encode("utf-8") in sp.envelope_bytes
    assert sp.one("protocol") == "UTF8SMTP", sp.one("protocol")
    assert b" with UTF8SMTP id " in sp.received, sp.received  # RFC 6531 3.7.3
    expect_content(sp, msg)


def case_8bit_body(ctx):
    msg = (b"Subject: 8-bit\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           + "Grüße aus Köln – ½ € ✓\r\n".encode("utf-8") + bytes(range(0x80, 0x100)) + b"\r\n")
    with smtp(ctx) as s:
        s.ehlo()
        assert s.has_extn("8bitmime")
        s.mail("eight@example.test", ["BODY=8BITMIME"])
        code, text = s.rcpt("r@example.test")
        assert code == 250, (code, text)
        s.data(msg)
        reply = s.last_data_reply
    sp = ctx.spooled(reply)
    assert sp.all("mail") == ["<eight@example.test> BODY=8BITMIME"], sp.all("mail")
    expect_content(sp, msg)


def case_oversized(ctx):
    big = b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * (ctx.size_limit // 72 + 10)
    assert len(big) > ctx.size_limit
    before = ctx.queue_count()
    # (a) smtplib announces SIZE= (RFC 1870): refused at MAIL
    with smtp(ctx) as s:
        try:
            s.sendmail("big@example.test", ["r@example.test"], big)
            raise AssertionError("an oversized message was accepted")
        except smtplib.SMTPSenderRefused as e:
            assert e.smtp_code == 552, e
            assert e.smtp_error.startswith(b"5.3.4 "), e
    # (b) without SIZE=: the whole message is read and refused at its end; the session goes on
    with smtp(ctx) as s:
        s.ehlo()
        code, text = s.mail("big@example.test")
        assert code == 250, (code, text)
        code, text = s.rcpt("r@example.test")
        assert code == 250, (code, text)
        code, text = s.data(big)
        assert code == 552 and text.startswith(b"5.3.4 "), (code, text)
        assert ctx.queue_count() == before, "an oversized message was queued"
        small = b"Subject: small\r\n\r\nafter the big one\r\n"
        refused = s.sendmail("small@example.test", ["r@example.test"], small)
        assert refused == {}, refused
        reply = s.last_data_reply
    assert ctx.queue_count() == before + 1
    sp = ctx.spooled(reply)
    expect_content(sp, small)


def case_size_boundary(ctx):
    """A message of exactly the limit fits (SIZE= too); one octet more is refused (RFC 1870)."""
    head = b"Subject: exactly at the limit\r\n\r\n"
    line = b"y" * 98 + b"\r\n"
    body = line * ((ctx.size_limit - len(head)) // len(line))
    exact = head + body + b"z" * (ctx.size_limit - len(head) - len(body) - 2) + b"\r\n"
    assert len(exact) == ctx.size_limit
    with smtp(ctx) as s:
        refused = s.sendmail("edge@example.test", ["r@example.test"], exact)  # announces size=LIMIT
        assert refused == {}, refused
        sp = ctx.spooled(s.last_data_reply)
    expect_content(sp, exact)
    before = ctx.queue_count()
    one_more = exact[:-2] + b"z\r\n"
    with smtp(ctx) as s:
        s.ehlo()
        assert s.mail("edge@example.test")[0] == 250
        assert s.rcpt("r@example.test")[0] == 250
        code, text = s.data(one_more)
        assert code == 552 and text.startswith(b"5.3.4 "), (code, text)
    assert ctx.queue_count() == before, "a message over the limit was queued"


def case_long_text_line(ctx):
    """RFC 5321 4.5.3.1.6: a text line may be 1000 octets with its CR LF, "not counting the leading dot
    duplicated for transparency"; both kinds must be taken and kept intact."""
    for line in (b"L" * 998, b"." + b"D" * 997):
        msg = b"Subject: long line\r\n\r\n" + line + b"\r\nend\r\n"
        with smtp(ctx) as s:
            s.ehlo()
            assert s.mail("long@example.test")[0] == 250
            assert s.rcpt("r@example.test")[0] == 250
            code, text = s.data(msg)  # smtplib sends the dot line as ".." + 997 D: 1001 octets on the wire
            assert code == 250, f"a {len(line)}-character line starting with {line[:1]!r}: {code} {text!r}"
            sp = ctx.spooled(s.last_data_reply)
        expect_content(sp, msg)


def case_too_many_recipients(ctx):
    n = ctx.rcpt_limit + 2
    rcpts = [f"r{i}@example.test" for i in range(1, n + 1)]
    with smtp(ctx) as s:
        s.ehlo()
        code, text = s.mail("many@example.test")
        assert code == 250, (code, text)
        codes = [s.rcpt(r) for r in rcpts]
        # RFC 5321 4.5.3.1.10: "452 too many recipients"; RFC 3463 X.5.3
        for i, (code, text) in enumerate(codes):
            if i < ctx.rcpt_limit:
                assert (code, text) == (250, b"2.1.5 Ok"), codes
            else:
                assert code == 452 and text.startswith(b"4.5.3 "), codes
        msg = b"Subject: many\r\n\r\nto the first recipients only\r\n"
        code, text = s.data(msg)
        assert code == 250, (code, text)
        reply = s.last_data_reply
    sp = ctx.spooled(reply)
    assert sp.all("rcpt") == [f"<{r}>" for r in rcpts[:ctx.rcpt_limit]], sp.all("rcpt")
    expect_content(sp, msg)
    # and sendmail(): the refused recipients come back with their 452
    with smtp(ctx) as s:
        refused = s.sendmail("many@example.test", rcpts, msg)
        assert set(refused) == set(rcpts[ctx.rcpt_limit:]), refused
        assert all(code == 452 for code, _ in refused.values()), refused
        sp = ctx.spooled(s.last_data_reply)
    assert sp.all("rcpt") == [f"<{r}>" for r in rcpts[:ctx.rcpt_limit]], sp.all("rcpt")


SMUGGLED = b"MAIL FROM:<evil@x>\r\nRCPT TO:<victim@y>\r\nDATA\r\nsmuggled\r\n.\r\n"
# per attempt: what the fake end-of-data may become in the stored message (bare LF normalised to CR LF,
# the dot at the start of a line either removed as RFC 5321 4.5.2 transparency or kept)
SMUGGLING_ATTEMPTS = [
    (b"\n.\n", [b"\r\n\r\n", b"\r\n.\r\n"]),
    (b"\r\n.\n", [b"\r\n\r\n", b"\r\n.\r\n"]),
    (b"\n.\r\n", [b"\r\n\r\n", b"\r\n.\r\n"]),
    (b"\r.\r\n", [b"\r.\r\n"]),
    (b"\r\n.\r", [b"\r\n\r", b"\r\n.\r"]),
]


def case_bare_lf_smuggling(ctx):
    for split in (False, True):
        for number, (fake_end, stored_forms) in enumerate(SMUGGLING_ATTEMPTS, 1):
            smuggling_attempt(ctx, number, fake_end, stored_forms, split)


def smuggling_attempt(ctx, number, fake_end, stored_forms, split):
    what = f"attempt {number} {fake_end!r} (split={split})"
    before = ctx.queue_count()
    w = Wire(ctx.port)
    try:
        w.ehlo()
        w.send(b"MAIL FROM:<honest@example.test>\r\n")
        assert w.reply() == [b"250 2.1.0 Ok"], w.dump()
        w.send(b"RCPT TO:<r@example.test>\r\n")
        assert w.reply() == [b"250 2.1.5 Ok"], w.dump()
        w.send(b"DATA\r\n")
        assert w.reply()[0].startswith(b"354 "), w.dump()
        prefix = b"Subject: smuggling attempt %d\r\n\r\nhello" % number
        payload = prefix + fake_end + SMUGGLED + b"\r\n.\r\n"
        if split:
            # one byte per write: the end-of-data state must carry over between reads
            for i in range(len(payload)):
                w.send(payload[i:i + 1])
        else:
            # everything in one write, as an attacker would
            w.send(payload)
        first = w.reply()
        assert len(first) == 1 and QUEUED.match(first[0]), \
            f"{what}: first reply after the data is not the queued reply\n" + w.dump()
        w.send(b"QUIT\r\n")
        rest = []
        while True:
            r = w.reply()
            rest.extend(r)
            if r[-1].startswith(b"221 "):
                break
        # the trailing "\r\n.\r\n" arrives as two (bad) command lines; nothing was taken as MAIL/RCPT/DATA
        for line in rest[:-1]:
            assert line[:1] == b"5", f"{what}: unexpected reply {line!r}\n" + w.dump()
        w.wait_closed()
    except BaseException:
        print(w.dump())
        raise
    finally:
        w.close()
    assert ctx.queue_count() == before + 1, \
        f"{what}: {ctx.queue_count() - before} messages queued, want exactly 1"
    sp = ctx.spooled(first[0])
    assert sp.all("mail") == ["<honest@example.test>"], sp.all("mail")
    assert sp.all("rcpt") == ["<r@example.test>"], sp.all("rcpt")
    smuggled_data = SMUGGLED[:-3]  # the smuggled text, up to its own end-of-data (which ends the message)
    allowed = [prefix + form + smuggled_data for form in stored_forms]
    if sp.content not in allowed:
        raise AssertionError(f"{what}: stored {sp.content!r}, want one of {allowed!r}")


def case_bare_lf_reject(ctx):
    """smtpd.bare-lf = reject: a bare LF in data refuses the message (550 5.5.2), in a command 500 5.5.2;
    the smuggled commands still never run. A bare CR is data in either mode."""
    assert ctx.reject_port, "--reject-port not given"
    queue = Path(ctx.reject_spool) / "queue"

    def count():
        return len(list(queue.iterdir())) if queue.is_dir() else 0

    for number, (fake_end, _) in enumerate(SMUGGLING_ATTEMPTS, 1):
        has_bare_lf = b"\n" in fake_end.replace(b"\r\n", b"")
        what = f"reject mode, attempt {number} {fake_end!r}"
        before = count()
        w = Wire(ctx.reject_port)
        try:
            w.ehlo()
            w.send(b"MAIL FROM:<honest@example.test>\r\nRCPT TO:<r@example.test>\r\nDATA\r\n")
            assert w.reply() == [b"250 2.1.0 Ok"], w.dump()
            assert w.reply() == [b"250 2.1.5 Ok"], w.dump()
            assert w.reply()[0].startswith(b"354 "), w.dump()
            w.send(b"Subject: reject mode %d\r\n\r\nhello" % number + fake_end + SMUGGLED + b"\r\n.\r\nQUIT\r\n")
            first = w.reply()
            if has_bare_lf:
                assert first == [b"550 5.5.2 Error: bare <LF> received"], f"{what}\n" + w.dump()
            else:
                assert len(first) == 1 and QUEUED.match(first[0]), f"{what}\n" + w.dump()
            while True:
                r = w.reply()
                if r[-1].startswith(b"221 "):
                    break
                assert r[-1][:1] == b"5", f"{what}: unexpected reply {r!r}\n" + w.dump()
            w.wait_closed()
        except BaseException:
            print(w.dump())
            raise
        finally:
            w.close()
        assert count() == before + (0 if has_bare_lf else 1), f"{what}: {count() - before} messages queued"
    w = Wire(ctx.reject_port)
    try:
        w.send(b"EHLO client.example.test\nNOOP\r\n")
        assert w.reply() == [b"500 5.5.2 Error: bare <LF> received"], w.dump()
        assert w.reply() == [b"250 2.0.0 Ok"], w.dump()
    finally:
        w.close()


def case_early_talker(ctx):
    assert ctx.greet_port, "--greet-port not given"
    # an early talker: EHLO before the greeting
    w = Wire(ctx.greet_port, greet=False)
    try:
        w.send(b"EHLO x\r\n")
        lines = w.reply()
        assert len(lines) == 1 and lines[0].startswith(b"554 5.5.1 "), w.dump()
        w.wait_closed()
    except BaseException:
        print(w.dump())
        raise
    finally:
        w.close()
    # a polite client waits and is greeted after the pause
    start = time.monotonic()
    w = Wire(ctx.greet_port, greet=False)
    try:
        greeting = w.reply()
        elapsed = time.monotonic() - start
        assert greeting == [b"220 mx.example.test ESMTP mailgate"], w.dump()
        assert elapsed >= ctx.greet_pause_ms / 1000.0 * 0.8, f"greeted after {elapsed:.3f}s, before the pause"
        w.ehlo()
        w.send(b"QUIT\r\n")
        assert w.reply() == [b"221 2.0.0 Bye"], w.dump()
        w.wait_closed()
    except BaseException:
        print(w.dump())
        raise
    finally:
        w.close()
    # smtplib waits for the greeting too
    with smtplib.SMTP(ctx.host, ctx.greet_port, local_hostname="client.example.test", timeout=TIMEOUT) as s:
        code, _ = s.noop()
        assert code == 250


CASES = {
    "plain_send": case_plain_send,
    "pipelined_send": case_pipelined_send,
    "bdat": case_bdat,
    "smtputf8": case_smtputf8,
    "8bit_body": case_8bit_body,
    "oversized": case_oversized,
    "size_boundary": case_size_boundary,
    "long_text_line": case_long_text_line,
    "too_many_recipients": case_too_many_recipients,
    "bare_lf_smuggling": case_bare_lf_smuggling,
    "bare_lf_reject": case_bare_lf_reject,
    "early_talker": case_early_talker,
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--spool", required=True)
    p.add_argument("--size-limit", type=int, required=True)
    p.add_argument("--rcpt-limit", type=int, required=True)
    p.add_argument("--greet-port", type=int)
    p.add_argument("--greet-pause-ms", type=int, default=500)
    p.add_argument("--reject-port", type=int)
    p.add_argument("--reject-spool")
    p.add_argument("--only", nargs="*")
    p.add_argument("--skip", nargs="*")
    args = p.parse_args()
    ctx = Ctx(args)
    failed = []
    for name, case in CASES.items():
        if (args.only and name not in args.only) or (args.skip and name in args.skip):
            continue
        start = time.monotonic()
        try:
            case(ctx)
            print(f"ok   {name} ({time.monotonic() - start:.2f}s)", flush=True)
        except BaseException:
            failed.append(name)
            print(f"FAIL {name}", flush=True)
            traceback.print_exc(file=sys.stdout)
            sys.stdout.flush()
    print(f"{len(failed)} failed: {' '.join(failed)}" if failed else "all passed", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
