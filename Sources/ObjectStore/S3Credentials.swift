#if canImport(Glibc)
import Glibc
#endif

/// An access key, found the way AWS tools find it. Its description never shows the secret or
/// the token, so a credential cannot reach a log line or an error message by accident.
public struct S3Credentials: Sendable, Equatable, CustomStringConvertible {
    public var accessKey: String
    public var secretKey: String
    public var sessionToken: String?
    /// Where it came from, for messages: "environment", "profile 'x' of ~/.aws/credentials".
    public var source: String

    public init(accessKey: String, secretKey: String, sessionToken: String? = nil, source: String) {
        self.accessKey = accessKey; self.secretKey = secretKey; self.sessionToken = sessionToken; self.source = source
    }

    public var description: String { "access key \(accessKey.prefix(4))… from \(source)" }

    /// `file` (a silo's `credentials_file`) first, with `AWS_PROFILE` or `default` as the
    /// section; else `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`); else
    /// `AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`.
    public static func resolve(file: String?, environment: [String: String] = currentEnvironment()) throws(S3Error) -> S3Credentials {
        let profile = environment["AWS_PROFILE"] ?? "default"
        if let file {
            return try fromFile(file, profile: profile)
        }
        if let key = environment["AWS_ACCESS_KEY_ID"], let secret = environment["AWS_SECRET_ACCESS_KEY"], !key.isEmpty {
            return S3Credentials(accessKey: key, secretKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"], source: "environment")
        }
        let shared = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? ((environment["HOME"] ?? "/root") + "/.aws/credentials")
        return try fromFile(shared, profile: profile)
    }

    /// An INI file of `[profile]` sections with `aws_access_key_id`, `aws_secret_access_key`,
    /// `aws_session_token`.
    static func fromFile(_ path: String, profile: String) throws(S3Error) -> S3Credentials {
        guard let text = readText(path) else {
            throw S3Error(.denied, message: "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with " +
                          "~/.aws/credentials, or credentials_file in the silo; '\(path)' cannot be read")
        }
        var section = ""
        var values: [String: String] = [:]
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = raw.trimmingSpaces
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast()).trimmingSpaces
                if section.hasPrefix("profile ") { section = String(section.dropFirst(8)).trimmingSpaces }
                continue
            }
            guard section == profile, let eq = line.firstIndex(of: "=") else { continue }
            values[String(line[..<eq]).trimmingSpaces.lowercased()] = String(line[line.index(after: eq)...]).trimmingSpaces
        }
        guard let key = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] else {
            throw S3Error(.denied, message: "'\(path)' has no aws_access_key_id and aws_secret_access_key for profile '\(profile)'")
        }
        return S3Credentials(accessKey: key, secretKey: secret, sessionToken: values["aws_session_token"],
                             source: "profile '\(profile)' of \(path)")
    }

    private static func readText(_ path: String) -> String? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 1 << 20 {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func currentEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let eq = text.firstIndex(of: "=") { result[String(text[..<eq])] = String(text[text.index(after: eq)...]) }
            entry += 1
        }
        return result
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}
