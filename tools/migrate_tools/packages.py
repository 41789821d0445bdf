"""Debian packages: installed by the project's one installer,
build-aux/install-deps GROUP (as root, or through sudo)."""

import os
import shutil
import subprocess
import sys

from . import ROOT, Failure
from .ui import log

INSTALL_DEPS = os.path.join(ROOT, "build-aux", "install-deps")


def sudo_prefix():
    """[] as root, ["sudo"] if there is sudo, else None."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo"):
        return ["sudo"]
    return None


def ensure(group):
    """build-aux/install-deps GROUP: installs the group's missing packages
    (none missing: nothing to do).  Not on Debian: nothing, and hope."""
    if not shutil.which("dpkg-query"):
        return
    cmd = [INSTALL_DEPS, group]
    s = sudo_prefix()
    if s is None:
        raise Failure(f"missing packages; run build-aux/install-deps {group} "
                      "as root")
    log(f"installing the {group} packages (build-aux/install-deps {group})")
    r = subprocess.run(s + cmd, stdout=sys.stderr)
    if r.returncode != 0:
        raise Failure(f"build-aux/install-deps {group} failed (status "
                      f"{r.returncode})")
