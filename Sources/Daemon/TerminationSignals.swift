#if canImport(Glibc)
import Glibc
#endif

/// SIGINT, SIGTERM and SIGHUP must reach a FUSE loop thread, whose blocking read or wait they
/// interrupt so the loop sees the session has exited. Reaching any other thread (the control
/// socket, a scan) they would only set the flag and the loop would sleep on. So they stay
/// blocked while helper threads are created, which inherit that, and are unblocked just before
/// the loop starts its workers.
enum TerminationSignals {
    private static func set(_ numbers: [Int32]) -> sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        for n in numbers { sigaddset(&signals, n) }
        return signals
    }

    /// SIGHUP (reload) and SIGUSR2 (internal wake-up) stay blocked for good: one thread takes
    /// them with sigwait, so libfuse's handler never turns a reload into an exit.
    static func block() {
        var signals = set([SIGINT, SIGTERM, SIGHUP, SIGUSR2])
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }

    static func unblock() {
        var signals = set([SIGINT, SIGTERM])
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
    }
}
