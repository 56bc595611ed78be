import CSQLite
import Syscalls

/// A failed SQLite call: the extended result code and SQLite's own message, with the errno a
/// FUSE reply should carry for it.
public struct IndexError: Error, CustomStringConvertible, Sendable {
    public var code: Int32
    public var message: String

    public init(code: Int32, message: String) { self.code = code; self.message = message }

    public var primaryCode: Int32 { code & 0xff }
    public var isBusy: Bool { primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED }
    public var isCorrupt: Bool { primaryCode == SQLITE_CORRUPT || primaryCode == SQLITE_NOTADB }

    /// The one place SQLite failures become errno values.
    public var errno: Errno {
        switch primaryCode {
        case SQLITE_FULL: .noSpace
        case SQLITE_READONLY: .readOnlyFileSystem
        case SQLITE_BUSY, SQLITE_LOCKED: .resourceBusy
        case SQLITE_NOMEM: .noMemory
        case SQLITE_CONSTRAINT: .fileExists
        case SQLITE_TOOBIG: .fileTooLarge
        case SQLITE_PERM, SQLITE_AUTH: .permissionDenied
        default: .ioError
        }
    }

    public var description: String { "index: \(message) (SQLite code \(code))" }
}
