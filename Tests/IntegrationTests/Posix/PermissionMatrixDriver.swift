/// The permission matrix's driver, in Python (one process per caller, so the matrix stays
/// quick). `build ROOT` makes, as root, one copy of the fixture tree per caller under ROOT;
/// `run ROOT CALLER` acts on that caller's copy and prints one line per (operation, path):
/// `CALLER OP PATH OUTCOME`, the outcome `ok` (with the new mode, owner and size where the
/// operation makes or changes something) or the errno's name. Paths are relative to the
/// caller's copy, so native and mount lines compare as they are. Every operation that changes
/// state has an object of its own, so no outcome depends on another operation's.
enum PermissionMatrixDriver {
    static let callers = ["root", "A", "Bsupp", "Bprim", "C"]

    /// setpriv arguments per caller: A owns most fixtures, B is in G through a supplementary
    /// group or as primary gid, C is in no group the fixtures name.
    static func setpriv(_ caller: String) -> [String] {
        switch caller {
        case "A": ["--reuid=2001", "--regid=2001", "--clear-groups"]
        case "Bsupp": ["--reuid=2002", "--regid=2002", "--groups=3000"]
        case "Bprim": ["--reuid=2002", "--regid=3000", "--clear-groups"]
        case "C": ["--reuid=2003", "--regid=2003", "--clear-groups"]
        default: []
        }
    }

    static let python = #"""
import ctypes, errno, os, stat, subprocess, sys

A, B, C, G = 2001, 2002, 2003, 3000
OTHER_UID, FOREIGN_GID = 2004, 3999
CALLERS = ["root", "A", "Bsupp", "Bprim", "C"]

# Directories: name, mode, owner, group.
DIRS = [
    ("d0700", 0o700, A, A), ("d0750", 0o750, A, G), ("d0755", 0o755, A, A), ("d0711", 0o711, A, A),
    ("d0733", 0o733, A, G), ("d0777", 0o777, A, A), ("d1777", 0o1777, 0, 0), ("d1777a", 0o1777, A, A),
    ("d0555", 0o555, A, A), ("d2775", 0o2775, A, G), ("d0770b", 0o770, B, G), ("d0070b", 0o070, B, G),
]
# What every directory holds: name, kind, owner, mode. Files of A and of B, so the sticky
# directories show who may remove or replace what.
CONTENTS = [
    ("f", "file", A, 0o644), ("fb", "file", B, 0o644), ("sub", "dir", A, 0o755), ("sub/g", "file", A, 0o644),
    ("u_a", "file", A, 0o644), ("u_b", "file", B, 0o644), ("r_a", "file", A, 0o644), ("r_b", "file", B, 0o644),
    ("x_a", "file", A, 0o644), ("ov_a", "file", A, 0o644), ("ov_b", "file", B, 0o644),
    ("ov_b2", "file", B, 0o644), ("ov_a2", "file", A, 0o644), ("ex_a", "file", A, 0o644), ("ex_b", "file", B, 0o644),
    ("e", "dir", A, 0o755), ("eb", "dir", B, 0o755), ("md", "dir", A, 0o755),
]
# Files: name, mode, owner, group. Each is a shell script, so exec has something to run.
FILES = [
    ("f0600", 0o600, A, A), ("f0640", 0o640, A, G), ("f0644", 0o644, A, A), ("f0604", 0o604, A, G),
    ("f0660b", 0o660, B, G), ("f0460b", 0o460, B, G), ("f0400", 0o400, A, A), ("f0000", 0o000, A, A),
    ("f0755", 0o755, A, A), ("f4755", 0o4755, A, A), ("f2755", 0o2755, A, G),
    ("f0744", 0o744, A, A), ("f0750", 0o750, A, G), ("f0705", 0o705, A, G),
]
META_OPS = ["chmod", "chown_self", "chown_other", "chgrp_own", "chgrp_G", "chgrp_foreign",
            "utime_explicit", "utime_now", "utime_now_omit", "setxattr", "removexattr"]
FILE_COPY_OPS = ["open_wtrunc", "open_rtrunc", "truncate", "setpin"] + META_OPS
DIR_ONLY_OPS = ["setobjective"]
SCRIPT = b"#!/bin/sh\nexit 0\n"

def own(path, uid, gid, mode):
    os.chown(path, uid, gid, follow_symlinks=False)   # before chmod: chown clears setuid
    os.chmod(path, mode)

def file(path, uid, gid, mode, content=b"data\n"):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, content)
    os.close(fd)
    own(path, uid, gid, mode)

def directory(path, uid, gid, mode):
    os.mkdir(path, 0o700)
    own(path, uid, gid, mode)

def build(root):
    os.umask(0)
    directory(root, 0, 0, 0o755)
    for caller in CALLERS:
        t = f"{root}/{caller}"
        for d in ["", "/dirs", "/files", "/meta"]:
            directory(t + d, 0, 0, 0o755)
        directory(t + "/land", 0, 0, 0o777)
        file(t + "/lsrc", A, A, 0o666)
        for name, mode, uid, gid in DIRS:
            p = f"{t}/dirs/{name}"
            os.mkdir(p, 0o700)
            for entry, kind, owner, emode in CONTENTS:
                (file if kind == "file" else directory)(f"{p}/{entry}", owner, owner, emode)
            os.setxattr(p, "user.tag", b"dir")
            own(p, uid, gid, mode)
            file(f"{t}/land/in_{name}", A, A, 0o644)
            directory(f"{t}/land/ind_{name}", A, A, 0o755)
            for op in META_OPS + DIR_ONLY_OPS:
                q = f"{t}/meta/{name}.{op}"
                os.mkdir(q, 0o700)
                os.setxattr(q, "user.tag", b"dir")
                own(q, uid, gid, mode)
        for name, mode, uid, gid in FILES:
            for op in [None] + FILE_COPY_OPS:
                q = f"{t}/files/{name}" + (f".{op}" if op else "")
                fd = os.open(q, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.write(fd, SCRIPT)
                os.close(fd)
                os.setxattr(q, "user.tag", b"file")
                own(q, uid, gid, mode)

libc = ctypes.CDLL("libc.so.6", use_errno=True)

class Timespec(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_long), ("nsec", ctypes.c_long)]

AT_FDCWD, RENAME_EXCHANGE = -100, 2
UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2

def check(rc):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))

def touch_atime_only(path):
    # "now" for one time and "leave" the other: unlike utime(NULL) or "now" for both, Linux
    # counts this as setting times explicitly (owner only), though no time is given.
    times = (Timespec * 2)(Timespec(0, UTIME_NOW), Timespec(0, UTIME_OMIT))
    check(libc.utimensat(AT_FDCWD, os.fsencode(path), times, 0))

def exchange(a, b):
    check(libc.renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE))

def access(path, mode):
    if libc.access(os.fsencode(path), mode) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))

def describe(path):
    try:
        st = os.lstat(path)
    except OSError as e:
        return "(lstat " + errno.errorcode.get(e.errno, str(e.errno)) + ")"
    size = "" if stat.S_ISDIR(st.st_mode) else f" size={st.st_size}"
    return f"{stat.S_IMODE(st.st_mode):04o} {st.st_uid}:{st.st_gid}{size}"

def run(root, caller):
    os.umask(0o022)
    os.chdir("/")
    t = f"{root}/{caller}"
    uid, gid = os.geteuid(), os.getegid()

    def attempt(op, rel, action, shows=None):
        try:
            extra = action()
            if shows is not None:
                extra = describe(f"{t}/{shows}")
            out = "ok" + (f" {extra}" if extra else "")
        except OSError as e:
            out = errno.errorcode.get(e.errno, f"errno{e.errno}")
        print(f"{caller} {op} {rel} {out}")

    def opener(path, flags, mode=0o666):
        def action():
            os.close(os.open(path, flags, mode))
        return action

    def execute(path):
        result = subprocess.run([path], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return None if result.returncode == 0 else f"exit {result.returncode}"

    def chmod_keep_special(path):
        # Flips other-x and keeps setuid/setgid/sticky: the kernel drops setgid when the
        # caller is not in the group, which the result shows.
        os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) ^ 0o001)

    def meta(op, rel):
        q = f"{t}/{rel}"
        actions = {
            "chmod": lambda: chmod_keep_special(q),
            "chown_self": lambda: os.chown(q, uid, -1),
            "chown_other": lambda: os.chown(q, OTHER_UID, -1),
            "chgrp_own": lambda: os.chown(q, -1, gid),
            "chgrp_G": lambda: os.chown(q, -1, G),
            "chgrp_foreign": lambda: os.chown(q, -1, FOREIGN_GID),
            "utime_explicit": lambda: os.utime(q, (1, 1)),
            "utime_now": lambda: os.utime(q, None),
            "utime_now_omit": lambda: touch_atime_only(q),
            "setxattr": lambda: os.setxattr(q, "user.tag", b"changed"),
            "removexattr": lambda: os.removexattr(q, "user.tag"),
            "truncate": lambda: os.truncate(q, 1),
            "open_wtrunc": opener(q, os.O_WRONLY | os.O_TRUNC),
            "open_rtrunc": opener(q, os.O_RDONLY | os.O_TRUNC),   # O_TRUNC asks for write permission
            # The writable reserved names, with values the mount accepts (a tier of the test
            # pool, a valid objective); natively they are ordinary user xattrs.
            "setpin": lambda: os.setxattr(q, "user.estuary.pin", b"fast"),
            "setobjective": lambda: os.setxattr(q, "user.estuary.objective", b"place fast"),
        }
        attempt(op, rel, actions[op], shows=rel)

    # Reading and searching first, then what creates, removes and renames (each on its own
    # object), then attribute changes on copies made for that one change.
    for name, *_ in DIRS:
        d = f"dirs/{name}"
        p = f"{t}/{d}"
        attempt("lstat", d + "/f", lambda: os.lstat(p + "/f") and None)
        attempt("stat_deep", d + "/sub/g", lambda: os.stat(p + "/sub/g") and None)
        attempt("listdir", d, lambda: f"{len(os.listdir(p))} entries")
        for flag, mode in (("r", os.R_OK), ("w", os.W_OK), ("x", os.X_OK)):
            attempt("access_" + flag, d, lambda: access(p, mode))
        attempt("chdir", d, lambda: (os.chdir(p), os.chdir("/")) and None)
        attempt("getxattr", d, lambda: os.getxattr(p, "user.tag").decode())
        # O_CREAT on a name that exists opens it: the file's permission counts, not the directory's.
        attempt("open_creat_r", d + "/f", opener(p + "/f", os.O_RDONLY | os.O_CREAT))
        attempt("open_creat_w", d + "/f", opener(p + "/f", os.O_WRONLY | os.O_CREAT))
        attempt("create", d + "/new_file", opener(p + "/new_file", os.O_WRONLY | os.O_CREAT | os.O_EXCL), shows=d + "/new_file")
        attempt("mkdir", d + "/new_dir", lambda: os.mkdir(p + "/new_dir", 0o777), shows=d + "/new_dir")
        attempt("mkfifo", d + "/new_fifo", lambda: os.mkfifo(p + "/new_fifo", 0o666), shows=d + "/new_fifo")
        attempt("symlink", d + "/new_sym", lambda: os.symlink("f", p + "/new_sym"), shows=d + "/new_sym")
        attempt("link_in", d + "/new_link", lambda: os.link(t + "/lsrc", p + "/new_link"))
        attempt("link_out", d + "/f", lambda: os.link(p + "/f", f"{t}/land/hl_{name}"))
        attempt("unlink", d + "/u_a", lambda: os.unlink(p + "/u_a"))
        attempt("unlink", d + "/u_b", lambda: os.unlink(p + "/u_b"))
        attempt("rmdir", d + "/e", lambda: os.rmdir(p + "/e"))
        attempt("rmdir", d + "/eb", lambda: os.rmdir(p + "/eb"))
        attempt("rename_within", d + "/r_a", lambda: os.rename(p + "/r_a", p + "/r_a2"))
        attempt("rename_within", d + "/r_b", lambda: os.rename(p + "/r_b", p + "/r_b2"))
        attempt("rename_out", d + "/x_a", lambda: os.rename(p + "/x_a", f"{t}/land/x_{name}"))
        attempt("rename_in", d + "/in", lambda: os.rename(f"{t}/land/in_{name}", p + "/in"))
        attempt("rename_dir_out", d + "/md", lambda: os.rename(p + "/md", f"{t}/land/md_{name}"))
        attempt("rename_dir_in", d + "/ind", lambda: os.rename(f"{t}/land/ind_{name}", p + "/ind"))
        attempt("rename_over", d + "/ov_a->ov_b", lambda: os.rename(p + "/ov_a", p + "/ov_b"))
        attempt("rename_over", d + "/ov_b2->ov_a2", lambda: os.rename(p + "/ov_b2", p + "/ov_a2"))
        attempt("exchange", d + "/ex_a<->ex_b", lambda: exchange(p + "/ex_a", p + "/ex_b"))
        attempt("mknod_chr", d + "/new_null", lambda: os.mknod(p + "/new_null", stat.S_IFCHR | 0o666, os.makedev(1, 3)),
                shows=d + "/new_null")
        attempt("listdir_after", d, lambda: f"{len(os.listdir(p))} entries")
    for name, *_ in FILES:
        f = f"files/{name}"
        q = f"{t}/{f}"
        attempt("lstat", f, lambda: describe(q))
        attempt("open_r", f, opener(q, os.O_RDONLY))
        attempt("open_w", f, opener(q, os.O_WRONLY))
        attempt("open_rw", f, opener(q, os.O_RDWR))
        for flag, mode in (("r", os.R_OK), ("w", os.W_OK), ("x", os.X_OK)):
            attempt("access_" + flag, f, lambda: access(q, mode))
        attempt("exec", f, lambda: execute(q))
        attempt("getxattr", f, lambda: os.getxattr(q, "user.tag").decode())
        attempt("getxattr_missing", f, lambda: os.getxattr(q, "user.absent").decode())
        # fs.protected_hardlinks: only the owner, or a caller who may read and write a file
        # that is neither setuid nor setgid-executable, may link it.
        attempt("link_file", f, lambda: os.link(q, f"{t}/land/hl_{name}"))
        for op in FILE_COPY_OPS:
            meta(op, f"{f}.{op}")
    for name, *_ in DIRS:
        for op in META_OPS + DIR_ONLY_OPS:
            meta(op, f"meta/{name}.{op}")

if sys.argv[1] == "build":
    build(sys.argv[2])
else:
    run(sys.argv[2], sys.argv[3])
"""#
}
