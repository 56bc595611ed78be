import ArgumentParser
import ControlProtocol
#if canImport(Glibc)
import Glibc
#endif

/// `estuary`, the admin CLI. Exit status: 0 success, 1 failure, 2 usage error,
/// 3 finished with problems (a scan that could not read part of a silo).
public struct EstuaryCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "estuary",
        abstract: "Administer Estuary pools: scan silos, show status.",
        discussion: """
        POOL is a pool config file, a zero-config spec (/a=fast:/b=bulk), a pool name with a \
        config in /etc/estuary/NAME.toml, or the mount point of a mounted pool. With the daemon \
        running, commands go through its control socket; without it they work on the index directly.
        """,
        version: estuaryReleaseVersion,
        subcommands: [ScanCommand.self, StatusCommand.self, MoveCommand.self, JobsCommand.self, PinCommand.self, UnpinCommand.self,
                      SiloCommand.self, HeatCommand.self, VerifyCommand.self, FsckCommand.self,
                      ObjectivesCommand.self, ReloadCommand.self, FindCommand.self, DuCommand.self, TagCommand.self, TopCommand.self]
    )

    public init() {}

    /// Usage errors exit 2, as the README promises and as `estuaryfs` and most Unix tools do;
    /// ArgumentParser's own choice is 64 (sysexits' EX_USAGE), which scripts do not expect.
    public static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                let message = fullMessage(for: error)
                if !message.isEmpty { writeStandardError(message + "\n") }
                Glibc.exit(usageStatus)
            }
            exit(withError: error)
        }
    }

    static let usageStatus: Int32 = 2
}

/// Writes to fd 2 in one call, unbuffered, so messages keep their order with stdout's.
func writeStandardError(_ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let n = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
        bytes = bytes.dropFirst(n)
    }
}

/// Failures that end a command with a message and status 1.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
