import Assimilation
import Index
import Namespace
import Pool
import Silos

/// A scan of `targets` while the pool is mounted: sizes and times still in memory go to the
/// index first (so the scan compares against them); after it, the nodes the kernel holds are
/// reloaded and the kernel drops what it cached of the names and files the scan changed, so
/// whoever asked for the scan sees its result through the mount when it returns.
func liveScan(_ pool: PoolContext, _ namespace: Namespace, _ targets: [Silo],
              progress: (ScanProgress) -> Void = { _ in }) throws(IndexError) -> ScanSummary {
    namespace.flushMetadata()
    // Only names in directories the kernel holds can be in its cache.
    var changedNames: [(parent: UInt64, name: [UInt8])] = []
    let summary = try Scanner(index: pool.index, silos: pool.silos).scan(
        targets, live: true,
        nameChanged: { parent, name in
            namespace.namesChangedBehindTheMount(in: parent)
            if namespace.kernelKnows(parent) { changedNames.append((parent, name)) }
        },
        progress: progress)
    namespace.reloadFromIndex(changedNames: changedNames)
    namespace.settleKernelCache()
    return summary
}

/// Applies one batch of changes the watcher saw in the silos while the pool is mounted: the
/// named entries and directories are rescanned, the kernel drops what it cached of the names
/// and files that changed, and nothing waits for it to do so (the next batch must not queue
/// behind a kernel busy with a directory).
func liveRescan(_ pool: PoolContext, _ namespace: Namespace, _ requests: [(silo: Silo, request: RescanRequest)]) throws(IndexError) -> ScanSummary {
    namespace.flushMetadata()
    var changedNames: [(parent: UInt64, name: [UInt8])] = []
    let summary = try TargetedScanner(index: pool.index, silos: pool.silos).rescan(requests, nameChanged: { parent, name in
        namespace.namesChangedBehindTheMount(in: parent)
        if namespace.kernelKnows(parent) { changedNames.append((parent, name)) }
    })
    if summary.added + summary.updated + summary.removed > 0 || !changedNames.isEmpty {
        namespace.reloadFromIndex(changedNames: changedNames, touched: summary.touched)
    }
    return summary
}
