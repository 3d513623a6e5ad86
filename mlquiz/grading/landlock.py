"""Landlock, the Linux security module that lets a process restrict its own access, by ctypes.

Used by the sandbox's child (``_child.py``) through :func:`restrict`; this module imports only
the standard library, because the child cannot import mlquiz (it loads this file by its path).
There is no maintained Python binding, so the three system calls are called directly. Their
numbers are the same on every architecture (the unified system-call table since Linux 5.13):

    landlock_create_ruleset  444      landlock_add_rule  445      landlock_restrict_self  446

What each ABI version (``landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)``)
adds, and so what :func:`restrict` can enforce on a kernel:

    ABI 1 (Linux 5.13)  files: read, write, execute, create, remove; ptrace of a process
                        outside the sandbox refused (always, for every ABI)
    ABI 2 (5.19)        REFER: moving or linking files between folders
    ABI 3 (6.2)         TRUNCATE
    ABI 4 (6.7)         TCP: bind and connect refused (no port is allowed)
    ABI 5 (6.10)        IOCTL_DEV: ioctl on device files
    ABI 6 (6.12)        scoping: signals and abstract UNIX sockets outside the sandbox refused
    ABI 7 (6.15)        audit logging flags (not used)

The ruleset attribute grows with the ABI (``handled_access_fs``, then ``handled_access_net``,
then ``scoped``, 8 bytes each); the size passed tells the kernel which fields are there.
"""

from __future__ import annotations

import ctypes
import os
import stat

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1 << 0
RULE_PATH_BENEATH = 1

# Filesystem rights (linux/landlock.h), with the ABI that introduced each.
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # the only ones a file's rule may hold
READ = READ_FILE | READ_DIR
READ_WRITE = (READ | WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | MAKE_SYM
              | MAKE_FIFO | MAKE_SOCK | REFER | TRUNCATE)


class RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _syscall(*args) -> int:
    result = _libc.syscall(*args)
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return result


def abi_version() -> int:
    """The kernel's Landlock ABI, 0 when it has none (too old, or not enabled at boot)."""
    try:
        return _syscall(ctypes.c_long(SYS_CREATE_RULESET), None, ctypes.c_size_t(0),
                        ctypes.c_uint32(CREATE_RULESET_VERSION))
    except OSError:  # ENOSYS: no Landlock in the kernel; EOPNOTSUPP: disabled at boot
        return 0


def handled_fs(abi: int) -> int:
    """Every filesystem right this ABI knows: all of them are refused unless a rule allows it."""
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def restrict(readable, writable, abi: int) -> dict:
    """Restrict this thread (call it while the process has one thread) and its future children:
    ``readable`` paths (folders or files) may be read, ``writable`` folders read and changed,
    nothing else; on ABI 4+ no TCP bind or connect; on ABI 6+ no signal to a process outside
    the sandbox. Paths that do not exist are skipped. Needs ``no_new_privs`` set first.

    Returns what was enforced: ``{"filesystem": True, "network": bool, "scoping": bool}``.
    Raises OSError when the kernel refuses.
    """
    handled = handled_fs(abi)
    attr = RulesetAttr(handled, NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0,
                       SCOPE_SIGNAL | SCOPE_ABSTRACT_UNIX_SOCKET if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = _syscall(ctypes.c_long(SYS_CREATE_RULESET), ctypes.byref(attr), ctypes.c_size_t(size),
                       ctypes.c_uint32(0))
    try:
        for paths, rights in ((readable, READ), (writable, READ_WRITE)):
            for path in paths:
                _allow(ruleset, path, rights & handled)
        _syscall(ctypes.c_long(SYS_RESTRICT_SELF), ctypes.c_int(ruleset), ctypes.c_uint32(0))
    finally:
        os.close(ruleset)
    return {"filesystem": True, "network": abi >= 4, "scoping": abi >= 6}


def _allow(ruleset: int, path, rights: int):
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= FILE_RIGHTS
        rule = PathBeneathAttr(rights, fd)
        _syscall(ctypes.c_long(SYS_ADD_RULE), ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH),
                 ctypes.byref(rule), ctypes.c_uint32(0))
    finally:
        os.close(fd)
