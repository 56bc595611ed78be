import ArgumentParser
import Config
import Foundation
import Index
import Syscalls

/// `estuary find`: the index answers, the silos are never walked.
struct FindCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "find",
        abstract: "List files by tag, tier, silo, size, age or an objective expression, from the index.",
        discussion: """
        PATH is a directory on a mounted pool, or a pool (config file, spec or name) with --root \
        /sub/dir. Answers come from the index without touching the silos or the daemon. All the \
        tests given must hold; --tag, --has-tag, --tier and --silo may be repeated (every --tag and \
        --has-tag must hold; any one --tier or --silo is enough). Sizes take units (4096, 10G, \
        500MiB); ages s, m, h, d, w, y (--older 30d: modified more than 30 days ago).
        Output: absolute paths (under the mount point; under / when the pool is not mounted), \
        one per line, NUL-separated with --print0, or a JSON array with --json.
        """)

    @Argument(help: "A directory on a mounted pool, or a pool (config, spec, name) with --root.") var path: String
    @Option(help: "With a pool argument: the directory to search, relative to the pool root.") var root: String?
    @OptionGroup var filters: QueryFilters
    @Flag(help: "Separate paths with NUL instead of newline (for xargs -0, estuary tag --from -).") var print0 = false
    @Flag(help: "Print a JSON array of {path, size, mtime, tier, silo, tags}.") var json = false

    func validate() throws {
        if print0 && json { throw ValidationError("--print0 and --json exclude each other") }
        try filters.check()
    }

    func run() throws {
        let scope = try QueryScope.locate(path, root: root)
        if scope.mountpoint == nil, (try? ObjectiveFilter(filters.expression, config: scope.config, silos: [], now: 0))??.namePlan.names != nil {
            OfflineSearchIndexes.build(scope.config)
        }
        let out = RawOutput()
        var first = true
        if json { out.write("[") }
        try scope.read { tx, start in
            let filter = try filters.compile(tx, config: scope.config)
            let silos = Dictionary(uniqueKeysWithValues: try tx.silos().map { ($0.id, $0) })
            try FindPlanner.visit(tx, scope: scope, start: start, filter: filter) { entry in
                if let objective = filter.objective, !(try objective.matches(entry, tx)) { return }
                let absolute = scope.absolute(entry.path)
                if json {
                    out.write(first ? "\n  " : ",\n  ")
                    first = false
                    let silo = silos[entry.row.silo]
                    let tags = QueryParsing.visibleTags(try tx.xattrs(of: entry.row.ino))
                    out.write("{\"path\": \(JSONText.string(absolute)), \"size\": \(entry.row.size), ")
                    out.write("\"mtime\": \(entry.row.mtimeNs / 1_000_000_000), \"kind\": \(JSONText.string(QueryFilters.kindName(entry.row.kind))), ")
                    out.write("\"tier\": \(JSONText.string(silo?.tier ?? "")), \"silo\": \(JSONText.string(silo?.name ?? "")), \"tags\": {")
                    out.write(tags.map { "\(JSONText.string($0.key)): \(JSONText.string($0.value))" }.joined(separator: ", "))
                    out.write("}}")
                } else if print0 {
                    out.write(absolute)
                    out.write(CollectionOfOne(0))
                } else {
                    // One name per line: a name holding a newline or an escape sequence is
                    // quoted (as `ls` does), so it can neither forge a line nor reach the terminal.
                    out.write(Format.name(absolute))
                    out.write(CollectionOfOne(UInt8(ascii: "\n")))
                }
            }
        }
        if json { out.write(first ? "]\n" : "\n]\n") }
        out.flush()
    }
}

/// The tests `find` and `du` share.
struct QueryFilters: ParsableArguments {
    @Option(name: .customLong("tag"), help: ArgumentHelp("Carries tag KEY with VALUE (user.KEY). Repeatable: all must hold.", valueName: "KEY=VALUE"))
    var tags: [String] = []
    @Option(name: .customLong("has-tag"), help: ArgumentHelp("Carries tag KEY, any value. Repeatable: all must hold.", valueName: "KEY"))
    var hasTags: [String] = []
    @Option(help: ArgumentHelp("Data on a silo of this tier (directories: held by one). Repeatable: any.", valueName: "TIER"))
    var tier: [String] = []
    @Option(help: ArgumentHelp("Data on this silo (directories: held by it). Repeatable: any.", valueName: "SILO"))
    var silo: [String] = []
    @Option(help: ArgumentHelp("Size larger than N bytes (units: 10G, 500MiB).", valueName: "N")) var larger: String?
    @Option(help: ArgumentHelp("Size smaller than N bytes.", valueName: "N")) var smaller: String?
    @Option(help: ArgumentHelp("Modified more than D ago (s, m, h, d, w, y: 30d).", valueName: "D")) var older: String?
    @Option(help: ArgumentHelp("Modified less than D ago.", valueName: "D")) var newer: String?
    @Option(help: ArgumentHelp("f (regular file), d (directory) or l (symlink).", valueName: "f|d|l")) var type: String?
    @Option(name: .customLong("where"), help: ArgumentHelp("An objective expression every match must satisfy.", valueName: "EXPR"))
    var expression: String?

    static func kindName(_ kind: FileKind) -> String {
        switch kind {
        case .regular: "file"
        case .directory: "directory"
        case .symlink: "symlink"
        case .fifo: "fifo"
        case .socket: "socket"
        case .characterDevice: "char-device"
        case .blockDevice: "block-device"
        case .unknown: "unknown"
        }
    }

    func check() throws {
        for t in tags { _ = try QueryParsing.tag(t) }
        for k in hasTags { _ = try QueryParsing.tagName(k) }
        if let larger { _ = try QueryParsing.size(larger, option: "--larger") }
        if let smaller { _ = try QueryParsing.size(smaller, option: "--smaller") }
        if let older { _ = try QueryParsing.duration(older, option: "--older") }
        if let newer { _ = try QueryParsing.duration(newer, option: "--newer") }
        if let type, !["f", "d", "l"].contains(type) { throw ValidationError("--type must be f, d or l, not '\(type)'") }
        try ObjectiveFilter.check(expression)
    }

    func compile(_ tx: ReadTransaction, config: PoolConfig) throws -> CompiledFilter {
        var filter = CompiledFilter()
        let now = Int64(Date().timeIntervalSince1970)
        // Tag tests narrow the candidates through the xattrs_by_name index, smallest set first.
        var sets: [Set<UInt64>] = []
        for t in tags {
            let (name, value) = try QueryParsing.tag(t)
            sets.append(try tx.inodes(withXattr: name, value: value))
        }
        for k in hasTags { sets.append(try tx.inodes(withXattr: try QueryParsing.tagName(k))) }
        if !sets.isEmpty {
            sets.sort { $0.count < $1.count }
            filter.candidates = sets.dropFirst().reduce(sets[0]) { $0.intersection($1) }
        }
        let rows = try tx.silos()
        if !tier.isEmpty || !silo.isEmpty {
            for t in tier where !rows.contains(where: { $0.tier == t }) {
                throw CommandFailure("pool '\(config.name)' has no tier '\(t)'; its tiers are \(Set(rows.map(\.tier)).sorted().joined(separator: ", "))")
            }
            for s in silo where !rows.contains(where: { $0.name == s }) {
                throw CommandFailure("pool '\(config.name)' has no silo '\(s)'; its silos are \(rows.map(\.name).joined(separator: ", "))")
            }
            var ids = Set<SiloID>()
            if !tier.isEmpty { ids.formUnion(rows.filter { tier.contains($0.tier) }.map(\.id)) }
            if !silo.isEmpty {
                let named = Set(rows.filter { silo.contains($0.name) }.map(\.id))
                ids = tier.isEmpty ? named : ids.intersection(named)
            }
            filter.silos = ids
        }
        if let larger { filter.largerThan = try QueryParsing.size(larger, option: "--larger") }
        if let smaller { filter.smallerThan = try QueryParsing.size(smaller, option: "--smaller") }
        if let older { filter.mtimeBeforeNs = (now - (try QueryParsing.duration(older, option: "--older"))) &* 1_000_000_000 }
        if let newer { filter.mtimeAfterNs = (now - (try QueryParsing.duration(newer, option: "--newer"))) &* 1_000_000_000 }
        switch type {
        case "f": filter.kind = .regular
        case "d": filter.kind = .directory
        case "l": filter.kind = .symlink
        default: break
        }
        filter.objective = try ObjectiveFilter(expression, config: config, silos: rows, now: now)
        return filter
    }
}

/// The tests of a query, resolved against one index snapshot.
struct CompiledFilter {
    /// Inodes carrying every required tag; nil when no tag test was given.
    var candidates: Set<UInt64>?
    var silos: Set<SiloID>?
    var largerThan: Int64?
    var smallerThan: Int64?
    var mtimeBeforeNs: Int64?
    var mtimeAfterNs: Int64?
    var kind: FileKind?
    var objective: ObjectiveFilter?

    func matches(_ entry: NamespaceEntry, _ tx: ReadTransaction) throws -> Bool {
        guard matches(entry.row) else { return false }
        if let objective, !(try objective.matches(entry, tx)) { return false }
        return true
    }

    /// The tests on the row alone (all but --where).
    func matches(_ row: EntryRow) -> Bool {
        if let candidates, !candidates.contains(row.ino) { return false }
        if let kind, row.kind != kind { return false }
        if let largerThan, row.size <= largerThan { return false }
        if let smallerThan, row.size >= smallerThan { return false }
        if let mtimeBeforeNs, row.mtimeNs >= mtimeBeforeNs { return false }
        if let mtimeAfterNs, row.mtimeNs <= mtimeAfterNs { return false }
        if let silos, !silos.contains(where: { row.holds(silo: $0) }) { return false }
        return true
    }
}
