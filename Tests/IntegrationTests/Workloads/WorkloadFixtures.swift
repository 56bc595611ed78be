import Foundation

/// The native inputs the workloads read: C sources with a Makefile, a tree with hard links,
/// symlinks, modes, times and xattrs (and a tar of it), and an mmap writer built by gcc.
enum WorkloadFixtures {
    /// Builds the fixtures under `root` (a native directory) and returns its path.
    static func make(in root: String) throws -> String {
        let fix = root + "/fixtures"
        try FileManager.default.createDirectory(atPath: fix + "/home", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: fix + "/csrc", withIntermediateDirectories: true)
        let files: [String: String] = [
            "csrc/Makefile": """
                CFLAGS = -O1 -Wall
                all: hello hello-shared
                hello: main.o util.o
                \t$(CC) -o $@ main.o util.o
                libgreet.so: util.c util.h
                \t$(CC) $(CFLAGS) -shared -fPIC -o $@ util.c
                hello-shared: main.c libgreet.so
                \t$(CC) $(CFLAGS) -o $@ main.c -L. -lgreet
                %.o: %.c util.h
                \t$(CC) $(CFLAGS) -c -o $@ $<
                clean:
                \trm -f *.o *.so hello hello-shared

                """,
            "csrc/util.h": "int greet(const char *who);\n",
            "csrc/util.c": """
                #include <stdio.h>
                #include "util.h"
                int greet(const char *who) { return printf("hello, %s\\n", who) > 0 ? 0 : 1; }

                """,
            "csrc/main.c": """
                #include "util.h"
                int main(int argc, char **argv) { return greet(argc > 1 ? argv[1] : "nobody"); }

                """,
            "mmapwriter.c": mmapWriterSource,
        ]
        for (path, text) in files { try text.write(toFile: fix + "/" + path, atomically: false, encoding: .utf8) }
        let build = try Shell.sh("""
            set -e; cd '\(fix)'
            gcc -O2 -Wall -o mmapwriter mmapwriter.c
            mkdir -p tree/a/b/c tree/empty tree/bin
            seq 1 100000 > tree/a/numbers.txt
            head -c 3000000 /dev/urandom > tree/a/b/random.bin
            printf 'small\\n' > tree/a/b/c/small.txt
            : > tree/a/zero
            ln tree/a/numbers.txt tree/a/b/hardlink.txt
            ln -s ../numbers.txt tree/a/b/rel-link
            ln -s /etc/hostname tree/abs-link
            cp /bin/true tree/bin/true && chmod 4755 tree/bin/true
            mkdir -p tree/many && for i in $(seq 1 400); do printf 'file %d\n' $i > tree/many/f$i; done
            for i in $(seq 1 20); do head -c $((i * 65536 + 17)) /dev/urandom > tree/many/big$i; done
            chmod 0640 tree/a/b/c/small.txt && chmod 0700 tree/a/b/c
            setfattr -n user.project -v apollo tree/a/numbers.txt
            setfattr -n user.empty tree/a/zero
            touch -d '2020-02-02 02:02:02.123456789' tree/a/b/random.bin tree/a/b/rel-link
            touch -h -d '2019-01-01' tree/a/b/rel-link
            # rsync leaves a symlink's time alone when it is within the second it was made.
            touch -h -d '2018-03-03' tree/abs-link
            tar -cf tree.tar --sort=name tree
            """)
        guard build.status == 0 else { throw TestFailure("building the workload fixtures failed: \(build.output)") }
        return fix
    }

    /// Maps a file MAP_SHARED and writes seeded runs of 1-8 KiB at random offsets through the
    /// mapping; msync, fsync, close. The same seed always produces the same file.
    static let mmapWriterSource = """
        #include <fcntl.h>
        #include <stdint.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <sys/mman.h>
        #include <unistd.h>
        static uint64_t s;
        static uint64_t next(void) { uint64_t z = (s += 0x9E3779B97F4A7C15ull); z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull; z = (z ^ (z >> 27)) * 0x94D049BB133111EBull; return z ^ (z >> 31); }
        int main(int argc, char **argv) {
            if (argc != 5) { fprintf(stderr, "usage: mmapwriter FILE SIZE WRITES SEED\\n"); return 2; }
            size_t size = strtoull(argv[2], 0, 10); long writes = atol(argv[3]); s = strtoull(argv[4], 0, 10);
            int fd = open(argv[1], O_RDWR | O_CREAT, 0644);
            if (fd < 0 || ftruncate(fd, size) != 0) { perror("open/ftruncate"); return 1; }
            unsigned char *m = mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (m == MAP_FAILED) { perror("mmap"); return 1; }
            for (long i = 0; i < writes; i++) {
                size_t len = 1024 + next() % 7169, off = next() % (size - len);
                unsigned char v = (unsigned char)next();
                for (size_t j = 0; j < len; j++) m[off + j] = (unsigned char)(v + j);
            }
            if (msync(m, size, MS_SYNC) != 0) { perror("msync"); return 1; }
            if (munmap(m, size) != 0 || fsync(fd) != 0 || close(fd) != 0) { perror("fsync/close"); return 1; }
            printf("mmapwriter wrote %ld runs\\n", writes);
            return 0;
        }

        """
}
