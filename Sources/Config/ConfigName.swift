/// The one naming rule shared by pools, tiers and silos. Names become
/// directory names and appear unquoted in logs and control messages, so
/// they are kept to a portable, shell-safe set.
enum ConfigName {
    static let maximumLength = 64
    static let rule = "use 1-64 characters from A-Z a-z 0-9 . _ - (not '.' or '..')"

    static func isValid(_ name: String) -> Bool {
        let scalars = name.unicodeScalars
        return !scalars.isEmpty && scalars.count <= maximumLength
            && name != "." && name != ".."
            && scalars.allSatisfy(isAllowed)
    }

    /// Turns anything into a valid name by replacing what is not allowed.
    static func sanitised(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars.prefix(maximumLength) {
            out.append(isAllowed(scalar) ? scalar : "_")
        }
        let name = String(out)
        switch name {
        case "": return "_"
        case ".": return "_"
        case "..": return "__"
        default: return name
        }
    }

    /// `base` with "-2", "-3", … appended until it is not in `used`,
    /// shortening `base` when needed to stay within the length limit.
    static func unique(_ base: String, avoiding used: Set<String>) -> String {
        guard used.contains(base) else { return base }
        var counter = 2
        while true {
            let suffix = "-\(counter)"
            let room = maximumLength - suffix.unicodeScalars.count
            let candidate = String(String.UnicodeScalarView(base.unicodeScalars.prefix(room))) + suffix
            if !used.contains(candidate) { return candidate }
            counter += 1
        }
    }

    private static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", ".", "_", "-": true
        default: false
        }
    }
}
