/// The `index` setting of a pool (`[pool] index`, `-o index=`): a PostgreSQL connection URI.
/// Without it the index is SQLite's `index.db` in the state directory.
public enum IndexLocation {
    static let schemes = ["postgresql://", "postgres://"]

    /// Why `value` is no index location, or nil when it is one. Never quotes the value: a URI
    /// may carry a password.
    public static func problem(_ value: String) -> String? {
        guard let scheme = schemes.first(where: { value.hasPrefix($0) }) else {
            return "must be a PostgreSQL URI, postgresql://USER@HOST:PORT/DATABASE?sslmode=..., " +
                "or be left out for the SQLite index in the state directory"
        }
        guard value.count > scheme.count else {
            return "names no server: postgresql://USER@HOST:PORT/DATABASE"
        }
        return nil
    }

    /// `value` for messages: a URI's `user:password@` loses the password and a `password=`
    /// query parameter is dropped.
    public static func redacted(_ value: String) -> String {
        guard let scheme = schemes.first(where: { value.hasPrefix($0) }) else { return value }
        var text = value
        let start = text.index(text.startIndex, offsetBy: scheme.count)
        let authorityEnd = text[start...].firstIndex(where: { $0 == "/" || $0 == "?" }) ?? text.endIndex
        if let at = text[start..<authorityEnd].lastIndex(of: "@"), let colon = text[start..<at].firstIndex(of: ":") {
            text.removeSubrange(colon..<at)
        }
        if let query = text.firstIndex(of: "?") {
            let kept = text[text.index(after: query)...].split(separator: "&").filter { !$0.lowercased().hasPrefix("password=") }
            text = String(text[..<query]) + (kept.isEmpty ? "" : "?" + kept.joined(separator: "&"))
        }
        return text
    }
}
