/// One replaceable callback installed by a layer above the namespace.
///
/// Why a struct rather than `Mutex<(@Sendable (...) -> R)?>`: `Mutex.withLock` hands its value
/// over `inout` at the generic (maximally abstract) representation, so a bare optional closure
/// is re-abstracted on the way in and wrapped in one more thunk on the way back out, on every
/// access. The stored closure grew by two thunks per call: creates consulted the creation-tier
/// hook and got slower with every file created (1,261/s falling to 300/s within 10,000 creates,
/// and the daemon's memory grew with them). A struct's layout does not depend on abstraction,
/// so nothing is written back re-wrapped.
struct HookSlot<Function: Sendable>: Sendable {
    var function: Function?
    /// False when the hook can only decide from directory objectives: then it is skipped for
    /// files under no directory objective, which saves building paths on every create.
    var always = true
}
