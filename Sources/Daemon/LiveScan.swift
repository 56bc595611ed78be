import Assimilation
import Index
import Namespace
import Pool
import Silos

/// A scan of `targets` while the pool is mounted: sizes and times still in memory go to the
/// index first (so the scan compares against them), and the nodes the kernel holds are
/// reloaded after (so it sees what the scan changed).
func liveScan(_ pool: PoolContext, _ namespace: Namespace, _ targets: [Silo],
              progress: (ScanProgress) -> Void = { _ in }) throws(IndexError) -> ScanSummary {
    namespace.flushMetadata()
    let summary = try Scanner(index: pool.index, silos: pool.silos).scan(targets, live: true, progress: progress)
    namespace.reloadFromIndex()
    return summary
}
