import Foundation
import Synchronization

/// Moves a directory's files back and forth between two tiers with `estuary move --recursive`
/// until stopped, the way an administrator's objectives would while programs work on them.
final class MoveLoop: Sendable {
    private final class State: Sendable {
        let stopping = Atomic<Bool>(false)
        let rounds = Atomic<Int>(0)
        let finished = DispatchSemaphore(value: 0)
    }
    private let state = State()

    init(pool: TestPool, directory: String, tiers: [String] = ["bulk", "fast"], pause: useconds_t = 50_000) {
        let estuary = Shell.estuary
        let state = self.state
        Thread.detachNewThread {
            var turn = 0
            while !state.stopping.load(ordering: .relaxed) {
                // Fails while the directory does not exist yet, and for files that cannot move
                // (hard links); the loop only has to keep moves running.
                _ = try? Shell.run(estuary, ["move", "--recursive", directory, "--to", tiers[turn % tiers.count]], timeout: 60)
                state.rounds.wrappingAdd(1, ordering: .relaxed)
                turn += 1
                usleep(pause)
            }
            state.finished.signal()
        }
        _ = pool
    }

    /// Stops asking for moves and returns how many rounds were asked for.
    @discardableResult
    func stop() -> Int {
        state.stopping.store(true, ordering: .relaxed)
        state.finished.wait()
        return state.rounds.load(ordering: .relaxed)
    }
}

extension TestPool {
    /// Jobs that finished moving a file, from the daemon's job list.
    func completedMoves() throws -> Int {
        let out = try estuary(["jobs", "list", mountpoint, "--all", "--json"])
        let jobs = (try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [[String: Any]]) ?? []
        return jobs.filter { ($0["state"] as? String) == "done" }.count
    }
}
