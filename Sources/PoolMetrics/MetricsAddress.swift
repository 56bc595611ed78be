/// Where the daemon serves /metrics: `HOST:PORT`, `:PORT` or `PORT` (host 127.0.0.1). Off by
/// default, and on loopback unless the administrator names another address: the numbers say
/// which files are hot, which is not everyone's business.
public struct MetricsAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public static let defaultHost = "127.0.0.1"
    public static let defaultPort: UInt16 = 9567

    public init(host: String, port: UInt16) { self.host = host; self.port = port }

    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    public init(parsing text: String) throws(Invalid) {
        let invalid = Invalid(description: "metrics address must be HOST:PORT, :PORT or PORT with an IPv4 host (like 127.0.0.1:9567), not '\(text)'")
        var host = MetricsAddress.defaultHost
        var portText = Substring(text)
        if let colon = text.lastIndex(of: ":") {
            let named = text[..<colon]
            if !named.isEmpty { host = named == "localhost" ? "127.0.0.1" : String(named) }
            portText = text[text.index(after: colon)...]
        }
        guard let port = UInt16(portText), port > 0 else { throw invalid }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.allSatisfy({ UInt8($0) != nil }) else { throw invalid }
        self.host = host
        self.port = port
    }

    public var description: String { "\(host):\(port)" }
}
