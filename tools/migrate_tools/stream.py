"""Reading a recorded precopy migration stream (QEMU 7.2, `migrate
exec:cat > FILE`): its RAM sections, record by record.

Only what the tests need: the RAM start section is found by its header, and
from there every RAM section (start, parts, end) is walked up to its EOS
record.  Nothing but RAM may iterate between them (true of a pc guest
without block migration); device state after RAM's end section is not read.
"""

import struct

from . import PAGE, Failure

# RAM record flags (migration/ram.c)
F_ZERO, F_MEM_SIZE, F_PAGE, F_EOS, F_CONTINUE, F_XBZRLE, F_COMPRESS = (
    0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x100)
# Section types (migration/savevm.c)
S_START, S_PART, S_END, S_FOOTER = 0x01, 0x02, 0x03, 0x7e

KINDS = {F_ZERO: "zero", F_PAGE: "raw", F_XBZRLE: "xbzrle",
         F_COMPRESS: "compressed"}


class Reader:
    def __init__(self, data, pos=0):
        self.data, self.pos = data, pos

    def take(self, n):
        if self.pos + n > len(self.data):
            raise Failure("stream ends inside a RAM section")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def u8(self):
        return self.take(1)[0]

    def be16(self):
        return struct.unpack(">H", self.take(2))[0]

    def be32(self):
        return struct.unpack(">I", self.take(4))[0]

    def be64(self):
        return struct.unpack(">Q", self.take(8))[0]


class Page:
    """One page record: block name, offset in the block, kind ('zero',
    'raw', 'xbzrle', 'compressed'), and where its record starts and its
    payload (after the length, for a compressed page) lies in the stream."""

    __slots__ = ("block", "offset", "kind", "start", "payload", "end")

    def __init__(self, block, offset, kind, start, payload, end):
        self.block, self.offset, self.kind = block, offset, kind
        self.start, self.payload, self.end = start, payload, end

    def __repr__(self):
        return (f"Page({self.block.decode()}+{self.offset:#x} {self.kind} "
                f"@{self.start})")


def ram_records(r, section_type, block=None):
    """Read the RAM records of one section up to its EOS: (list of Page,
    offset of the EOS record, the block the last record named).  `block`
    is the block a first record with RAM_SAVE_FLAG_CONTINUE refers to:
    the source names a block once and goes on from there across sections.
    """
    pages = []
    while True:
        start = r.pos
        hdr = r.be64()
        flags = hdr & (PAGE - 1)
        if flags & F_EOS:
            return pages, start, block
        if flags & F_MEM_SIZE:
            if section_type != S_START:
                raise Failure("block list outside the RAM start section")
            total = hdr & ~(PAGE - 1)
            while total:
                r.take(r.u8())
                total -= r.be64()
            continue
        if flags & F_CONTINUE:
            if block is None:
                raise Failure(f"RAM record at {start} continues no block")
        else:
            block = r.take(r.u8())
        kind = KINDS.get(flags & (F_ZERO | F_PAGE | F_XBZRLE | F_COMPRESS))
        if kind == "zero":
            size = 1
        elif kind == "raw":
            size = PAGE
        elif kind == "compressed":
            size = r.be32()
        elif kind == "xbzrle":
            r.u8()
            size = r.be16()
        else:
            raise Failure(f"RAM record with flags {flags:#x} not understood")
        payload = r.pos
        r.take(size)
        pages.append(Page(block, hdr & ~(PAGE - 1), kind, start, payload,
                          r.pos))


class Section:
    """A RAM section: its type (S_START, S_PART or S_END), its page records
    and the offset of its EOS record."""

    def __init__(self, type_, pages, eos):
        self.type, self.pages, self.eos = type_, pages, eos

    def repeated(self):
        """Pages that come more than once in this section:
        {(block, offset): [Page, ...]}."""
        seen = {}
        for p in self.pages:
            seen.setdefault((p.block, p.offset), []).append(p)
        return {k: v for k, v in seen.items() if len(v) > 1}


def ram_sections(stream):
    """Every RAM section of a recorded precopy stream, in order."""
    # The RAM start section: type, section id, "ram", instance 0, version 4.
    tag = b"\x03ram" + struct.pack(">II", 0, 4)
    at = stream.find(tag)
    if at < 5 or stream[at - 5] != S_START:
        raise Failure("no RAM start section in the recorded stream")
    section_id = struct.unpack(">I", stream[at - 4:at])[0]
    r = Reader(stream, at + len(tag))
    section_type = S_START
    sections = []
    block = None
    while True:
        pages, eos, block = ram_records(r, section_type, block)
        sections.append(Section(section_type, pages, eos))
        if section_type == S_END:
            return sections
        if stream[r.pos] == S_FOOTER:
            r.take(5)
        section_type = r.u8()
        if section_type not in (S_PART, S_END) or r.be32() != section_id:
            raise Failure("a section other than RAM's came before its end "
                          "section; only RAM may iterate in this stream")
