#!/usr/bin/env python3
"""mkcorpus.py - writes the seed corpus of the fuzz targets (fuzz/corpus/).

Run from anywhere; rewrites the files it owns (seed-*), leaves others (crashes
found later, saved as regression inputs) alone.  The header layout is the one
in src/wire.h: magic "DSM1", version, type, flags, len, src, aux, seq, id, arg.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
MAGIC = 0x314D5344
HELLO, CHALLENGE, AUTH, REFUSE = 1, 2, 3, 4
READ_REQ, PAGE, DONE, RPC_CALL = 20, 26, 27, 60
JOB = 0x1122334455667788  # the job id the handshake targets believe in


def hdr(typ, length, src=0, aux=0, seq=0, id_=0, arg=0, flags=0, version=1, magic=MAGIC):
    return struct.pack('<IBBHIIIIQQ', magic, version, typ, flags, length, src, aux, seq, id_, arg)


def write(target, name, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'seed-' + name), 'wb') as f:
        f.write(data)


# wire: one header of each kind, and the ways a header can be wrong
write('wire', 'hello', hdr(HELLO, 40, src=3))
write('wire', 'page', hdr(PAGE, 4096, src=1, id_=7, arg=12345, flags=0x5))
write('wire', 'page-zero', hdr(PAGE, 0, flags=0x1))
write('wire', 'read-req', hdr(READ_REQ, 0, src=2, id_=9, arg=1))
write('wire', 'done-seq', hdr(DONE, 0, seq=77, id_=1))
write('wire', 'rpc-big', hdr(RPC_CALL, 1 << 20))
write('wire', 'too-long', hdr(READ_REQ, 1))
write('wire', 'version2', hdr(HELLO, 40, version=2))
write('wire', 'bad-magic', hdr(HELLO, 40, magic=0x12345678))
write('wire', 'unknown-type', hdr(200, 0))
write('wire', 'short', hdr(HELLO, 40)[:17])
SEALED, SEAL = 0x8000, 40  # WIRE_F_SEALED, WIRE_SEAL_OVERHEAD
write('wire', 'sealed-page', hdr(PAGE, 4096 + SEAL, flags=SEALED | 0x4))
write('wire', 'sealed-rpc-max', hdr(RPC_CALL, (1 << 20) + SEAL, flags=SEALED))
write('wire', 'sealed-short', hdr(DONE, SEAL - 1, flags=SEALED))

# accept: what a connector sends: HELLO(job, nonce), then AUTH(mac)
hello = hdr(HELLO, 40, src=1) + struct.pack('<Q', JOB) + bytes(range(32))
auth = hdr(AUTH, 32, src=1) + bytes(32)
write('accept', 'hello', hello)
write('accept', 'hello-auth', hello + auth)
write('accept', 'hello-wrong-job', hdr(HELLO, 40, src=1) + struct.pack('<Q', JOB ^ 1) + bytes(32))
write('accept', 'hello-v2', hdr(HELLO, 40, src=1, version=2) + struct.pack('<Q', JOB) + bytes(32))
write('accept', 'auth-first', auth)
write('accept', 'hello-refuse', hello + hdr(REFUSE, 12, src=1) + b'wrong secret')
write('accept', 'hello-truncated', hello[:60])
write('accept', 'hello-then-page', hello + hdr(PAGE, 4096) + bytes(4096))

# connect: the first byte picks the id expected (0xff: any); then what the
# acceptor answers: CHALLENGE(nonce, mac) or REFUSE(text)
chal = hdr(CHALLENGE, 64, src=0) + bytes(range(64))
write('connect', 'challenge', b'\x00' + chal)
write('connect', 'challenge-any', b'\xff' + chal)
write('connect', 'challenge-other-id', b'\x05' + chal)
write('connect', 'refuse', b'\x00' + hdr(REFUSE, 25) + b'protocol version mismatch')
write('connect', 'refuse-max', b'\x00' + hdr(REFUSE, 256) + b'x' * 256)
write('connect', 'refuse-empty', b'\x00' + hdr(REFUSE, 0))
write('connect', 'v2', b'\x00' + hdr(CHALLENGE, 64, version=2) + bytes(64))
write('connect', 'hello-back', b'\x00' + hello)
write('connect', 'nothing', b'\x00')
