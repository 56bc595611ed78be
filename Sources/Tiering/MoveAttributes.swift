import CShims
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Owner, mode, tags and times travel with a moved file, and are checked like its data: a move
/// must not change who may read a file or what it is tagged with.
extension MoveExecution {
    func copyAttributes(from sourceFD: Int32, to stagingFD: Int32) throws(MoveStop) {
        let stat: FileStat
        let tags: [(name: [UInt8], value: [UInt8])]
        do { stat = try Sys.fstat(sourceFD); tags = try Sys.userXattrs(fd: sourceFD) }
        catch { throw .failed("cannot read the source's attributes: \(error)") }
        // chown first: it clears setuid/setgid, which the mode then puts back.
        if fchown(stagingFD, stat.uid, stat.gid) != 0 { throw .failed("cannot set the copy's owner: \(Errno.current)") }
        if fchmod(stagingFD, mode_t(stat.mode & 0o7777)) != 0 { throw .failed("cannot set the copy's mode: \(Errno.current)") }
        var tagsSupported = true
        for tag in tags {
            let rc = withCPath(tag.name) { n in tag.value.withUnsafeBytes { estuary_fsetxattr(stagingFD, n, $0.baseAddress, $0.count, 0) } }
            if rc == 0 { continue }
            let e = Errno.current
            // A destination without user xattrs holds no tags at all; the index keeps them.
            if e == .notSupported { tagsSupported = false; break }
            throw .failed("cannot copy the tag \(String(decoding: tag.name, as: UTF8.self)): \(e)")
        }
        var times = [timespec(tv_sec: Int(stat.atimeNs / 1_000_000_000), tv_nsec: Int(stat.atimeNs % 1_000_000_000)),
                     timespec(tv_sec: Int(stat.mtimeNs / 1_000_000_000), tv_nsec: Int(stat.mtimeNs % 1_000_000_000))]
        if futimens(stagingFD, &times) != 0 { throw .failed("cannot set the copy's times: \(Errno.current)") }
        try verifyAttributes(stat, tagsSupported ? tags : nil, on: stagingFD)
    }

    /// The copy must show the source's owner, mode, modification time and (where the
    /// destination holds tags) exactly its tags.
    private func verifyAttributes(_ source: FileStat, _ tags: [(name: [UInt8], value: [UInt8])]?, on stagingFD: Int32) throws(MoveStop) {
        guard let copy = try? Sys.fstat(stagingFD) else { throw .failed("cannot stat the copy") }
        if copy.uid != source.uid || copy.gid != source.gid {
            throw .failed("the copy's owner \(copy.uid):\(copy.gid) differs from the source's \(source.uid):\(source.gid)")
        }
        if copy.mode & 0o7777 != source.mode & 0o7777 {
            throw .failed("the copy's mode \(String(copy.mode & 0o7777, radix: 8)) differs from the source's \(String(source.mode & 0o7777, radix: 8))")
        }
        if copy.mtimeNs != source.mtimeNs { throw .failed("the copy's modification time differs from the source's") }
        guard let tags else { return }
        let copied: [(name: [UInt8], value: [UInt8])]
        do { copied = try Sys.userXattrs(fd: stagingFD) } catch { throw .failed("cannot read the copy's tags: \(error)") }
        let want = Dictionary(tags.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        let have = Dictionary(copied.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        if want != have {
            let differing = Set(want.keys).symmetricDifference(have.keys).union(want.keys.filter { have[$0] != nil && have[$0] != want[$0] })
            throw .failed("the copy's tags differ from the source's: \(differing.map { String(decoding: $0, as: UTF8.self) }.sorted())")
        }
    }
}
