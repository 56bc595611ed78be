/// A statement used on a hot path (lookup, getattr, the scanner's inner loop). Connections
/// cache these by number, so using one costs no string hashing.
struct Query: Sendable {
    let id: Int
    let sql: String
}

enum Queries {
    static let entryByInode = Query(id: 0, sql: "SELECT \(entryColumns) FROM entries WHERE ino = ?")
    static let entryByName = Query(id: 1, sql: "SELECT \(entryColumns) FROM entries WHERE parent = ? AND name = ?")
    static let linkByName = Query(id: 2, sql: "SELECT ino FROM links WHERE parent = ? AND name = ?")
    static let firstNames = Query(id: 3, sql: "SELECT \(entryColumns) FROM entries WHERE parent = ?")
    static let insertEntry = Query(id: 4, sql: "INSERT INTO entries(\(entryColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    static let updateEntry = Query(id: 5, sql: """
        UPDATE entries SET parent = ?2, name = ?3, kind = ?4, mode = ?5, uid = ?6, gid = ?7, size = ?8, blocks = ?9,
            atime = ?10, mtime = ?11, ctime = ?12, nlink = ?13, rdev = ?14, silo = ?15, dirsilos = ?16, bino = ?17,
            target = ?18 WHERE ino = ?1
        """)
    static let updateData = Query(id: 6, sql: "UPDATE entries SET size = ?, blocks = ?, atime = ?, mtime = ?, ctime = ?, mode = ?, nlink = ? WHERE ino = ?")
    static let xattrValue = Query(id: 7, sql: "SELECT value FROM xattrs WHERE ino = ? AND name = ?")
    static let setLinkCount = Query(id: 8, sql: "UPDATE entries SET nlink = ?1 WHERE ino = ?2 AND nlink != ?1")
    static let linkNames = Query(id: 9, sql: "SELECT name, ino FROM links WHERE parent = ?")
    /// `insertEntry` for `insertBlock` rows at once: one statement step per block instead of
    /// one per row (a bulk load's inserts).
    static let insertBlock = 32
    static let insertEntries = Query(id: 10, sql: "INSERT INTO entries(\(entryColumns)) VALUES "
        + Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", count: insertBlock).joined(separator: ", "))
    static let count = 11
}
