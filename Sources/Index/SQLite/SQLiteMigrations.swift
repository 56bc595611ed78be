/// Schema changes, applied in order, each once, each named. A name is never reused or edited
/// after it ships: add a new migration instead. Columns use portable SQL types so a server
/// engine can take the same schema.
enum SQLiteMigrations {
    /// The name-search indexes on entries (0007-name-search), which a first scan drops and
    /// builds again once at its end (see `WriteTransaction.setSearchIndexes`).
    static let searchIndexes = """
        CREATE INDEX IF NOT EXISTS entries_by_leaf ON entries(name);
        CREATE INDEX IF NOT EXISTS entries_by_tail ON entries(substr(name, -4));
        """
    static let searchIndexNames = ["entries_by_leaf", "entries_by_tail"]

    static let all: [(name: String, sql: String)] = [
        ("0001-initial", """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE silos(
            id INTEGER PRIMARY KEY,            -- 0..63, the bit in entries.dirsilos
            name TEXT NOT NULL UNIQUE,
            path TEXT NOT NULL,
            tier TEXT NOT NULL,
            scan_gen INTEGER NOT NULL DEFAULT 0,
            scanned_at INTEGER,                -- unix seconds of the last completed scan
            entries INTEGER NOT NULL DEFAULT 0,
            health TEXT NOT NULL DEFAULT 'unknown',
            health_reason TEXT
        );
        -- One row per inode, holding its first name. Extra hard-link names live in links.
        CREATE TABLE entries(
            ino INTEGER PRIMARY KEY,
            parent INTEGER NOT NULL,
            name BLOB NOT NULL,
            kind INTEGER NOT NULL,
            mode INTEGER NOT NULL,
            uid INTEGER NOT NULL,
            gid INTEGER NOT NULL,
            size INTEGER NOT NULL,
            blocks INTEGER NOT NULL,
            atime INTEGER NOT NULL,            -- nanoseconds since the epoch
            mtime INTEGER NOT NULL,
            ctime INTEGER NOT NULL,
            nlink INTEGER NOT NULL,
            rdev INTEGER NOT NULL,
            silo INTEGER NOT NULL,             -- holds the visible data (files) or the attributes (dirs)
            dirsilos INTEGER NOT NULL,         -- bitmask of the silos holding a directory
            bino INTEGER NOT NULL,             -- backing inode number when last seen
            target BLOB                        -- symlink target
        );
        CREATE UNIQUE INDEX entries_by_name ON entries(parent, name);
        CREATE TABLE links(parent INTEGER NOT NULL, name BLOB NOT NULL, ino INTEGER NOT NULL,
                           PRIMARY KEY(parent, name)) WITHOUT ROWID;
        -- A same-named file in a second silo that lost to the newer mtime. Never deleted by us.
        CREATE TABLE shadows(ino INTEGER NOT NULL, silo INTEGER NOT NULL, kind INTEGER NOT NULL,
                             size INTEGER NOT NULL, mtime INTEGER NOT NULL,
                             PRIMARY KEY(ino, silo)) WITHOUT ROWID;
        CREATE TABLE xattrs(ino INTEGER NOT NULL, name BLOB NOT NULL, value BLOB NOT NULL,
                            PRIMARY KEY(ino, name)) WITHOUT ROWID;
        INSERT INTO meta(key, value) VALUES ('next_ino', '2');
        INSERT INTO entries(ino, parent, name, kind, mode, uid, gid, size, blocks, atime, mtime, ctime,
                            nlink, rdev, silo, dirsilos, bino, target)
            VALUES (1, 0, x'', 2, 16877, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, NULL);
        """),
        ("0002-tiering", """
        -- Decaying access heat per file, and per extent as little-endian Float32 values.
        CREATE TABLE heat(ino INTEGER PRIMARY KEY, score REAL NOT NULL, updated INTEGER NOT NULL, extents BLOB NOT NULL);
        -- A move of one file's data to another silo, extent by extent. `done` is a bitmap of
        -- copied extents, `hashes` their XXH3 values (8 bytes each), `log` the order in which
        -- they arrived (4 bytes each).
        CREATE TABLE jobs(
            id INTEGER PRIMARY KEY,
            ino INTEGER NOT NULL,
            source INTEGER NOT NULL,
            destination INTEGER NOT NULL,
            state TEXT NOT NULL,
            extent_size INTEGER NOT NULL,
            size INTEGER NOT NULL,
            source_mtime INTEGER NOT NULL,
            done BLOB NOT NULL,
            hashes BLOB NOT NULL,
            log BLOB NOT NULL,
            bytes_copied INTEGER NOT NULL DEFAULT 0,
            batch INTEGER,
            error TEXT,
            created INTEGER NOT NULL,
            updated INTEGER NOT NULL
        );
        CREATE INDEX jobs_by_state ON jobs(state);
        -- Extent hashes of a file's current copy, recorded when a move verified it.
        CREATE TABLE checksums(ino INTEGER PRIMARY KEY, silo INTEGER NOT NULL, size INTEGER NOT NULL,
                               mtime INTEGER NOT NULL, extent_size INTEGER NOT NULL, hashes BLOB NOT NULL);
        ALTER TABLE silos ADD COLUMN draining INTEGER NOT NULL DEFAULT 0;
        """),
        ("0003-tag-index", """
        -- Tag queries (estuary find --tag, du --by tag:KEY): the inodes with a given name and value.
        CREATE INDEX xattrs_by_name ON xattrs(name, value);
        """),
        ("0004-links-by-inode", """
        -- The other names of an inode (unlink of a hard-linked file's first name, delete): a
        -- search instead of a scan of every link in the pool.
        CREATE INDEX links_by_ino ON links(ino);
        """),
        ("0005-tag-value-hash", """
        -- PostgreSQL's tag index moved to a hash of the value (its btree rows are limited to
        -- about 2.7 KB); SQLite's index takes values of any length and stays as it is. The
        -- name is here so a schema version means the same on both engines.
        """),
        ("0006-nodes", """
        -- Only a shared index (PostgreSQL) has several nodes to register; the name is here so
        -- a schema version means the same on both engines.
        """),
        ("0007-name-search", """
        -- estuary find by name: exact names and literal prefixes seek these; substrings scan
        -- their keys instead of the rows. Suffixes of 4 bytes or more (".mkv", ".jpeg") seek
        -- the names' last 4 bytes (for a shorter name: all of it), then test the rest.
        CREATE INDEX links_by_leaf ON links(name);
        \(searchIndexes)
        """),
        ("0008-leases", """
        -- Leases are shared-index business (one daemon holds everything of a SQLite index);
        -- the name is here so a schema version means the same on both engines.
        """),
    ]
}
