"""RAM sections of a recorded migration stream, record by record."""

import struct
import unittest

from migrate_tools import PAGE, Failure
from migrate_tools.stream import (F_COMPRESS, F_CONTINUE, F_EOS, F_MEM_SIZE,
                                  F_PAGE, F_ZERO, S_END, S_FOOTER, S_PART,
                                  S_START, ram_sections)

SECTION_ID = 2


def header(offset, flags, block=None):
    h = struct.pack(">Q", offset | flags)
    if block is not None:
        h += bytes([len(block)]) + block
    return h


def compressed(offset, data, block=None):
    flags = F_COMPRESS | (F_CONTINUE if block is None else 0)
    return header(offset, flags, block) + struct.pack(">I", len(data)) + data


def eos():
    return struct.pack(">Q", F_EOS)


def section(type_, body):
    return (bytes([type_]) + struct.pack(">I", SECTION_ID) + body + eos()
            + bytes([S_FOOTER]) + struct.pack(">I", SECTION_ID))


def stream(*parts):
    start = (b"QEVM" + bytes([S_START]) + struct.pack(">I", SECTION_ID)
             + b"\x03ram" + struct.pack(">II", 0, 4)
             + struct.pack(">Q", (2 * PAGE) | F_MEM_SIZE)
             + b"\x06pc.ram" + struct.pack(">Q", 2 * PAGE)
             + eos() + bytes([S_FOOTER]) + struct.pack(">I", SECTION_ID))
    return start + b"".join(parts) + b"\x00"


class RamSections(unittest.TestCase):
    def test_pages_of_each_kind_and_a_block_continued_across_sections(self):
        data = stream(
            section(S_PART, header(0, F_ZERO, b"pc.ram") + b"\x00"
                    + header(PAGE, F_PAGE | F_CONTINUE) + b"x" * PAGE),
            # The block was named in the previous section.
            section(S_END, compressed(PAGE, b"\x78\x01abc")))
        secs = ram_sections(data)
        self.assertEqual([s.type for s in secs], [S_START, S_PART, S_END])
        kinds = [(p.block, p.offset, p.kind) for s in secs for p in s.pages]
        self.assertEqual(kinds, [(b"pc.ram", 0, "zero"),
                                 (b"pc.ram", PAGE, "raw"),
                                 (b"pc.ram", PAGE, "compressed")])
        page = secs[2].pages[0]
        self.assertEqual(data[page.payload:page.end], b"\x78\x01abc")
        self.assertEqual(data[secs[2].eos:secs[2].eos + 8], eos())

    def test_repeated_counts_a_page_twice_in_one_section_only(self):
        data = stream(
            section(S_PART, compressed(0, b"old", b"pc.ram")
                    + compressed(PAGE, b"other") + compressed(0, b"new")),
            section(S_END, compressed(PAGE, b"again")))
        secs = ram_sections(data)
        rep = secs[1].repeated()
        self.assertEqual(list(rep), [(b"pc.ram", 0)])
        self.assertEqual([p.kind for p in rep[(b"pc.ram", 0)]],
                         ["compressed", "compressed"])
        self.assertEqual(secs[2].repeated(), {})

    def test_a_continued_record_with_no_block_is_refused(self):
        with self.assertRaises(Failure):
            ram_sections(stream(section(S_END, compressed(0, b"x"))))

    def test_a_truncated_section_is_refused(self):
        data = stream(section(S_END, compressed(0, b"abcdef", b"pc.ram")))
        with self.assertRaises(Failure):
            ram_sections(data[:data.index(b"abcdef") + 3])


if __name__ == "__main__":
    unittest.main()
