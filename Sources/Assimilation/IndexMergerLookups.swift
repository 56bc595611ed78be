import Index

extension IndexMerger {
    /// What the index holds under the names of `batch` in `directory`: first names, hard-link
    /// names and this silo's shadows. A complete listing (or a long partial one) reads the
    /// directory whole; a short partial one, as a live batch brings, looks up only its names,
    /// so that it costs what it names rather than what the directory holds. `whole` says
    /// which was done.
    func indexed(_ batch: DirectoryBatch, in directory: UInt64, _ tx: WriteTransaction) throws(IndexError)
        -> (rows: [[UInt8]: EntryRow], links: [[UInt8]: UInt64], shadows: [UInt64: ShadowRow], whole: Bool) {
        let s = batch.silo
        // A complete listing is compared with the whole directory, to find what went, unless
        // the index held nothing of this silo before the scan (see `startedEmpty`).
        guard !batch.complete || startedEmpty, batch.entries.count + batch.gone.count <= Self.namesLookedUpOneByOne else {
            return (try tx.reader.firstNames(in: directory), try tx.reader.linkNames(in: directory),
                    shadowsExist ? try tx.reader.shadows(in: directory, silo: s) : [:], true)
        }
        var rows: [[UInt8]: EntryRow] = [:], links: [[UInt8]: UInt64] = [:], shadows: [UInt64: ShadowRow] = [:]
        func lookUp(_ name: [UInt8]) throws(IndexError) {
            let first = try name.withUnsafeBufferPointer { n throws(IndexError) in try tx.reader.entry(parent: directory, name: n, links: false) }
            if let row = first {
                rows[name] = row
                if shadowsExist, let shadow = try tx.reader.shadows(of: row.ino).first(where: { $0.silo == s }) { shadows[row.ino] = shadow }
            } else if linksPossible, let row = try tx.reader.entry(parent: directory, name: name) {
                links[name] = row.ino   // found only through the links table: a hard link's second name
            }
        }
        for scanned in batch.entries { try lookUp(scanned.name) }
        for name in batch.gone { try lookUp(name) }
        return (rows, links, shadows, false)
    }
}
