"""The project's Debian packages (scripts/build-deb), cached, and Debian's
own packages of the same QEMU, fetched with apt.

The cache key covers what goes into the packages: Debian's source version,
patches/, the library's sources and build files, and scripts/build-deb.
A miss builds (about 12 minutes on 2 cores with a cold ccache, 4 warm);
a hit costs nothing.
"""

import fcntl
import glob
import hashlib
import os
import subprocess
import sys

from . import ROOT, Failure
from .guest import cache_dir
from .ui import log

ARCH = "amd64"
# What an x86-64 host running VMs has of QEMU: the emulator and its modules.
HOST_PACKAGES = ("qemu-system-x86", "qemu-system-common")

KEY_FILES = ("Cargo.toml", "meson.build", "qemu-threads.pc.in",
             "include/qemu-threads.h", "build-aux/cargo-staticlib",
             "build-aux/rust-native-libs", "build-aux/debian-cargo-toml",
             "scripts/build-deb")


def key(source_version):
    h = hashlib.sha256(source_version.encode())
    files = list(KEY_FILES)
    files += sorted(os.path.relpath(p, ROOT) for p in
                    glob.glob(os.path.join(ROOT, "patches", "*.patch")))
    files += sorted(os.path.relpath(p, ROOT) for p in
                    glob.glob(os.path.join(ROOT, "src", "*.rs")))
    for f in files:
        h.update(f.encode() + b"\0")
        with open(os.path.join(ROOT, f), "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()[:16]


def source_version():
    """The Debian source version scripts/build-deb builds by default (the
    newest 7.2 the deb-src entries offer), or None without deb-src."""
    r = subprocess.run([os.path.join(ROOT, "scripts", "build-deb"),
                        "--print-source-version"],
                       capture_output=True, text=True)
    return r.stdout.strip() or None


def ensure_built(version=None, revision=1):
    """The directory of scripts/build-deb's output for Debian's VERSION
    (default: the newest) and build-deb's --revision, building it on a
    cache miss."""
    version = version or source_version()
    if not version:
        # No deb-src entry yet: build-deb adds it; build with its default.
        version = "newest"
    name = f"{version.split(':')[-1]}-{key(version)}"
    if revision != 1:
        name += f"-r{revision}"
    d = os.path.join(cache_dir(), "debs", name)
    if glob.glob(os.path.join(d, "*.deb")) and os.path.exists(
            os.path.join(d, "Packages.gz")):
        log(f"packages: cache hit, {d}")
        return d
    log(f"packages: building into {d} (scripts/build-deb)")
    argv = [os.path.join(ROOT, "scripts", "build-deb"), "--no-dbgsym",
            "--revision", str(revision), d]
    if version != "newest":
        argv[2:2] = ["--source-version", version]
    # One QEMU build at a time on this machine: qemu/build-qemu's lock.
    os.makedirs(cache_dir(), exist_ok=True)
    with open(os.path.join(cache_dir(), ".lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        r = subprocess.run(argv, stdout=sys.stderr)
    if r.returncode != 0:
        raise Failure(f"scripts/build-deb failed (status {r.returncode}); "
                      f"log in {d}/build.log")
    return d


def installed(package):
    """The installed version of PACKAGE, or None."""
    out = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}${Version}",
                          package], capture_output=True, text=True).stdout
    return out[3:].strip() if out.startswith("ii") else None


def version_of(deb):
    return subprocess.run(["dpkg-deb", "-f", deb, "Version"],
                          capture_output=True, text=True,
                          check=True).stdout.strip()


def find(directory, package):
    """The .deb of PACKAGE in DIRECTORY (exactly one)."""
    found = glob.glob(os.path.join(directory, f"{package}_*_{ARCH}.deb"))
    if len(found) != 1:
        raise Failure(f"{directory}: {len(found)} {package} packages")
    return found[0]


def debian_version(package, suite_pattern="bookworm"):
    """Debian's versions of PACKAGE that apt offers, newest first, without
    this project's (+qemuthreads)."""
    text = subprocess.run(["apt-cache", "madison", package],
                          capture_output=True, text=True).stdout
    vs = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) >= 3 and "qemuthreads" not in parts[1] and \
                "debian.org" in parts[2] and parts[1] not in vs:
            vs.append(parts[1])
    return vs


def download(package, version, directory):
    """Debian's PACKAGE=VERSION .deb, downloaded once into DIRECTORY."""
    os.makedirs(directory, exist_ok=True)
    quoted = version.replace(":", "%3a")
    want = os.path.join(directory, f"{package}_{quoted}_{ARCH}.deb")
    if not os.path.exists(want):
        subprocess.run(["apt-get", "-o", "APT::Sandbox::User=root",
                        "download", "-q", f"{package}={version}"],
                       cwd=directory, stdout=sys.stderr, check=True)
    if not os.path.exists(want):
        raise Failure(f"apt-get download {package}={version} made no {want}")
    return want


def unpack(debs, dest):
    """A tree with the files of DEBS (dpkg-deb -x), e.g. for a host's
    overlay."""
    os.makedirs(dest, exist_ok=True)
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", deb, dest], check=True)
    return dest


def file_in(deb, path):
    """The bytes of PATH (absolute) in DEB."""
    r = subprocess.run(f"dpkg-deb --fsys-tarfile '{deb}' | tar -xOf - '.{path}'",
                       shell=True, capture_output=True, check=True)
    return r.stdout
