import Foundation

/// Compares the trees a workload left natively and in the mount.
enum WorkloadComparison {
    /// Git's index records inode and device numbers and its packs depend on thread timing;
    /// SQLite's files are checked by `integrity_check` in the script. Their content is left out.
    static func contentIgnored(_ path: String) -> Bool {
        path.hasPrefix(".git/") || path.contains("/.git/") || path.contains("db.sqlite")
    }

    /// The differences between the two trees, as readable lines (empty when they agree).
    static func differences(native: String, mounted: String, comparesTimes: Bool) throws -> [String] {
        let expected = try TreeSnapshot.take(native), seen = try TreeSnapshot.take(mounted)
        var problems: [String] = []
        for path in Set(expected.keys).union(seen.keys).sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let name = String(decoding: path, as: UTF8.self)
            guard let want = expected[path] else { problems.append("\(name): only in the mount"); continue }
            guard var got = seen[path] else { problems.append("\(name): missing in the mount"); continue }
            if contentIgnored(name) { got.content = want.content; got.size = want.size }
            if !comparesTimes || want.kind == .directory { got.mtimeNs = want.mtimeNs }
            if !want.matches(got) { problems.append("\(name):\n      native \(want)\n      mount  \(got)") }
        }
        return problems
    }
}
