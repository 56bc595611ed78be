import CSQLite

/// The one place SQLite's result codes become `IndexError` kinds. Nothing outside the SQLite
/// engine sees a SQLite code; the code stays in the message for logs.
enum SQLiteErrors {
    static func kind(for code: Int32) -> IndexError.Kind {
        switch code & 0xff {
        case SQLITE_BUSY, SQLITE_LOCKED: .busy
        case SQLITE_CONSTRAINT: .conflict
        case SQLITE_CANTOPEN: .unavailable
        case SQLITE_CORRUPT, SQLITE_NOTADB: .corrupt
        case SQLITE_FULL: .full
        case SQLITE_READONLY: .readOnly
        case SQLITE_PERM, SQLITE_AUTH: .permissionDenied
        case SQLITE_TOOBIG: .tooBig
        case SQLITE_NOMEM: .noMemory
        case SQLITE_MISMATCH, SQLITE_RANGE, SQLITE_MISUSE: .invalid
        default: .failed
        }
    }

    static func error(_ code: Int32, _ message: String) -> IndexError {
        IndexError(kind(for: code), "\(message) (SQLite code \(code))")
    }
}
