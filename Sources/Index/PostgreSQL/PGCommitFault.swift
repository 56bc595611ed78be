#if canImport(Glibc)
import Glibc
#endif

/// Test knob `ESTUARY_TEST_PG_LOSE_COMMIT=<file>`: the answer to a COMMIT lost on purpose, at
/// the one moment a real network cut or server crash makes ambiguous. While `<file>` exists,
/// the next COMMIT of a write transaction that ran a statement containing the file's second
/// line (any transaction when it has none) loses its connection, and the file is removed.
/// First line `after`: the server commits, then its backend is terminated before the answer is
/// read. `before`: the connection is cut before COMMIT reaches the server, which rolls back.
/// Unset (every real use), nothing is recorded or checked.
final class PGCommitFault: Sendable {
    enum Moment: String { case before, after }

    let trigger: String

    init(trigger: String) { self.trigger = trigger }

    static let fromEnvironment: PGCommitFault? = getenv("ESTUARY_TEST_PG_LOSE_COMMIT").map { PGCommitFault(trigger: String(cString: $0)) }

    /// The moment to fail this COMMIT at, given the statements its transaction ran; the trigger
    /// is used up.
    func take(_ statements: [String]) -> Moment? {
        guard let file = fopen(trigger, "r") else { return nil }
        var text: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n <= 0 { break }
            text += buffer[0..<n]
        }
        fclose(file)
        let lines = String(decoding: text, as: UTF8.self).split(separator: "\n").map(String.init)
        guard let first = lines.first, let moment = Moment(rawValue: first) else { return nil }
        if lines.count > 1, !statements.contains(where: { $0.contains(lines[1]) }) { return nil }
        guard unlink(trigger) == 0 else { return nil }   // another connection took it
        return moment
    }
}
