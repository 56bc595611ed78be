/// The one place PostgreSQL's SQLSTATE codes become `IndexError` kinds. Nothing outside the
/// PostgreSQL engine sees a SQLSTATE; the code stays in the message for logs.
enum PGErrors {
    static func kind(forSQLState state: String?) -> IndexError.Kind {
        guard let state else { return .failed }
        switch state {
        case "23505", "42P04", "42P07": return .conflict          // unique violation, database or table exists
        case "23503", "23502", "23514": return .invalid           // foreign key, not null, check
        case "40001", "40P01", "55P03": return .busy              // serialisation failure, deadlock, lock not available
        case "53100": return .full                                // disk full
        case "53200": return .noMemory                            // out of memory
        case "25006": return .readOnly                            // read-only transaction
        case "42501": return .permissionDenied                    // insufficient privilege
        case "54000", "54001", "22001": return .tooBig            // program limit exceeded, value too long
        case "XX001", "XX002": return .corrupt                    // data or index corrupted
        case "3D000": return .unavailable                         // no such database
        case "57P01", "57P02", "57P03": return .unavailable       // server shutting down or starting
        default: break
        }
        switch state.prefix(2) {
        case "08": return .unavailable                            // connection exceptions
        case "28": return .permissionDenied                       // invalid authorisation
        case "22", "42": return .invalid                          // data exception, syntax or access rule
        case "53": return .full                                   // insufficient resources
        default: return .failed
        }
    }

    /// A failed connection has no SQLSTATE from libpq: an authentication refusal is told
    /// from the server's message, everything else means the server cannot be reached.
    static func connectionKind(_ message: String) -> IndexError.Kind {
        message.contains("authentication failed") || message.contains("no password supplied") || message.contains("permission denied")
            ? .permissionDenied : .unavailable
    }
}
