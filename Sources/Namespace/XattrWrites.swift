import CShims
import Index
import Silos
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Tags written through the mount: kept in the index, and on the backing file where its file
/// system takes user xattrs, so a silo read without Estuary still carries them.
extension Namespace {
    public static let xattrCreate: Int32 = 1
    public static let xattrReplace: Int32 = 2
    static let maximumXattrName = 255
    static let maximumXattrValue = 65536

    public func setxattr(_ ino: UInt64, name nameBuffer: UnsafeBufferPointer<UInt8>, value: UnsafeRawBufferPointer, flags: Int32) throws(Errno) {
        let name = Array(nameBuffer)
        if name.count > Namespace.maximumXattrName { throw Errno.outOfRange }
        if value.count > Namespace.maximumXattrValue { throw Errno.argListTooLong }
        let row = try entry(ino)
        if name.starts(with: Namespace.reservedPrefix) {
            return try setReserved(row, key: String(decoding: name.dropFirst(Namespace.reservedPrefix.count), as: UTF8.self),
                                   name: name, value: Array(value))
        }
        guard name.starts(with: Sys.userPrefix) else { throw Errno.notSupported }
        guard name.count > Sys.userPrefix.count else { throw Errno.invalidArgument }
        guard row.kind == .regular || row.kind == .directory else { throw Errno.notPermitted }
        let current: [UInt8]?
        do { current = try index.query { tx throws(IndexError) in try tx.xattr(of: ino, name: nameBuffer) } }
        catch { throw indexFailure(error, "setxattr") }
        if flags & Namespace.xattrCreate != 0 && current != nil { throw Errno.fileExists }
        if flags & Namespace.xattrReplace != 0 && current == nil { throw Errno.noData }
        let bytes = Array(value)
        // Inside the move gate: a move's switch compares or applies the tags after every
        // change that began before it (see runUpload and runRecall), and this one reads the
        // row's silo after any switch.
        let gate = moves.enter(ino)
        defer { moves.exit(ino, gate) }
        let latest = try entry(ino)
        try onBackingFiles(latest) { fd throws(Errno) in
            let rc = withCPath(name) { n in bytes.withUnsafeBytes { estuary_fsetxattr(fd, n, $0.baseAddress, $0.count, 0) } }
            if rc != 0 { throw Errno.current }
        }
        let object = objectSilo(of: latest)
        // A bucket file's tag is committed before the answer with its journal line (see
        // setattrObject); other tags join the group commit.
        @Sendable func apply(_ tx: WriteTransaction) throws(IndexError) {
            try tx.setXattr(of: ino, name: name, value: bytes)
            if let object { try BucketAttributes.record(ino, silo: object, tx) }
        }
        do { if object != nil { try index.write(apply) } else { try index.change(apply) } }
        catch { throw indexFailure(error, "setxattr") }
        if let object { bucketAttributes.changed(ino, silo: object) }
        tagHooks.withLock { $0 }.forEach { $0() }
    }

    /// The bucket silo of a regular file whose data is an object; nil otherwise.
    private func objectSilo(of row: EntryRow) -> SiloID? {
        guard row.kind == .regular, let silo = silos[row.silo], silo.isObjectStore else { return nil }
        return silo.id
    }

    public func removexattr(_ ino: UInt64, name nameBuffer: UnsafeBufferPointer<UInt8>) throws(Errno) {
        let name = Array(nameBuffer)
        let row = try entry(ino)
        if name.starts(with: Namespace.reservedPrefix) && name != Array("user.estuary.pin".utf8)
            && name != Array("user.estuary.objective".utf8) { throw Errno.invalidArgument }
        guard name.starts(with: Sys.userPrefix) else { throw Errno.notSupported }
        let present: Bool
        do { present = try index.query { tx throws(IndexError) in try tx.xattr(of: ino, name: nameBuffer) } != nil }
        catch { throw indexFailure(error, "removexattr") }
        guard present else { throw Errno.noData }
        // The silo first, as setxattr does: if the backing file keeps the tag, so does the index,
        // and the caller hears why; the other way round a scan would bring the tag back.
        // Reserved names live in the index only.
        let reserved = name.starts(with: Namespace.reservedPrefix)
        let gate = reserved ? nil : moves.enter(ino)
        defer { if !reserved { moves.exit(ino, gate) } }
        let current = reserved ? row : try entry(ino)
        if !reserved {
            // EPERM on a regular file or directory is an immutable or append-only copy, which
            // keeps the tag: the removal fails as it would on that file system.
            try onBackingFiles(current, refusalIsError: true) { fd throws(Errno) in
                if withCPath(name, { estuary_fremovexattr(fd, $0) }) != 0 && Errno.current != .noData { throw Errno.current }
            }
        }
        let object = reserved ? nil : objectSilo(of: current)
        @Sendable func apply(_ tx: WriteTransaction) throws(IndexError) {
            _ = try tx.deleteXattr(of: ino, name: name)
            if let object { try BucketAttributes.record(ino, silo: object, tx) }
        }
        do { if object != nil { try index.write(apply) } else { try index.change(apply) } }
        catch { throw indexFailure(error, "removexattr") }
        if let object { bucketAttributes.changed(ino, silo: object) }
        if name == Array("user.estuary.objective".utf8) { _ = directoryObjectives.withLock { $0.removeValue(forKey: ino) } }
        tagHooks.withLock { $0 }.forEach { $0() }
    }

    /// `user.estuary.pin` is the one writable reserved name: a tier the file must live on. Others
    /// are computed and refused with EINVAL, logged.
    private func setReserved(_ row: EntryRow, key: String, name: [UInt8], value: [UInt8]) throws(Errno) {
        if key == "objective" { return try setObjective(row, name: name, value: value) }
        guard key == "pin" else {
            logger.notice("refused to set reserved attribute user.estuary.\(key) on inode \(row.ino)")
            throw Errno.invalidArgument
        }
        let tier = String(decoding: value, as: UTF8.self)
        guard silos.all.contains(where: { $0.tier == tier }) else {
            logger.notice("refused pin of inode \(row.ino) to unknown tier '\(tier)'")
            throw Errno.invalidArgument
        }
        do { try index.write { tx throws(IndexError) in try tx.setXattr(of: row.ino, name: name, value: value) } }
        catch { throw indexFailure(error, "pin") }
        for hook in pinHooks.withLock({ $0 }) { hook(row, tier) }
    }

    /// `user.estuary.objective` on a directory: `place TIER [where EXPR]`, checked before it is kept.
    private func setObjective(_ row: EntryRow, name: [UInt8], value: [UInt8]) throws(Errno) {
        guard row.kind == .directory else { throw Errno.invalidArgument }
        let text = String(decoding: value, as: UTF8.self)
        if let validate = objectiveValidator.withLock({ $0.function }), let problem = validate(text) {
            logger.notice("refused objective on inode \(row.ino): \(problem)")
            throw Errno.invalidArgument
        }
        do { try index.write { tx throws(IndexError) in try tx.setXattr(of: row.ino, name: name, value: value) } }
        catch { throw indexFailure(error, "objective") }
        directoryObjectives.withLock { $0[row.ino] = text }
        tagHooks.withLock { $0 }.forEach { $0() }
    }

    public func setObjectiveValidator(_ validate: @escaping @Sendable (String) -> String?) { objectiveValidator.withLock { $0.function = validate } }
    public func onTagChange(_ hook: @escaping @Sendable () -> Void) { tagHooks.withLock { $0.append(hook) } }
    public func setCreationTier(_ hook: @escaping @Sendable (String, String, UInt32, UInt32, [(String, String)]) -> String?) {
        creationTier.withLock { $0.function = hook }
    }

    /// Whether pool rules or watermarks exist, so the creation-tier hook matters for every file.
    public func consultCreationTierForEveryFile(_ always: Bool) { creationTier.withLock { $0.always = always } }

    /// Loads the directory objectives kept in the index.
    public func loadDirectoryObjectives() {
        let rows = (try? index.query { tx throws(IndexError) in try tx.xattrValues(named: Array("user.estuary.objective".utf8)) }) ?? [:]
        directoryObjectives.withLock { table in for (ino, value) in rows { table[ino] = String(decoding: value, as: UTF8.self) } }
    }

    public func addPinHook(_ hook: @escaping @Sendable (EntryRow, String) -> Void) { pinHooks.withLock { $0.append(hook) } }

    /// Runs `body` on the backing file (every copy of a directory). A file system without user
    /// xattrs is fine (the index holds the tag); a full one is an error, as on ext4.
    private func onBackingFiles(_ row: EntryRow, refusalIsError: Bool = false, _ body: (Int32) throws(Errno) -> Void) throws(Errno) {
        let path = try relativePath(of: row)
        let targets: [Silo] = row.kind == .directory
            ? (0..<64).filter { row.dirSilos & (1 << UInt64($0)) != 0 }.compactMap { silos[$0] }.filter(\.isOnline)
            : objectSilo(of: row) != nil ? [] : [try silo(of: row)]
        // A bucket has no file to carry the tag: the index holds it and the object's metadata
        // gets it by the write-back.
        for silo in targets where !silo.readOnly && !silo.isObjectStore {
            let flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | (row.kind == .directory ? O_DIRECTORY : 0)
            let fd = try silo.open(path, flags: flags)
            defer { Sys.close(fd) }
            do { try body(fd) } catch {
                if error == .notSupported || error == .notSupportedOnSocket || (error == .notPermitted && !refusalIsError) { continue }
                throw error
            }
        }
    }
}
