import Syscalls

/// A failed index operation, by what it means to the caller rather than by an engine's codes:
/// each engine maps its own failures onto these kinds in one place (for SQLite,
/// `SQLiteErrors.kind(for:)`), so the namespace, the CLI and the daemon decide the same way
/// whichever engine holds the index.
public struct IndexError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// A row the operation needs does not exist.
        case notFound
        /// A uniqueness rule refused the change (a name taken, a row already present).
        case conflict
        /// Another writer holds the index; retrying later may succeed.
        case busy
        /// The index cannot be opened or reached (missing file, refused connection).
        case unavailable
        /// The index is damaged or is not an index at all.
        case corrupt
        /// The storage under the index is full.
        case full
        /// The index may be read but not written.
        case readOnly
        /// The caller may not open or change the index.
        case permissionDenied
        /// A value is larger than the engine accepts.
        case tooBig
        /// The engine ran out of memory.
        case noMemory
        /// The index's schema was written by a newer Estuary (a migration this build lacks).
        case versionMismatch
        /// A request the index refuses as wrong (a limit reached, a malformed call).
        case invalid
        /// Anything else: an I/O error, an engine failure without a closer meaning.
        case failed
    }

    public var kind: Kind
    /// The engine's own words, for logs and error messages (may name an engine code).
    public var message: String

    public init(_ kind: Kind, _ message: String) { self.kind = kind; self.message = message }

    public var isBusy: Bool { kind == .busy }
    public var isCorrupt: Bool { kind == .corrupt }

    /// The one place index failures become errno values for FUSE replies.
    public var errno: Errno {
        switch kind {
        case .full: .noSpace
        case .readOnly: .readOnlyFileSystem
        case .busy: .resourceBusy
        case .noMemory: .noMemory
        case .conflict: .fileExists
        case .notFound: .noSuchFileOrDirectory
        case .tooBig: .fileTooLarge
        case .permissionDenied: .permissionDenied
        case .unavailable, .corrupt, .versionMismatch, .invalid, .failed: .ioError
        }
    }

    public var description: String { "index: \(message) (\(kind.rawValue))" }
}
