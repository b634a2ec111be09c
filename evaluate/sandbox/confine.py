"""Confine the current process before it runs untrusted code: limits, no network, no writes.

Stdlib only, because it runs first in a fresh interpreter (``python confine.py SPEC``), before
anything that starts threads is imported: ``unshare(CLONE_NEWUSER)`` refuses a process with
more than one thread, and numpy's BLAS starts several on import. In order:

1. resource limits: address space (RLIMIT_AS), CPU seconds (RLIMIT_CPU), file size
   (RLIMIT_FSIZE, with SIGXFSZ ignored so an oversize write fails instead of killing), no core
   dumps;
2. a new user and network namespace (``unshare(CLONE_NEWUSER | CLONE_NEWNET)`` through ctypes:
   Python 3.11 has no ``os.unshare``): the only network interface is a loopback that is down,
   and the process keeps no capability outside its namespace, even when started as root;
3. no new privileges, then a Landlock ruleset when the kernel has one: reading and executing
   only below the given read roots, writing only below the private work directory, no TCP
   bind/connect (ABI 4+), no signals or abstract sockets outside the sandbox (ABI 6+);
4. a seccomp filter (x86_64, aarch64): no new sockets of any family and no socket pairs, so the
   child talks only on the socket pair it was given. Landlock up to ABI 7 does not govern
   ``connect`` to a pathname Unix socket (a database's, Docker's), nor the families a network
   namespace does not hold (vsock); io_uring, which could open and connect sockets past the
   filter, and ``pidfd_getfd`` are refused too. No new processes either (a fork bomb would
   multiply the per-process limits): ``fork``/``vfork`` and a ``clone`` without
   ``CLONE_THREAD`` are refused, ``clone3`` (whose flags a filter cannot read) says ENOSYS so
   the C library falls back to ``clone``; threads still start, inside the address-space limit.

Failing step 1 or 2 refuses: the caller never runs the code unconfined. Landlock and seccomp
are optional (BUNDLE.md says what a kernel without them leaves open); which protections held
is returned.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import platform
import resource
import signal
import sys
from collections.abc import Sequence

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38

# Landlock (include/uapi/linux/landlock.h); the syscall numbers are the same on every
# architecture that has them (x86_64, aarch64).
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_ALL_V1 = (1 << 13) - 1  # execute .. make_sym
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15  # ABI 2, 3, 5
FILE_ACCESS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # valid on a file rule
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6
READ_ONLY = EXECUTE | READ_FILE | READ_DIR

# seccomp (include/uapi/linux/seccomp.h, filter.h, audit.h): a classic BPF program over
# struct seccomp_data {int nr; u32 arch; u64 ip; u64 args[6]}.
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
BPF_LD_W_ABS, BPF_JEQ_K, BPF_JGE_K, BPF_JSET_K, BPF_RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
X32_SYSCALL_BIT = 0x40000000
CLONE_THREAD = 0x00010000
ARG0_LOW = 16  # offset of args[0]'s low 32 bits in seccomp_data (little-endian machines)
# machine: (AUDIT_ARCH_*, socket, socketpair); io_uring_setup/enter/register and pidfd_getfd
# have one number everywhere
SOCKET_SYSCALLS = {"x86_64": (0xC000003E, 41, 53), "aarch64": (0xC00000B7, 198, 199)}
COMMON_REFUSED = (425, 426, 427, 438)
# machine: (clone, fork and vfork where the machine has them); clone3 is 435 everywhere
PROCESS_SYSCALLS = {"x86_64": (56, (57, 58)), "aarch64": (220, ())}
SYS_CLONE3 = 435

REFUSED_EXIT = 78  # the child could not be confined and ran nothing (EX_CONFIG)


class ConfinementError(Exception):
    """This machine cannot confine the process; the untrusted code must not run."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = ctypes.CDLL(None, use_errno=True)


def _syscall(number: int, *args: object) -> int:
    result = _libc.syscall(number, *args)
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return result


def set_limits(memory_bytes: int, cpu_s: int, file_bytes: int) -> None:
    """Hard and soft limits on address space [bytes], CPU time [s] and any file written [bytes]."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversize write fails with EFBIG instead
    for limit, soft, hard in (
        (resource.RLIMIT_AS, memory_bytes, memory_bytes),
        (resource.RLIMIT_CPU, cpu_s, cpu_s + 1),  # SIGXCPU at the limit, SIGKILL a second on
        (resource.RLIMIT_FSIZE, file_bytes, file_bytes),
        (resource.RLIMIT_CORE, 0, 0),
    ):
        resource.setrlimit(limit, (soft, hard))


def enter_namespaces() -> None:
    """A new user and network namespace for this (single-threaded) process.

    Raises:
        ConfinementError: the kernel refused (no user namespaces, a limit of 0, a seccomp
            policy, or more than one thread), with the reason and what to change.
    """
    threads = len(os.listdir("/proc/self/task"))
    try:
        if _libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno))
    except (OSError, AttributeError) as exc:
        raise ConfinementError(
            f"the kernel refused a new user+network namespace ({exc}; {threads} thread(s)); "
            "enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, "
            "user.max_user_namespaces > 0) or run untrusted bundles on a machine that has them"
        ) from exc


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 when it has none (or it is disabled)."""
    try:
        return _syscall(SYS_LANDLOCK_CREATE_RULESET, None, 0, LANDLOCK_CREATE_RULESET_VERSION)
    except OSError:
        return 0


def restrict_paths(read_roots: Sequence[str], write_root: str, abi: int) -> None:
    """Landlock: read and execute below ``read_roots``; everything below ``write_root`` only."""
    fs = FS_ALL_V1 | (REFER if abi >= 2 else 0) | (TRUNCATE if abi >= 3 else 0)
    fs |= IOCTL_DEV if abi >= 5 else 0
    attr = _RulesetAttr(
        handled_access_fs=fs,
        handled_access_net=(NET_BIND_TCP | NET_CONNECT_TCP) if abi >= 4 else 0,
        scoped=(SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if abi >= 6 else 0,
    )
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = _syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), size, 0)
    try:
        rules = [(root, READ_ONLY) for root in read_roots] + [(write_root, fs), ("/dev/null", fs)]
        for path, access in rules:
            _allow(ruleset, path, access & fs)
        _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        _syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0)
    finally:
        os.close(ruleset)


def _allow(ruleset: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a root that does not exist here grants nothing
    try:
        if not os.path.isdir(path):
            access &= FILE_ACCESS
        rule = _PathBeneathAttr(allowed_access=access, parent_fd=fd)
        _syscall(SYS_LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH, ctypes.byref(rule), 0)
    finally:
        os.close(fd)


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def socket_filter(
    arch: int, refused: Sequence[int], clone: int | None = None
) -> list[tuple[int, int, int, int]]:
    """The BPF program: EPERM for the ``refused`` system calls, for any call of another
    architecture (a 32-bit entry into a 64-bit process) and any x32 call, and for the
    ``clone`` system call unless it starts a thread; ENOSYS for ``clone3`` (with ``clone``);
    allow the rest."""
    tail = [(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW), (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EPERM)]  # fmt: skip
    if clone is not None:
        tail = [
            (BPF_JEQ_K, 0, 2, clone),
            (BPF_LD_W_ABS, 0, 0, ARG0_LOW),  # the clone flags
            (BPF_JSET_K, 2, 3, CLONE_THREAD),  # a thread: allow; a process: EPERM
            (BPF_JEQ_K, 0, 1, SYS_CLONE3),
            (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS),
            *tail,
        ]
    deny = 4 + len(refused) + len(tail) - 1  # index of the EPERM return, the program's last
    program = [
        (BPF_LD_W_ABS, 0, 0, 4),  # arch
        (BPF_JEQ_K, 0, deny - 2, arch),
        (BPF_LD_W_ABS, 0, 0, 0),  # nr
        (BPF_JGE_K, deny - 4, 0, X32_SYSCALL_BIT),
    ]
    program += [(BPF_JEQ_K, deny - index - 1, 0, nr) for index, nr in enumerate(refused, 4)]
    return [*program, *tail]


def refuse_new_sockets() -> bool:
    """Install the seccomp filter (needs no-new-privileges set); False on a machine this
    module has no system-call numbers for. It holds for this process and every child of it.

    Raises:
        OSError: the kernel refused the filter (EINVAL: it has no seccomp filters).
    """
    numbers = SOCKET_SYSCALLS.get(platform.machine())
    if numbers is None:
        return False
    arch, socket_nr, socketpair_nr = numbers
    clone, forks = PROCESS_SYSCALLS[platform.machine()]
    program = socket_filter(arch, (socket_nr, socketpair_nr, *COMMON_REFUSED, *forks), clone)
    filters = (_SockFilter * len(program))(*program)
    fprog = _SockFprog(len(program), filters)
    if _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return True


def confine(spec: dict) -> list[str]:
    """Apply every step to this process; return the protections in force.

    ``spec``: ``memory_bytes``, ``cpu_s``, ``file_bytes``, ``read_roots``, ``work_dir``,
    ``parent_pid`` (the child dies with it).

    Raises:
        ConfinementError: limits or namespaces could not be set.
    """
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != spec["parent_pid"]:
        os._exit(REFUSED_EXIT)  # the evaluator is already gone: nobody to answer
    try:
        set_limits(spec["memory_bytes"], spec["cpu_s"], spec["file_bytes"])
    except (OSError, ValueError) as exc:
        raise ConfinementError(f"cannot set resource limits: {exc}") from exc
    enter_namespaces()
    held = ["rlimits", "user+network namespace"]
    abi = landlock_abi()
    if abi:
        try:
            restrict_paths(spec["read_roots"], spec["work_dir"], abi)
        except OSError as exc:
            raise ConfinementError(f"Landlock ABI {abi} refused the ruleset: {exc}") from exc
        held.append(f"landlock v{abi}")
    else:
        _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    try:
        if refuse_new_sockets():
            held.append("seccomp: no new sockets or processes")
    except OSError as exc:  # a kernel without seccomp filters: BUNDLE.md says what that leaves
        if exc.errno != errno.EINVAL:
            raise ConfinementError(f"seccomp refused the socket filter: {exc}") from exc
    os.chdir(spec["work_dir"])
    return held


def main(argv: Sequence[str]) -> None:
    """``confine.py SPEC_JSON SOCKET_FD``: confine, then serve the bundle on the socket."""
    spec, fd = json.loads(argv[1]), int(argv[2])
    try:
        held = confine(spec)
    except ConfinementError as exc:
        print(f"sandbox refused: {exc}", file=sys.stderr, flush=True)
        os._exit(REFUSED_EXIT)
    sys.path[:] = [p for p in sys.path if p and p != os.path.dirname(os.path.abspath(__file__))]
    from evaluate.sandbox.child import serve  # only now: it imports numpy (threads)

    serve(fd, spec["bundle"], held)


if __name__ == "__main__":
    main(sys.argv)
