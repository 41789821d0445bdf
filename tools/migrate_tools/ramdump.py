"""dump-guest-memory's ELF files (no paging): their PT_LOAD segments, and
two dumps compared page by page."""

import struct

from . import PAGE, MiB, Failure


def elf_loads_of(header, phdrs_at):
    """(paddr, file offset, size) of each PT_LOAD of an ELF64 file, from
    its 64-byte header and phdrs_at(offset, size) -> bytes."""
    if header[:4] != b"\x7fELF" or header[4] != 2:
        raise ValueError("not an ELF64 file")
    phoff, = struct.unpack_from("<Q", header, 32)
    phentsize, phnum = struct.unpack_from("<HH", header, 54)
    ph = phdrs_at(phoff, phentsize * phnum)
    out = []
    for i in range(phnum):
        p_type, _, p_offset, _, p_paddr, p_filesz = struct.unpack_from(
            "<IIQQQQ", ph, i * phentsize)
        if p_type == 1:
            out.append((p_paddr, p_offset, p_filesz))
    return out


def elf_loads(path):
    """(paddr, file offset, size) of each PT_LOAD of an ELF64 dump."""
    with open(path, "rb") as f:
        eh = f.read(64)

        def phdrs_at(off, size):
            f.seek(off)
            return f.read(size)

        try:
            return elf_loads_of(eh, phdrs_at)
        except ValueError:
            raise Failure(f"{path}: not an ELF64 dump") from None


def same_layout(segs_a, segs_b):
    """Whether two dumps hold the same guest-physical ranges."""
    return [(p, n) for p, _, n in segs_a] == [(p, n) for p, _, n in segs_b]


def differing_pages(fa, segs_a, fb, segs_b):
    """(pages compared, guest-physical addresses of the pages that differ)
    of two open dumps with the same layout."""
    diffs = []
    total = 0
    for (paddr, off_a, size), (_, off_b, _) in zip(segs_a, segs_b):
        total += size // PAGE
        fa.seek(off_a)
        fb.seek(off_b)
        done = 0
        while done < size:
            n = min(MiB, size - done)
            ba, bb = fa.read(n), fb.read(n)
            if ba != bb:
                for i in range(0, n, PAGE):
                    if ba[i:i + PAGE] != bb[i:i + PAGE]:
                        diffs.append(paddr + done + i)
            done += n
    return total, diffs
