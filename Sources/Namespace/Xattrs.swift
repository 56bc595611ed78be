import Index
import Silos
import Syscalls

/// Extended attributes as the mount shows them: `user.*` tags from the index, and the reserved
/// `user.estuary.*` names computed on demand, readable by name but never listed, so `cp -a`
/// and rsync do not copy them.
extension Namespace {
    static let reservedPrefix: [UInt8] = Array("user.estuary.".utf8)

    public func getxattr(_ ino: UInt64, name: UnsafeBufferPointer<UInt8>) throws(Errno) -> [UInt8] {
        let row = try entry(ino)
        if name.starts(with: Namespace.reservedPrefix) {
            if let stored = try? index.query({ tx throws(IndexError) in try tx.xattr(of: ino, name: name) }) { return stored }
            return try computedAttribute(row, key: Array(name.dropFirst(Namespace.reservedPrefix.count)))
        }
        guard name.starts(with: Sys.userPrefix) else { throw Errno.noData }
        let value: [UInt8]?
        do { value = try index.query { tx throws(IndexError) in try tx.xattr(of: ino, name: name) } }
        catch { throw indexFailure(error, "getxattr") }
        guard let value else { throw Errno.noData }
        return value
    }

    public func listxattr(_ ino: UInt64) throws(Errno) -> [[UInt8]] {
        _ = try entry(ino)
        do { return try index.query { tx throws(IndexError) in try tx.xattrs(of: ino).map(\.name).filter { !$0.starts(with: Namespace.reservedPrefix) } } }
        catch { throw indexFailure(error, "listxattr") }
    }

    private func computedAttribute(_ row: EntryRow, key: [UInt8]) throws(Errno) -> [UInt8] {
        let silo = silos[row.silo]
        switch String(decoding: key, as: UTF8.self) {
        case "silo": return Array((silo?.name ?? "").utf8)
        case "tier": return Array((silo?.tier ?? "").utf8)
        case "path":
            guard let silo else { throw Errno.noData }
            let relative = try relativePath(of: row)
            return Array(silo.path.utf8) + (relative.isEmpty ? [] : [UInt8(ascii: "/")] + relative)
        case "silos":
            let ids = row.kind == .directory ? (0..<64).filter { row.dirSilos & (1 << UInt64($0)) != 0 } : [row.silo]
            return Array(ids.compactMap { silos[$0]?.name }.joined(separator: ",").utf8)
        default:
            let key = String(decoding: key, as: UTF8.self)
            for provider in attributeProviders.withLock({ $0 }) { if let value = provider(row, key) { return value } }
            throw Errno.noData
        }
    }
}
