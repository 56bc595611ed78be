/// Absolute path handling for silos and state directories. Paths are
/// compared as strings later on (duplicates, nesting), so they are brought
/// to one spelling here.
enum ConfigPath {
    enum Problem: Error {
        case notAbsolute
        case containsNUL
        /// ".." is refused rather than resolved: resolving it without the
        /// file system would be wrong whenever a symlink sits before it.
        case parentReference
    }

    /// Collapses repeated slashes, drops "." components and any trailing slash.
    static func normalised(_ path: String) throws(Problem) -> String {
        guard path.hasPrefix("/") else { throw .notAbsolute }
        guard !path.utf8.contains(0) else { throw .containsNUL }
        var components: [Substring] = []
        for component in path.split(separator: "/") where component != "." {
            if component == ".." { throw .parentReference }
            components.append(component)
        }
        return "/" + components.joined(separator: "/")
    }

    static func explain(_ problem: Problem) -> String {
        switch problem {
        case .notAbsolute: "must be an absolute path"
        case .containsNUL: "must not contain a NUL character"
        case .parentReference: "must not contain '..'"
        }
    }

    /// True when `inner` is `outer` or lies below it; both must be normalised.
    static func isWithin(_ inner: String, _ outer: String) -> Bool {
        if inner == outer || outer == "/" { return true }
        return inner.hasPrefix(outer + "/")
    }

    /// The final component of a normalised path; empty for "/".
    static func lastComponent(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? ""
    }

    static func joined(_ base: String, _ components: String...) -> String {
        ([base] + components).joined(separator: "/")
    }
}
