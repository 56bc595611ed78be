#if canImport(Glibc)
import Glibc
#endif

/// Fitting human output to the terminal: its width, wrapped sentences, shortened cells.
enum TerminalLayout {
    /// COLUMNS when set (as shells and `ls` honour it), else the window of standard output,
    /// else 80 (a pipe or a file).
    static var width: Int {
        if let text = getenv("COLUMNS").map({ String(cString: $0) }), let columns = Int(text), columns > 0 { return max(40, columns) }
        var size = winsize()
        if isatty(1) != 0, ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return max(40, Int(size.ws_col)) }
        return 80
    }

    /// `text` broken at spaces into lines of at most `width` characters; continuation lines
    /// start with `indent`. A word longer than a line is cut.
    static func wrap(_ text: String, width: Int, indent: String = "    ") -> [String] {
        var lines: [String] = []
        var line = String(text.prefix { $0 == " " })   // the first line keeps its indentation
        var lineHasWord = false
        for word in text.split(separator: " ") {
            let candidate = lineHasWord ? line + " " + word : line + word
            if candidate.count <= width { line = candidate; lineHasWord = true; continue }
            if lineHasWord { lines.append(line); line = indent + word } else { line = candidate }
            while line.count > width {
                lines.append(String(line.prefix(width)))
                line = indent + line.dropFirst(width)
            }
            lineHasWord = true
        }
        lines.append(line)
        return lines
    }

    /// The cell shortened to `width` characters with "..." in the middle (paths keep their
    /// start and their file name).
    static func shorten(_ cell: String, to width: Int) -> String {
        guard cell.count > width, width >= 5 else { return cell }
        let keep = width - 3
        return String(cell.prefix(keep - keep / 2)) + "..." + String(cell.suffix(keep / 2))
    }

    /// Table lines no wider than `width`, for a table whose last column is a path: the path is
    /// shortened when that leaves it at least 24 characters; else the table goes without it and
    /// the paths follow, one per line, as "  FIRST-CELL  PATH" (wrapped). `--json` has the full values.
    static func table(_ rows: [[String]], width: Int) -> [String] {
        guard let first = rows.first, first.count > 1 else { return Format.table(rows) }
        var widths = first.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        let fixed = widths.dropLast().reduce(0, +) + 2 * (widths.count - 1)
        if fixed + widths[widths.count - 1] <= width { return Format.table(rows) }
        if width - fixed >= 24 {
            return Format.table(rows.map { row in row.count == widths.count ? row.dropLast() + [shorten(row[row.count - 1], to: width - fixed)] : row })
        }
        var out = Format.table(rows.map { Array($0.dropLast()) })
        out.append("\(first[first.count - 1].lowercased())s:")
        for row in rows.dropFirst() where row.count == widths.count {
            out += wrap("  \(row[0])  \(row[row.count - 1])", width: width, indent: "      ")
        }
        return out
    }
}
