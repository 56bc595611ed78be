/// The PostgreSQL schema: the same migrations, by the same names, as `SQLiteMigrations`, so
/// a pool's schema version means the same on both engines. Integers are `bigint` (times in
/// nanoseconds, unsigned inode numbers by bit pattern, the `dirsilos` bit mask), names,
/// symlink targets, tags and job maps `bytea`: names are bytes, with no encoding or collation,
/// and `ORDER BY` on bytea is byte order, as SQLite's memcmp. A name is never reused or edited
/// after it ships: add a new migration instead (to both engines).
enum PGMigrations {
    /// The name-search indexes on entries (0007-name-search), one statement each, which a
    /// first scan drops and builds again once at its end.
    static let searchIndexes = [
        "CREATE INDEX IF NOT EXISTS entries_by_leaf ON entries(name);",
        "CREATE INDEX IF NOT EXISTS entries_by_tail ON entries((substring(name from greatest(octet_length(name) - 3, 1))));",
    ]
    static let searchIndexNames = ["entries_by_leaf", "entries_by_tail"]

    static let all: [(name: String, sql: String)] = [
        ("0001-initial", """
        CREATE TABLE meta(key text PRIMARY KEY, value text NOT NULL);
        CREATE TABLE silos(
            id bigint PRIMARY KEY,             -- 0..63, the bit in entries.dirsilos
            name text NOT NULL UNIQUE,
            path text NOT NULL,
            tier text NOT NULL,
            scan_gen bigint NOT NULL DEFAULT 0,
            scanned_at bigint,                 -- unix seconds of the last completed scan
            entries bigint NOT NULL DEFAULT 0,
            health text NOT NULL DEFAULT 'unknown',
            health_reason text
        );
        -- One row per inode, holding its first name. Extra hard-link names live in links.
        CREATE TABLE entries(
            ino bigint PRIMARY KEY,
            parent bigint NOT NULL,
            name bytea NOT NULL,
            kind bigint NOT NULL,
            mode bigint NOT NULL,
            uid bigint NOT NULL,
            gid bigint NOT NULL,
            size bigint NOT NULL,
            blocks bigint NOT NULL,
            atime bigint NOT NULL,             -- nanoseconds since the epoch
            mtime bigint NOT NULL,
            ctime bigint NOT NULL,
            nlink bigint NOT NULL,
            rdev bigint NOT NULL,
            silo bigint NOT NULL,              -- holds the visible data (files) or the attributes (dirs)
            dirsilos bigint NOT NULL,          -- bit mask of the silos holding a directory
            bino bigint NOT NULL,              -- backing inode number when last seen
            target bytea                       -- symlink target
        );
        CREATE UNIQUE INDEX entries_by_name ON entries(parent, name);
        CREATE TABLE links(parent bigint NOT NULL, name bytea NOT NULL, ino bigint NOT NULL, PRIMARY KEY(parent, name));
        -- A same-named file in a second silo that lost to the newer mtime. Never deleted by us.
        CREATE TABLE shadows(ino bigint NOT NULL, silo bigint NOT NULL, kind bigint NOT NULL,
                             size bigint NOT NULL, mtime bigint NOT NULL, PRIMARY KEY(ino, silo));
        CREATE TABLE xattrs(ino bigint NOT NULL, name bytea NOT NULL, value bytea NOT NULL, PRIMARY KEY(ino, name));
        INSERT INTO meta(key, value) VALUES ('next_ino', '2');
        INSERT INTO entries(ino, parent, name, kind, mode, uid, gid, size, blocks, atime, mtime, ctime,
                            nlink, rdev, silo, dirsilos, bino, target)
            VALUES (1, 0, '\\x', 2, 16877, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, NULL);
        """),
        ("0002-tiering", """
        -- Decaying access heat per file, and per extent as little-endian Float32 values.
        CREATE TABLE heat(ino bigint PRIMARY KEY, score double precision NOT NULL, updated bigint NOT NULL, extents bytea NOT NULL);
        -- A move of one file's data to another silo, extent by extent. `done` is a bitmap of
        -- copied extents, `hashes` their XXH3 values (8 bytes each), `log` the order in which
        -- they arrived (4 bytes each).
        CREATE TABLE jobs(
            id bigserial PRIMARY KEY,
            ino bigint NOT NULL,
            source bigint NOT NULL,
            destination bigint NOT NULL,
            state text NOT NULL,
            extent_size bigint NOT NULL,
            size bigint NOT NULL,
            source_mtime bigint NOT NULL,
            done bytea NOT NULL,
            hashes bytea NOT NULL,
            log bytea NOT NULL,
            bytes_copied bigint NOT NULL DEFAULT 0,
            batch bigint,
            error text,
            created bigint NOT NULL,
            updated bigint NOT NULL
        );
        CREATE INDEX jobs_by_state ON jobs(state);
        -- Extent hashes of a file's current copy, recorded when a move verified it.
        CREATE TABLE checksums(ino bigint PRIMARY KEY, silo bigint NOT NULL, size bigint NOT NULL,
                               mtime bigint NOT NULL, extent_size bigint NOT NULL, hashes bytea NOT NULL);
        ALTER TABLE silos ADD COLUMN draining bigint NOT NULL DEFAULT 0;
        """),
        ("0003-tag-index", """
        -- Tag queries (estuary find --tag, du --by tag:KEY): the inodes with a given name and value.
        CREATE INDEX xattrs_by_name ON xattrs(name, value);
        """),
        ("0004-links-by-inode", """
        -- The other names of an inode (unlink of a hard-linked file's first name, delete).
        CREATE INDEX links_by_ino ON links(ino);
        """),
        ("0005-tag-value-hash", """
        -- A btree row holds at most about 2.7 KB, so a longer tag value could not be set: the
        -- tag index keeps the value's MD5 instead (queries compare it, then the value itself).
        DROP INDEX xattrs_by_name;
        CREATE INDEX xattrs_by_name ON xattrs(name, md5(value));
        """),
        ("0006-nodes", """
        -- The daemons mounting the pool (nodes): each registers when it mounts, renews its
        -- heartbeat every few seconds and leaves when it stops. A heartbeat older than a few
        -- intervals marks a node that died.
        CREATE TABLE nodes(id text PRIMARY KEY, host text NOT NULL, pid bigint NOT NULL, mountpoint text NOT NULL,
                           started bigint NOT NULL, heartbeat bigint NOT NULL);
        """),
        ("0007-name-search", """
        -- estuary find by name: exact names and literal prefixes seek these. Suffixes of 4
        -- bytes or more seek the names' last 4 bytes (for a shorter name: all of it).
        CREATE INDEX links_by_leaf ON links(name);
        \(searchIndexes.joined(separator: "\n"))
        """),
        ("0008-leases", """
        -- Leases (the reconcile leader, each running move job): a row names the node holding
        -- it. A lease lives as long as its holder's heartbeat, so renewing the heartbeat
        -- renews every lease the node holds, and a node whose heartbeat lapsed loses them all.
        CREATE TABLE leases(name text PRIMARY KEY, node text NOT NULL, taken bigint NOT NULL);
        CREATE INDEX leases_by_node ON leases(node);
        """),
    ]
}
