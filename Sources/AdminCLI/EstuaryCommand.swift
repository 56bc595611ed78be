import ArgumentParser
import ControlProtocol

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
}

/// Failures that end a command with a message and status 1.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
