import Daemon

@main
struct Entrypoint {
    static func main() {
        exit(DaemonMain.run(Array(CommandLine.arguments.dropFirst())))
    }
}

#if canImport(Glibc)
import Glibc
#endif
