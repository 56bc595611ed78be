import Foundation

/// An ordinary program run the way users run it, as a bash script in a directory. The same
/// script runs in a native directory and in the mount; its output, exit status and the tree it
/// leaves must agree.
struct Workload: CustomStringConvertible, Sendable {
    let name: String
    /// Run with the working directory set to the target; `$FIX` names the native fixtures.
    let script: String
    /// Programs that restore times (tar, rsync -t) are compared on mtime too.
    var comparesTimes = false

    var description: String { name }

    struct Outcome: Equatable {
        var status: Int32
        var output: String
    }

    /// Runs the script in `directory` (which must exist), with a fixed environment so that
    /// both runs see the same thing: no user config for git, fixed dates for commits.
    func run(in directory: String, fixtures: String, timeout: Double = 300) throws -> Outcome {
        let environment = [
            "FIX": fixtures, "LC_ALL": "C", "TZ": "UTC", "HOME": fixtures + "/home",
            "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Estuary Test", "GIT_AUTHOR_EMAIL": "test@estuary.invalid",
            "GIT_COMMITTER_NAME": "Estuary Test", "GIT_COMMITTER_EMAIL": "test@estuary.invalid",
            "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
        ]
        let result = try Shell.run("/bin/bash", ["-c", "set -euo pipefail; cd \"$0\"; " + script, directory],
                                   environment: environment, timeout: timeout)
        // Paths differ between the two runs; the rest of the output must not.
        let output = result.output.replacingOccurrences(of: directory, with: "<dir>")
        return Outcome(status: result.status, output: output)
    }
}

extension Workload {
    /// Binaries, scripts, a symlinked script and a program found through PATH.
    static let exec = Workload(name: "exec", script: """
        cp /bin/true t && ./t && echo true ran
        cp /bin/echo e && ./e copied echo runs
        printf '#!/bin/sh\\necho "script $1"\\n' > s.sh && chmod +x s.sh
        ./s.sh one; sh ./s.sh two; /usr/bin/env ./s.sh three
        ln -s s.sh link.sh && ./link.sh four
        mkdir bin && cp s.sh bin/tool && PATH="$PWD/bin:$PATH" tool five
        printf '#!/usr/bin/env python3\\nimport sys; print("python", sys.argv[1])\\n' > p.py && chmod +x p.py && ./p.py six
        printf '#!/bin/sh\\nexit 7\\n' > fails.sh && chmod +x fails.sh && { ./fails.sh || echo "exit $?"; }
        chmod -x s.sh && { ./s.sh 2>/dev/null || echo "not executable: $?"; }
        """)

    /// A C build with a shared library that is mapped and run from the mount, through make.
    static let gccBuild = Workload(name: "gcc", script: """
        cp -r "$FIX/csrc" src && cd src
        make -s
        ./hello world
        LD_LIBRARY_PATH=. ./hello-shared library
        make -s clean && ls
        """)

    /// A repository built by commits, a hook that runs, a clone, fsck and gc.
    static let git = Workload(name: "git", script: """
        git init -q -b main repo && cd repo
        printf '#!/bin/sh\\necho hook ran >> ../hook.log\\n' > .git/hooks/post-commit && chmod +x .git/hooks/post-commit
        for i in 1 2 3 4 5; do
          seq 1 $((i * 500)) > "file$i.txt"; mkdir -p "dir$i"; echo "$i" > "dir$i/note"
          git add -A && git commit -q -m "commit $i"
        done
        git mv file1.txt renamed.txt && git rm -q file2.txt && git commit -q -m moves
        git log --format='%H %s'
        cd .. && git clone -q repo clone && cd clone
        git fsck --full --strict 2>&1
        git gc -q && git fsck --full 2>&1 && git count-objects -v | grep -v size
        git rev-parse HEAD
        cat ../hook.log
        """)

    /// Extracting an archive with hard links, symlinks, modes and times, then archiving it again.
    static let tar = Workload(name: "tar", script: """
        mkdir x && tar -xpf "$FIX/tree.tar" -C x
        diff -r "$FIX/tree" x/tree && echo identical
        tar -cf - -C x --sort=name tree | tar -tvf - | awk '{print $1, $3, $6}'
        """, comparesTimes: true)

    /// rsync in with hard links, ACLs and xattrs, then out again to a native directory.
    static let rsync = Workload(name: "rsync", script: """
        rsync -aHAX "$FIX/tree/" in/
        out=$(mktemp -d) && rsync -aHAX in/ "$out/" && diff -r "$FIX/tree" "$out" && echo round trip identical
        rsync -aHAXn --itemize-changes "$FIX/tree/" in/ | wc -l
        rm -rf "$out"
        """, comparesTimes: true)

    /// SQLite in WAL mode (its shared-memory index is a MAP_SHARED mapping of a file in the
    /// directory), with a writer and readers in separate processes.
    static let sqlite = Workload(name: "sqlite", script: """
        # Programs sharing a database set a busy timeout, as applications do: opening a WAL
        # database while another process recovers it is briefly busy.
        sq() { sqlite3 -cmd '.timeout 20000' "$@"; }
        sq db.sqlite 'pragma journal_mode=wal;' 'create table t(id integer primary key, v text);'
        for round in 1 2 3 4; do
          sq db.sqlite "with recursive n(i) as (select 1 union all select i+1 from n where i < 2000) insert into t(v) select printf('row %d of round $round', i) from n;" &
          sq db.sqlite 'select count(*) >= 0 from t;' > /dev/null
          wait
        done
        sq db.sqlite 'delete from t where id % 3 = 0;' 'pragma integrity_check;' 'select count(*), sum(length(v)) from t;'
        sq db.sqlite 'pragma wal_checkpoint(truncate);' 'vacuum;' 'pragma integrity_check;'
        """)

    /// A program writing through a MAP_SHARED mapping (compiled natively from the fixtures).
    static let mmapWriter = Workload(name: "mmap", script: """
        "$FIX/mmapwriter" data.bin 33554432 60000 42
        "$FIX/mmapwriter" data.bin 33554432 60000 43
        sha256sum data.bin | cut -c1-64
        """)

    static let all: [Workload] = [exec, gccBuild, git, tar, rsync, sqlite, mmapWriter]
}
