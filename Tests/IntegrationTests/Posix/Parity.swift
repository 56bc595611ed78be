import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// One difference between the native file system and the mount.
struct Mismatch: CustomStringConvertible {
    var index: Int?       // the op's position; nil for the final trees
    var what: String
    var native: String
    var mount: String
    var description: String { "\(index.map { "#\($0) " } ?? "")\(what)\n      native: \(native)\n      mount:  \(mount)" }
}

/// Runs op sequences on a native directory and through an Estuary mount and lists what differs.
enum Parity {
    static let defaultSilos: [(name: String, tier: String)] = [("fast0", "fast"), ("bulk0", "bulk")]

    /// Runs `ops` on a fresh native directory (beside the silos, so on the same file system) and
    /// through a fresh mount over empty silos, then compares every outcome, the final trees
    /// (names, types, modes, owners, sizes, link counts, contents, symlink targets, user xattrs)
    /// and, after unmounting, the union of the silos against the native tree (xattrs aside: they
    /// live in the index).
    /// `engine` keeps the pool's index (the parity suites run on both).
    static func run(_ ops: [Op], engine: TestEngine = .sqlite, silos: [(name: String, tier: String)] = defaultSilos,
                    mountOptions: [String] = [], checkSilos: Bool = true) throws -> [Mismatch] {
        let pool = try TestPool(silos: silos, engine: engine)
        let nativeRoot = pool.root + "/native"
        try FileManager.default.createDirectory(atPath: nativeRoot, withIntermediateDirectories: true)
        try pool.mount(options: mountOptions)
        defer { _ = try? pool.unmount() }

        let native = try OpRunner(root: nativeRoot)
        let nativeOutcomes = native.run(ops)
        native.finish()
        let mounted = try OpRunner(root: pool.mountpoint)
        let mountOutcomes = mounted.run(ops)
        mounted.finish()

        var mismatches: [Mismatch] = []
        for (i, op) in ops.enumerated() {
            if case .expected(_, let want) = op, !nativeOutcomes[i].description.hasPrefix(want) {
                mismatches.append(Mismatch(index: i, what: "\(op) expected \(want) natively (test or runner wrong)",
                                           native: nativeOutcomes[i].description, mount: mountOutcomes[i].description))
            }
        }
        for (i, op) in ops.enumerated() where nativeOutcomes[i] != mountOutcomes[i] {
            mismatches.append(Mismatch(index: i, what: op.description, native: nativeOutcomes[i].description,
                                       mount: mountOutcomes[i].description))
        }
        let nativeTree = try TreeSnapshot.take(nativeRoot)
        let treeMismatches: [Mismatch]
        do {
            treeMismatches = compareTrees(nativeTree, try TreeSnapshot.take(pool.mountpoint), label: "tree", xattrs: true)
        } catch {
            treeMismatches = [Mismatch(index: nil, what: "tree", native: "\(nativeTree.count) entries", mount: "walk failed: \(error)")]
        }
        mismatches += treeMismatches
        _ = try pool.unmount()
        if checkSilos && treeMismatches.isEmpty {
            mismatches += try compareWithSilos(nativeTree, pool)
        }
        return mismatches
    }

    /// The union of the silos against `tree`, as a later mount (or a reader of the disks) sees them.
    static func compareWithSilos(_ tree: [[UInt8]: SeenEntry], _ pool: TestPool) throws -> [Mismatch] {
        let merged = TreeSnapshot.expectedMerge(try pool.silos.map { try TreeSnapshot.take(pool.siloPath($0.name), skipReserved: true) })
        return compareTrees(tree, merged, label: "silos", xattrs: false)
    }

    static func compareTrees(_ native: [[UInt8]: SeenEntry], _ other: [[UInt8]: SeenEntry], label: String,
                             xattrs: Bool) -> [Mismatch] {
        var result: [Mismatch] = []
        let paths = Set(native.keys).union(other.keys).sorted { $0.lexicographicallyPrecedes($1) }
        for path in paths {
            let a = native[path].map { describe($0, xattrs: xattrs) } ?? "absent"
            let b = other[path].map { describe($0, xattrs: xattrs) } ?? "absent"
            if a != b { result.append(Mismatch(index: nil, what: "\(label) \(escaped(path))", native: a, mount: b)) }
        }
        return result
    }

    /// What must agree of one entry at the end: directory sizes, times and inode numbers aside.
    static func describe(_ e: SeenEntry, xattrs: Bool) -> String {
        var parts = ["\(e.kind)", "0" + String(e.mode & 0o7777, radix: 8), "uid=\(e.uid)", "gid=\(e.gid)"]
        if e.kind != .directory { parts.append("size=\(e.size)") }
        parts.append("nlink=\(e.nlink)")
        if let target = e.target { parts.append("-> \(escaped(target))") }
        if let content = e.content { parts.append("content \(describeContent(content))") }
        if xattrs && !e.xattrs.isEmpty {
            let tags = e.xattrs.sorted { $0.key.lexicographicallyPrecedes($1.key) }
            parts.append("xattrs {" + tags.map { "\(escaped($0.key))=\(describeContent($0.value))" }.joined(separator: ", ") + "}")
        }
        return parts.joined(separator: " ")
    }
}

/// A recorded issue listing every mismatch, one per line, with the native and mount results.
func expectParity(_ mismatches: [Mismatch], sourceLocation: SourceLocation = #_sourceLocation) {
    if mismatches.isEmpty { return }
    let report = mismatches.map { "  " + $0.description }.joined(separator: "\n")
    Issue.record("\(mismatches.count) mismatches:\n\(report)", sourceLocation: sourceLocation)
}
