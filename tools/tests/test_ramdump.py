"""PT_LOAD segments of an ELF64 dump, and two dumps compared by page."""

import io
import os
import struct
import tempfile
import unittest

from migrate_tools import Failure, PAGE, ramdump


def elf(segments):
    """An ELF64 file: a PT_NOTE, then one PT_LOAD per (paddr, data)."""
    phnum = len(segments) + 1
    phoff = 64
    data_off = phoff + 56 * phnum
    eh = bytearray(64)
    eh[:5] = b"\x7fELF\x02"
    struct.pack_into("<Q", eh, 32, phoff)
    struct.pack_into("<HH", eh, 54, 56, phnum)
    ph = struct.pack("<IIQQQQQQ", 4, 0, 0, 0, 0, 0, 0, 0)
    body = b""
    off = data_off
    for paddr, data in segments:
        ph += struct.pack("<IIQQQQQQ", 1, 6, off, 0, paddr, len(data),
                          len(data), 0)
        body += data
        off += len(data)
    return bytes(eh) + ph + body


class TestElf(unittest.TestCase):
    def test_loads(self):
        blob = elf([(0, bytes(2 * PAGE)), (0x100000, bytes(PAGE))])
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "x.dump")
            with open(path, "wb") as f:
                f.write(blob)
            segs = ramdump.elf_loads(path)
        base = 64 + 56 * 3
        self.assertEqual(segs, [(0, base, 2 * PAGE),
                                (0x100000, base + 2 * PAGE, PAGE)])

    def test_not_elf(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "x.dump")
            with open(path, "wb") as f:
                f.write(b"\x7fELF\x01" + bytes(59))
            with self.assertRaisesRegex(Failure, "not an ELF64 dump"):
                ramdump.elf_loads(path)

    def test_compare(self):
        a0, a1 = bytearray(3 * PAGE), bytearray(PAGE)
        b0, b1 = bytearray(a0), bytearray(a1)
        b0[PAGE + 5] = 1              # second page of the first segment
        b1[PAGE - 1] = 1              # last byte of the second segment
        sa = [(0, 64, len(a0)), (0x100000, 64 + len(a0), len(a1))]
        # The other dump has its segments at other offsets.
        sb = [(0, 128, len(b0)), (0x100000, 128 + len(b0), len(b1))]
        fa = io.BytesIO(bytes(64) + a0 + a1)
        fb = io.BytesIO(bytes(128) + b0 + b1)
        self.assertTrue(ramdump.same_layout(sa, sb))
        self.assertEqual(ramdump.differing_pages(fa, sa, fb, sb),
                         (4, [PAGE, 0x100000]))
        self.assertFalse(ramdump.same_layout(sa, sb[:1]))


if __name__ == "__main__":
    unittest.main()
