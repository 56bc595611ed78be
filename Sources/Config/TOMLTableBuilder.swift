/// Assembles parsed keys into tables while enforcing TOML's rules about
/// defining things once. Works on reference nodes because `[[array]]`
/// headers keep adding to the last element long after it was created.
struct TOMLTableBuilder {
    /// How a table came to exist decides what may still be done to it.
    enum Origin: Equatable {
        /// Only mentioned on the way to a deeper `[header]`; may be defined once later.
        case implicit
        /// Named by its own `[header]` or as an `[[array]]` element.
        case header
        /// Created by dotted keys; open to more dotted keys in that section only.
        case dotted(section: Int)
    }

    final class TableNode {
        var origin: Origin
        var position: TOMLPosition
        let keyPosition: TOMLPosition
        let depth: Int
        let path: [String]
        var order: [String] = []
        var children: [String: Child] = [:]

        init(origin: Origin, position: TOMLPosition, keyPosition: TOMLPosition, depth: Int, path: [String]) {
            self.origin = origin
            self.position = position
            self.keyPosition = keyPosition
            self.depth = depth
            self.path = path
        }

        func add(_ name: String, _ child: Child) {
            order.append(name)
            children[name] = child
        }

        func table(named name: String, origin: Origin, at position: TOMLPosition, keyPosition: TOMLPosition) -> TableNode {
            TableNode(origin: origin, position: position, keyPosition: keyPosition, depth: depth + 1, path: path + [name])
        }
    }

    final class ArrayNode {
        let position: TOMLPosition
        let keyPosition: TOMLPosition
        var tables: [TableNode]

        init(position: TOMLPosition, keyPosition: TOMLPosition, first: TableNode) {
            self.position = position
            self.keyPosition = keyPosition
            self.tables = [first]
        }
    }

    enum Child {
        case value(TOMLValue, keyPosition: TOMLPosition)
        case table(TableNode)
        case arrayOfTables(ArrayNode)
    }

    let root: TableNode
    let maximumDepth: Int

    init(root: TableNode, maximumDepth: Int) {
        self.root = root
        self.maximumDepth = maximumDepth
    }

    // MARK: Headers

    /// Resolves `[a.b]` or `[[a.b]]` and returns the table that following keys fill.
    func openTable(_ key: [TOMLLexer.KeyPart], isArray: Bool, at header: TOMLPosition) throws(TOMLError) -> TableNode {
        var table = root
        for part in key.dropLast() {
            switch table.children[part.name] {
            case nil:
                let created = table.table(named: part.name, origin: .implicit, at: header, keyPosition: part.position)
                try checkDepth(created, at: part.position)
                table.add(part.name, .table(created))
                table = created
            case .table(let existing):
                table = existing
            case .arrayOfTables(let array):
                table = array.tables[array.tables.count - 1]
            case .value(let value, let keyPosition):
                throw conflict(with: value, path: table.path + [part.name], keyPosition: keyPosition, at: part.position)
            }
        }
        let last = key[key.count - 1]
        let path = table.path + [last.name]
        let name = TOMLLexer.render(path)
        let fresh = table.table(named: last.name, origin: .header, at: header, keyPosition: last.position)
        try checkDepth(fresh, at: last.position)
        switch (table.children[last.name], isArray) {
        case (nil, false):
            table.add(last.name, .table(fresh))
        case (nil, true):
            table.add(last.name, .arrayOfTables(ArrayNode(position: header, keyPosition: last.position, first: fresh)))
        case (.table(let existing), false):
            guard existing.origin == .implicit else {
                throw TOMLError("table [\(name)] is already defined on line \(existing.position.line)", at: header)
            }
            existing.origin = .header
            existing.position = header
            return existing
        case (.table(let existing), true):
            throw TOMLError("cannot define [[\(name)]]: [\(name)] is already a table (line \(existing.position.line))", at: header)
        case (.arrayOfTables(let array), true):
            array.tables.append(fresh)
        case (.arrayOfTables(let array), false):
            throw TOMLError("cannot define [\(name)]: it is already an array of tables (line \(array.position.line))", at: header)
        case (.value(let value, let keyPosition), _):
            throw conflict(with: value, path: path, keyPosition: keyPosition, at: header)
        }
        return fresh
    }

    // MARK: Key/value pairs

    /// The depth a value for `key` in `table` will have, for the nesting limit.
    func depth(of key: [TOMLLexer.KeyPart], in table: TableNode) -> Int {
        table.depth + key.count
    }

    func insert(_ key: [TOMLLexer.KeyPart], value: TOMLValue, into start: TableNode, section: Int) throws(TOMLError) {
        var table = start
        for part in key.dropLast() {
            let path = table.path + [part.name]
            switch table.children[part.name] {
            case nil:
                let created = table.table(named: part.name, origin: .dotted(section: section), at: part.position, keyPosition: part.position)
                try checkDepth(created, at: part.position)
                table.add(part.name, .table(created))
                table = created
            case .table(let existing):
                switch existing.origin {
                case .dotted(let other) where other == section:
                    break
                case .implicit:
                    existing.origin = .dotted(section: section)
                default:
                    throw TOMLError("cannot add to table '\(TOMLLexer.render(path))' with dotted keys: it is defined on line \(existing.position.line)", at: part.position)
                }
                table = existing
            case .arrayOfTables(let array):
                throw TOMLError("cannot add to '\(TOMLLexer.render(path))' with dotted keys: it is an array of tables (line \(array.position.line))", at: part.position)
            case .value(let existing, let keyPosition):
                throw conflict(with: existing, path: path, keyPosition: keyPosition, at: part.position)
            }
        }
        let last = key[key.count - 1]
        if let existing = table.children[last.name] {
            let line = switch existing {
            case .value(_, let keyPosition): keyPosition.line
            case .table(let node): node.position.line
            case .arrayOfTables(let array): array.position.line
            }
            let name = TOMLLexer.render(table.path + [last.name])
            throw TOMLError("duplicate key '\(name)' (first defined on line \(line))", at: last.position)
        }
        table.add(last.name, .value(value, keyPosition: last.position))
    }

    // MARK: Helpers

    private func checkDepth(_ node: TableNode, at position: TOMLPosition) throws(TOMLError) {
        if node.depth > maximumDepth {
            throw TOMLParser.nestingError(at: position)
        }
    }

    /// Explains why an existing value cannot also be a table.
    private func conflict(with value: TOMLValue, path: [String], keyPosition: TOMLPosition, at position: TOMLPosition) -> TOMLError {
        let name = TOMLLexer.render(path)
        let line = keyPosition.line
        switch value.kind {
        case .table:
            return TOMLError("cannot extend inline table '\(name)' defined on line \(line)", at: position)
        case .array:
            return TOMLError("cannot extend array '\(name)' defined on line \(line)", at: position)
        default:
            return TOMLError("key '\(name)' is already defined as a value on line \(line)", at: position)
        }
    }

    /// Converts the finished node tree into immutable values.
    static func freeze(_ node: TableNode) -> TOMLTable {
        var table = TOMLTable(position: node.position)
        for name in node.order {
            guard let child = node.children[name] else { continue }
            switch child {
            case .value(let value, let keyPosition):
                table.set(name, value, keyPosition: keyPosition)
            case .table(let sub):
                table.set(name, TOMLValue(.table(freeze(sub)), at: sub.position), keyPosition: sub.keyPosition)
            case .arrayOfTables(let array):
                let elements = array.tables.map { TOMLValue(.table(freeze($0)), at: $0.position) }
                table.set(name, TOMLValue(.array(elements), at: array.position), keyPosition: array.keyPosition)
            }
        }
        return table
    }
}
