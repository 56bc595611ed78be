#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a configuration file whole, with errno-based messages.
enum ConfigFileReader {
    /// Far beyond any real pool file; stops a mistaken path from being slurped.
    static let maximumSize = 16 << 20

    static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    static func contents(of path: String) throws(ConfigError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure(path, "cannot open the configuration file") }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw failure(path, "cannot examine the configuration file") }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ConfigError(file: path, message: "the configuration file is not a regular file")
        }
        guard Int(info.st_size) <= maximumSize else {
            throw ConfigError(file: path, message: "the configuration file is larger than \(SizeParser.describe(UInt64(maximumSize)))")
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure(path, "cannot read the configuration file")
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: buffer[0..<count])
            guard bytes.count <= maximumSize else {
                throw ConfigError(file: path, message: "the configuration file is larger than \(SizeParser.describe(UInt64(maximumSize)))")
            }
        }
    }

    private static func failure(_ path: String, _ what: String) -> ConfigError {
        let reason = String(cString: strerror(errno))
        return ConfigError(file: path, message: "\(what): \(reason)")
    }
}
