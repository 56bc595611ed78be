import Index

extension Namespace {
    /// Another daemon mounting the same pool (a shared index) committed `change`: what this one
    /// holds of it, in its node and listing caches and in the kernel's, is dropped or read
    /// again, so the change shows through this mount as soon as the notification arrives,
    /// while names and attributes nobody changed stay cached as long as ever.
    ///
    /// Runs on the index listener's thread.
    public func changedElsewhere(_ change: RemoteChange) {
        if change.everything {
            // Notifications were missed: every listing may be stale, every held node too.
            for ino in nodes.knownInodes { listings.drop(ino) }
            reloadFromIndex()
            return
        }
        var changes: [CachedChange] = []
        var gone: [UInt64] = []
        var parents = Set<UInt64>()
        for (parent, name) in change.names {
            listings.drop(parent)
            changes.append(.name(parent: parent, name: name))
            parents.insert(parent)
        }
        // The kernel's cached listing of each directory whose names changed goes too: the
        // directory's times need not have changed (two changes in one clock tick), and its
        // attributes dropped alone leave the cached readdir pages (TwoNodeRaceTests, link
        // against unlink).
        for parent in parents { changes.append(.contents(parent)) }
        let held = change.inodes.filter { nodes.holds($0) }
        if !held.isEmpty {
            // Read and put in the node table under the writer lock: a change this mount makes
            // meanwhile then comes wholly before (and is read) or wholly after (and replaces
            // the node itself). Read on a reader session, a chmod here still in its batch was
            // missed and the row from before it put back (TwoNodeAttributeRaceTests).
            let replaced: [(ino: UInt64, old: EntryRow?, row: EntryRow?)]
            do {
                replaced = try index.readAtWriter { tx throws(IndexError) -> [(ino: UInt64, old: EntryRow?, row: EntryRow?)] in
                    var replaced: [(ino: UInt64, old: EntryRow?, row: EntryRow?)] = []
                    for ino in held {
                        let row = try tx.entry(ino)
                        let old = nodes.row(ino)
                        if let row { nodes.refresh(row, keepingWritesOf: dirty) }
                        replaced.append((ino, old, row))
                    }
                    return replaced
                }
            } catch {
                logger.error("could not read the rows another node changed: \(error)")
                return
            }
            for (ino, old, row) in replaced {
                guard let row else {
                    // Gone: its name goes from the kernel, and the node's next use reads the index.
                    if let old {
                        listings.drop(old.parent)
                        changes.append(.name(parent: old.parent, name: old.name))
                    }
                    gone.append(ino)
                    changes.append(.attributes(ino))
                    continue
                }
                guard let old else { continue }
                if old.parent != row.parent || old.name != row.name {
                    listings.drop(old.parent)
                    listings.drop(row.parent)
                    changes.append(.name(parent: old.parent, name: old.name))
                }
                changes.append(Namespace.scannedChange(from: old, to: row) ?? .attributes(ino))
            }
        }
        report(changes)
        // After the report, which passes on only what the kernel holds (a known node).
        for ino in gone { nodes.drop(ino) }
    }
}
