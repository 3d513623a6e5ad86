"""The layers that confine the sandbox's child, and the one that shields the grading process.

The grading process calls :func:`make_undumpable` before it starts a child: with
``PR_SET_DUMPABLE`` 0 a process of the same user cannot open its ``/proc/<pid>/mem``, ``cwd``
or ``fd``, nor ptrace it.

The fork server (``_child.py``, which loads this file by its path: it cannot import mlquiz)
calls :func:`set_parent_death_signal` and :func:`make_undumpable` first thing; each child it
forks inherits both (the death signal now for the server) and calls :func:`confine` before
running the learner's code, while it has one thread (Landlock and seccomp apply to the calling
thread and the processes it starts later). :func:`confine` applies, in order:

    no_new_privs          PR_SET_NO_NEW_PRIVS: nothing it runs gains privileges (needed below)
    capabilities          every capability dropped (capset): a child run by root is root
                          without powers (no mount, no CAP_KILL, no DAC or ptrace override)
    resource_limits       RLIMIT_FSIZE 64 MB (a larger write fails with "File too large"),
                          RLIMIT_CORE 0
    landlock_filesystem   read-only: the standard library (without its site-packages), numpy,
                          the shared libraries, the submission; read-write: the scratch folder
                          and /dev/shm (multiprocessing's semaphores); nothing else
    landlock_network      TCP bind and connect refused (Landlock ABI 4+)
    landlock_scoping      signals to processes outside the sandbox refused (ABI 6+); ptrace of
                          them is refused by every ABI
    seccomp               a BPF filter refusing (EPERM) setsid, setpgid, ptrace,
                          process_vm_readv/writev, pidfd_getfd, execve, execveat, io_uring
                          (whose operations bypass the socket filter), and socket for every
                          family but AF_UNIX (multiprocessing uses AF_UNIX pairs)

The seccomp filter is written here in classic BPF (about twenty instructions, system-call
numbers below) rather than through libseccomp's Python binding: the child runs with ``-I -S``
and no site-packages, the binding is not on PyPI from its authors (pyseccomp, a third party's
ctypes wrapper, was last released in 2021), and it needs the system's libseccomp, which a pip
install cannot bring.

``execve`` is refused because nothing honest needs it: numpy never runs programs, and
``multiprocessing`` forks (its default on Linux) without exec. A layer the kernel lacks is
skipped and reported as missing, never silently: :func:`confine` returns ``{layer: True or
"why not"}``, which the grading process puts in every report.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import struct
import sys

try:
    from mlquiz.grading import landlock
except ImportError:  # in the sandbox's child, which cannot import mlquiz: the file beside this one
    import importlib.util

    _spec = importlib.util.spec_from_file_location(
        "_mlquiz_landlock", os.path.join(os.path.dirname(os.path.abspath(__file__)), "landlock.py"))
    landlock = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(landlock)

LAYERS = {  # every layer, with what it guarantees (``mlquiz doctor`` prints them)
    "not_dumpable": "the grading process cannot be read, written or traced through /proc or ptrace",
    "parent_death_signal": "the child is killed when the grading process dies",
    "no_new_privs": "nothing the child runs gains privileges",
    "capabilities": "the child has no capabilities, even when mlquiz runs as root",
    "resource_limits": "files of at most 64 MB, no core dumps (and the memory and CPU limits)",
    "landlock_filesystem": "reads only Python, numpy, system libraries and the submission; "
                           "writes only its scratch folder and /dev/shm",
    "landlock_network": "no TCP connection or listening port",
    "landlock_scoping": "no signal to a process outside the sandbox",
    "seccomp": "no setsid, setpgid, ptrace, process_vm_*, exec, io_uring, or non-UNIX socket",
    "minimal_environment": "no MLQUIZ_DB, HOME or XDG_* in the child's environment",
}
FILE_SIZE_LIMIT = 64 * 1024 * 1024

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_SECCOMP, PR_SET_NO_NEW_PRIVS = 1, 4, 22, 38
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_ERRNO, SECCOMP_RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
EPERM, AF_UNIX = 1, 1
CAPABILITY_VERSION_3 = 0x20080522

# System-call numbers of the architectures the seccomp filter knows (asm/unistd_64.h and the
# generic table of arm64), with the AUDIT_ARCH_* value the kernel reports for them.
ARCHITECTURES = {
    "x86_64": dict(audit_arch=0xC000003E, setsid=112, setpgid=109, ptrace=101, process_vm_readv=310,
                   process_vm_writev=311, pidfd_getfd=438, execve=59, execveat=322, io_uring_setup=425,
                   io_uring_enter=426, io_uring_register=427, socket=41, capset=126),
    "aarch64": dict(audit_arch=0xC00000B7, setsid=157, setpgid=154, ptrace=117, process_vm_readv=270,
                    process_vm_writev=271, pidfd_getfd=438, execve=221, execveat=281, io_uring_setup=425,
                    io_uring_enter=426, io_uring_register=427, socket=198, capset=91),
}
REFUSED = ("setsid", "setpgid", "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
           "execve", "execveat", "io_uring_setup", "io_uring_enter", "io_uring_register")
X32_SYSCALL_BIT = 0x40000000  # x86-64's x32 ABI: other numbers for the same calls, refused whole

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _prctl(option, arg=0, pointer=0):
    """prctl(2); AttributeError on a system without it (not Linux)."""
    prctl = _libc.prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    if prctl(option, arg, pointer, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def make_undumpable() -> bool | str:
    """Make this process not dumpable (see the module docstring); True, or why not."""
    try:
        _prctl(PR_SET_DUMPABLE, 0)
        return True
    except (OSError, AttributeError) as exc:
        return f"prctl(PR_SET_DUMPABLE) failed: {exc}"


def set_parent_death_signal(parent: int) -> bool | str:
    """SIGKILL this process when its parent dies, then check that the parent is still
    ``parent`` (it may have died before the call): if not, exit at once."""
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError) as exc:
        return f"prctl(PR_SET_PDEATHSIG) failed: {exc}"
    if os.getppid() != parent:
        os._exit(70)
    # Processes forked from Python (os.fork, multiprocessing) die with their parent too, so
    # that none survives a grading process killed outright (SIGKILL leaves it no cleanup).
    os.register_at_fork(before=_remember_parent, after_in_child=_die_with_parent)
    return True


_forking = [0]  # the pid of the process that forks, for its child to check


def _remember_parent():
    _forking[0] = os.getpid()


def _die_with_parent():
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass
    if os.getppid() != _forking[0]:  # the parent died before the signal was asked for
        os.kill(os.getpid(), signal.SIGKILL)


def confine(submission: str, scratch: str, readable_extra=()) -> dict:
    """Apply every layer but the first two to this process (see the module docstring).
    ``scratch`` is the only folder it may write in (with /dev/shm); ``readable_extra`` are
    more paths it may read (numpy's folders). Returns ``{layer: True or "why not"}``."""
    if sys.platform != "linux":
        return dict.fromkeys([name for name in LAYERS if name not in ("not_dumpable", "parent_death_signal",
                                                                      "minimal_environment")],
                             f"not available on {sys.platform}")
    layers = {}
    layers["no_new_privs"] = _layer(lambda: _prctl(PR_SET_NO_NEW_PRIVS, 1))
    layers["resource_limits"] = _layer(_limit_files)  # limits are the whole process's
    threads = _thread_count()
    if threads != 1:  # capabilities, Landlock and seccomp would only hold for this thread
        why = f"not applied: the process had {threads} threads (a BLAS library's?)"
        return {**layers, **dict.fromkeys(("capabilities", "landlock_filesystem", "landlock_network",
                                           "landlock_scoping", "seccomp"), why)}
    layers["capabilities"] = _layer(drop_capabilities)
    layers.update(_landlock(readable_paths(submission, readable_extra), [scratch, "/dev/shm", os.devnull]))
    layers["seccomp"] = _layer(_install_seccomp) if layers["no_new_privs"] is True \
        else "needs no_new_privs"
    return layers


def _layer(apply) -> bool | str:
    try:
        result = apply()
    except (OSError, AttributeError, ValueError) as exc:
        return str(exc) or type(exc).__name__
    return True if result is None else result


def _thread_count() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 1


def drop_capabilities():
    """Clear this thread's effective, permitted and inheritable capabilities (capset(2),
    version 3). Without exec they cannot come back, not even for root."""
    arch = ARCHITECTURES.get(os.uname().machine)
    if arch is None:
        return f"unknown system-call numbers on {os.uname().machine}"
    header = struct.pack("Ii", CAPABILITY_VERSION_3, 0)
    data = bytes(24)  # two {effective, permitted, inheritable} words, all zero
    if _libc.syscall(ctypes.c_long(arch["capset"]), header, data) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"capset: {os.strerror(errno)}")


def _limit_files():
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


SYSTEM_LIBRARIES = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/usr/share/zoneinfo", "/dev/urandom",
                "/dev/zero", "/sys/devices/system/cpu")
PACKAGE_FOLDERS = ("site-packages", "dist-packages")


def readable_paths(submission: str, extra=()) -> list:
    """What the child may read: the submission, the standard library's files (each entry of
    its folder but site-packages, where mlquiz itself may be installed), the shared libraries
    the process has mapped and the folders of system libraries (but Python's own, which may
    hold site-packages), a few system files, and ``extra``."""
    stdlib = os.path.dirname(os.__file__)
    paths = [submission, *extra, *SYSTEM_FILES, *_entries(stdlib, lambda name: name not in PACKAGE_FOLDERS)]
    paths += [p for p in sys.path if p.endswith(".zip") or p.endswith("lib-dynload")]
    for folder in SYSTEM_LIBRARIES:
        paths += _entries(folder, lambda name: not name.startswith("python"))
    with open("/proc/self/maps") as maps:  # address perms offset dev inode [path]
        fields = [line.split(None, 5) for line in maps]
    paths += sorted({f[5].strip() for f in fields if len(f) == 6 and f[5].startswith("/")})
    paths.append(os.path.realpath(sys.executable))
    return paths


def _entries(folder, keep) -> list:
    try:
        return [os.path.join(folder, name) for name in os.listdir(folder) if keep(name)]
    except OSError:
        return []


def _landlock(readable, writable) -> dict:
    abi = landlock.abi_version()
    if abi < 1:
        missing = "the kernel has no Landlock (Linux 5.13+ with landlock in its LSMs)"
        return {"landlock_filesystem": missing, "landlock_network": missing, "landlock_scoping": missing}
    try:
        enforced = landlock.restrict(readable, writable, abi)
    except OSError as exc:
        return dict.fromkeys(("landlock_filesystem", "landlock_network", "landlock_scoping"),
                             f"landlock refused: {exc}")
    return {"landlock_filesystem": True,
            "landlock_network": True if enforced["network"] else f"Landlock ABI {abi} < 4 (Linux 6.7)",
            "landlock_scoping": True if enforced["scoping"] else f"Landlock ABI {abi} < 6 (Linux 6.12)"}


# Classic BPF (linux/filter.h, linux/seccomp.h): struct seccomp_data is {int nr; u32 arch;
# u64 instruction_pointer; u64 args[6]}, so nr is at offset 0, arch at 4, args[0]'s low word at 16.
BPF_LD_W_ABS, BPF_JEQ_K, BPF_JGE_K, BPF_RET_K = 0x20, 0x15, 0x35, 0x06


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def seccomp_program(arch: dict) -> list:
    """The filter as (code, jt, jf, k) instructions; jumps are relative to the next one."""
    refused = [arch[name] for name in REFUSED]
    # The last three instructions: refuse, allow, kill. ``to(n, target)`` is the jump offset
    # from instruction n to one of them, once the length is known.
    body = 4 + len(refused) + 3
    deny, allow, kill = body, body + 1, body + 2

    def to(n, target):
        return target - n - 1

    program = [(BPF_LD_W_ABS, 0, 0, 4),                                   # A = arch
               (BPF_JEQ_K, 0, to(1, kill), arch["audit_arch"]),           # another ABI: kill
               (BPF_LD_W_ABS, 0, 0, 0),                                   # A = nr
               (BPF_JGE_K, to(3, deny), 0, X32_SYSCALL_BIT)]              # x32 numbers
    for number in refused:
        n = len(program)
        program.append((BPF_JEQ_K, to(n, deny), 0, number))
    n = len(program)
    program += [(BPF_JEQ_K, 0, to(n, allow), arch["socket"]),             # socket(domain, ...):
                (BPF_LD_W_ABS, 0, 0, 16),                                 # A = domain
                (BPF_JEQ_K, to(n + 2, allow), to(n + 2, deny), AF_UNIX)]
    program += [(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM), (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
                (BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS)]
    assert len(program) == body + 3
    return program


def _install_seccomp():
    arch = ARCHITECTURES.get(os.uname().machine)
    if arch is None:
        return f"unknown system-call numbers on {os.uname().machine}"
    install_seccomp(seccomp_program(arch))


def install_seccomp(program: list):
    """Install a filter of (code, jt, jf, k) instructions on this thread (needs no_new_privs)."""
    filters = (_SockFilter * len(program))(*[_SockFilter(*instruction) for instruction in program])
    fprog = _SockFprog(len(program), filters)
    _prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog))
