#if canImport(Glibc)
import Glibc
#endif

/// SIGINT, SIGTERM and SIGHUP must reach a FUSE loop thread, whose blocking read or wait they
/// interrupt so the loop sees the session has exited. Reaching any other thread (the control
/// socket, a scan) they would only set the flag and the loop would sleep on. So they stay
/// blocked while helper threads are created, which inherit that, and are unblocked just before
/// the loop starts its workers.
enum TerminationSignals {
    private static func set() -> sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGHUP)
        return signals
    }

    static func block() {
        var signals = set()
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }

    static func unblock() {
        var signals = set()
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
    }
}
