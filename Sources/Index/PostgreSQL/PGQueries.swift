/// A statement used on a hot path (lookup, getattr, create, the scanner's inner loop). A
/// connection keeps its prepared name by number, so using one costs no hashing of its text.
struct PGQuery: Sendable {
    let id: Int
    let sql: String
}

let pgEntryColumns = "ino, parent, name, kind, mode, uid, gid, size, blocks, atime, mtime, ctime, nlink, rdev, silo, dirsilos, bino, target"
/// `pgEntryColumns` of the entries table joined as `e`.
let pgJoinedEntryColumns = pgEntryColumns.split(separator: ",").map { "e." + $0.drop(while: { $0 == " " }) }.joined(separator: ", ")

enum PGQueries {
    static let entryByInode = PGQuery(id: 0, sql: "SELECT \(pgEntryColumns) FROM entries WHERE ino = $1")
    static let entryByName = PGQuery(id: 1, sql: "SELECT \(pgEntryColumns) FROM entries WHERE parent = $1 AND name = $2")
    static let linkByName = PGQuery(id: 2, sql: "SELECT ino FROM links WHERE parent = $1 AND name = $2")
    static let firstNames = PGQuery(id: 3, sql: "SELECT \(pgEntryColumns) FROM entries WHERE parent = $1")
    static let insertEntry = PGQuery(id: 4, sql: """
        INSERT INTO entries(\(pgEntryColumns)) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
        """)
    static let updateEntry = PGQuery(id: 5, sql: """
        UPDATE entries SET parent = $2, name = $3, kind = $4, mode = $5, uid = $6, gid = $7, size = $8, blocks = $9,
            atime = $10, mtime = $11, ctime = $12, nlink = $13, rdev = $14, silo = $15, dirsilos = $16, bino = $17,
            target = $18 WHERE ino = $1
        """)
    static let updateData = PGQuery(id: 6, sql: "UPDATE entries SET size = $1, blocks = $2, atime = $3, mtime = $4, ctime = $5, mode = $6, nlink = $7 WHERE ino = $8")
    static let xattrValue = PGQuery(id: 7, sql: "SELECT value FROM xattrs WHERE ino = $1 AND name = $2")
    static let setLinkCount = PGQuery(id: 8, sql: "UPDATE entries SET nlink = $1 WHERE ino = $2 AND nlink != $1")
    static let linkNames = PGQuery(id: 9, sql: "SELECT name, ino FROM links WHERE parent = $1")
    static let setMeta = PGQuery(id: 10, sql: "INSERT INTO meta(key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
    static let count = 11
}
