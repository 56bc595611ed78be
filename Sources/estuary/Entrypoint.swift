import AdminCLI

@main
struct Entrypoint {
    static func main() { EstuaryCommand.main() }
}
