import ArgumentParser

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a bridge between interfaces (foreground).")
    @Option(name: .long, help: "Bridge name (control socket /run/swbridge/NAME.sock).")
    var name: String = "br0"
    func run() throws {
        throw ValidationError("not wired yet")
    }
}
