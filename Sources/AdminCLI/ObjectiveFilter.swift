import ArgumentParser
import Config
import Index
import Syscalls
// The real --where needs AdminCLI to depend on Objectives in Package.swift, with
// `swiftSettings: [.define("ADMINCLI_OBJECTIVES")]`; without both, the stub at the end is built
// (canImport alone is not enough: the module is found but not linked).
#if ADMINCLI_OBJECTIVES
import Objectives

/// `--where EXPR`: an objective expression (module Objectives) evaluated on facts from the
/// index. Tags, the pin and the heat are read only when the expression looks at them.
struct ObjectiveFilter {
    let expression: ObjectiveExpression
    let now: Int64
    let silos: [SiloID: SiloRow]
    let halfLife: Double
    let needsTags: Bool
    let needsPin: Bool
    let needsHeat: Bool
    let needsPath: Bool
    let needsName: Bool

    /// Parses `text`, or explains where it is wrong with a caret under the column.
    static func parse(_ text: String) throws -> ObjectiveExpression {
        do { return try ObjectiveParser.parse(text) } catch {
            let caret = String(repeating: " ", count: max(0, error.column - 1)) + "^"
            throw ValidationError("--where: column \(error.column): \(error.message)\n  \(text)\n  \(caret)")
        }
    }

    static func check(_ text: String?) throws {
        if let text { _ = try parse(text) }
    }

    init?(_ text: String?, config: PoolConfig, silos: [SiloRow], now: Int64) throws {
        guard let text else { return nil }
        expression = try Self.parse(text)
        self.now = now
        self.silos = Dictionary(uniqueKeysWithValues: silos.map { ($0.id, $0) })
        halfLife = config.heatHalfLife
        var uses = Uses()
        uses.scan(expression)
        needsTags = uses.tags; needsPin = uses.pin; needsHeat = uses.heat
        needsPath = uses.path; needsName = uses.name
    }

    /// The name test and the directory the expression requires, for the index to search.
    var namePlan: NamePlan { NamePlan(expression, now: now, silos: silos) }

    func matches(_ entry: NamespaceEntry, _ tx: ReadTransaction) throws -> Bool {
        expression.evaluate(try facts(entry, tx), now: now)
    }

    func facts(_ entry: NamespaceEntry, _ tx: ReadTransaction) throws -> FileFacts {
        let row = entry.row
        var tags: [String: String] = [:]
        var pinned = false
        if needsTags || needsPin {
            for x in try tx.xattrs(of: row.ino) where x.name.starts(with: QueryParsing.tagPrefix) {
                if x.name.starts(with: QueryParsing.reservedPrefix) {
                    if x.name.elementsEqual("user.estuary.pin".utf8) { pinned = true }
                    continue
                }
                tags[String(decoding: x.name.dropFirst(QueryParsing.tagPrefix.count), as: UTF8.self)] = String(decoding: x.value, as: UTF8.self)
            }
        }
        let heat = needsHeat ? try tx.heat(of: row.ino, now: Double(now), halfLife: halfLife) : 0
        let silo = silos[row.silo]
        // Text the expression never reads is not decoded: that is most of the cost per row.
        return FileFacts(path: needsPath ? "/" + String(decoding: entry.path, as: UTF8.self) : "",
                         name: needsName ? String(decoding: row.name, as: UTF8.self) : "",
                         kind: Self.kind(row.kind), size: row.size, uid: row.uid, gid: row.gid,
                         atime: Self.seconds(row.atimeNs), mtime: Self.seconds(row.mtimeNs), ctime: Self.seconds(row.ctimeNs),
                         heat: heat, tags: tags, pinned: pinned, tier: silo?.tier ?? "", silo: silo?.name ?? "")
    }

    /// Whole seconds, rounded down (also before 1970).
    static func seconds(_ ns: Int64) -> Int64 { ns >= 0 ? ns / 1_000_000_000 : -((-ns + 999_999_999) / 1_000_000_000) }

    static func kind(_ kind: FileKind) -> FileFacts.Kind {
        switch kind {
        case .regular: .file
        case .directory: .directory
        case .symlink: .symlink
        case .fifo: .fifo
        case .socket: .socket
        default: .other
        }
    }

    /// Which costly facts an expression reads.
    private struct Uses {
        var tags = false, pin = false, heat = false, path = false, name = false

        mutating func scan(_ e: ObjectiveExpression) {
            switch e {
            case .not(let operand): scan(operand)
            case .and(let operands), .or(let operands): operands.forEach { scan($0) }
            case .pinned: pin = true
            case .hasTag: tags = true
            case .text(let field, _):
                switch field {
                case .tag: tags = true
                case .path: path = true
                case .name: name = true
                case .tier, .silo: break
                }
            case .heat: heat = true
            case .constant, .kind, .size, .age, .owner: break
            }
        }
    }
}
#else
/// `--where EXPR` without the Objectives module in this build (see the top of the file).
struct ObjectiveFilter {
    static func check(_ expression: String?) throws {
        if expression != nil { throw ValidationError("--where needs the Objectives module, which this build lacks") }
    }

    init?(_ expression: String?, config: PoolConfig, silos: [SiloRow], now: Int64) throws {
        guard expression != nil else { return nil }
        throw ValidationError("--where needs the Objectives module, which this build lacks")
    }

    func matches(_ entry: NamespaceEntry, _ tx: ReadTransaction) throws -> Bool { true }

    var namePlan: NamePlan { NamePlan() }
    var needsPath: Bool { false }
}
#endif
