import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's open-descriptor limit, raised at startup. Every open handle through the mount
/// holds a descriptor on its silo file, and a tier move's switch opens the copy for each of them
/// before it lets the old ones go, so a busy file needs twice its handles for a moment. The soft
/// limit a shell or a test harness passes on (often 1,024) made a switch fail with EMFILE under
/// 1,500 open handles. Root may also raise the hard limit, up to the kernel's `fs.nr_open`.
enum DescriptorLimit {
    static let wanted: rlim_t = 1 << 20

    static func raise(logger: Logger) {
        var current = rlimit()
        guard getrlimit(resource, &current) == 0 else { return }
        let ceiling = min(wanted, kernelCeiling() ?? wanted)
        var raised = rlimit(rlim_cur: max(current.rlim_cur, ceiling), rlim_max: max(current.rlim_max, ceiling))
        if setrlimit(resource, &raised) != 0 {
            // Not privileged: the soft limit may still go up to the hard one.
            raised = rlimit(rlim_cur: current.rlim_max, rlim_max: current.rlim_max)
            if setrlimit(resource, &raised) != 0 { raised = current }
        }
        logger.debug("open descriptor limit \(raised.rlim_cur) (was \(current.rlim_cur))")
    }

    private static var resource: __rlimit_resource_t { __rlimit_resource_t(RLIMIT_NOFILE.rawValue) }

    private static func kernelCeiling() -> rlim_t? {
        let fd = open("/proc/sys/fs/nr_open", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 31) }
        guard n > 0 else { return nil }
        let digits = buffer.prefix(n).prefix { $0 >= 48 && $0 <= 57 }
        return rlim_t(String(decoding: digits, as: UTF8.self))
    }
}
