import ControlProtocol
import Pool

/// A read-only mount (`-o ro`) writes nothing to its silos. The kernel refuses writes through
/// the mount; control requests that would move data are refused here, before any handler runs.
enum ReadOnlyMount {
    /// Operations that queue moves.
    static let moving: Set<String> = ["move", "drain"]

    /// The refusal for `request`, or nil when it may run.
    static func refusal(_ request: ControlRequest, pool: PoolContext) -> ControlReply? {
        guard pool.readOnly, moving.contains(request.op) else { return nil }
        let what = request.op == "drain" ? "draining silo '\(request.silo ?? "?")'" : "moving files"
        return ControlReply(error: "pool '\(pool.config.name)' is mounted read-only (-o ro): \(what) would write to its silos. " +
                                   "Remount it read-write to move data")
    }
}
