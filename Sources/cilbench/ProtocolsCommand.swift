// `cilbench protocols`: what can be run, and exactly what a protocol resolves to.
import ArgumentParser
import CILHarness

struct ProtocolsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "protocols",
        abstract: "List protocols or show one resolved.",
        subcommands: [List.self, Show.self],
        defaultSubcommand: List.self)

    struct Options: ParsableArguments {
        @Option(help: "Folder of protocol files (default: $CILBENCH_PROTOCOLS, ./protocols, or the package's protocols/).")
        var protocols: String?
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the protocols with their fingerprints.")
        @OptionGroup var options: Options

        func run() throws {
            let library = ProtocolLibrary.locate(explicit: options.protocols)
            do {
                for name in try library.names() {
                    let p = try library.load(name)
                    print("\(name.padding(toLength: 32, withPad: " ", startingAt: 0)) \(p.fingerprint.prefix(12))  \(p.summary)")
                }
            } catch {
                throw failure(error.description)
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a protocol resolved: phase splits, class order, canonical settings, fingerprint.")
        @OptionGroup var options: Options

        @Argument(help: "A protocol name or a path to a protocol file.")
        var name: String

        @Option(name: .customLong("set"), help: "Override a field, as path=value (repeatable), e.g. training.epochs=3.")
        var overrides: [String] = []

        func run() throws {
            let p: CILProtocol
            do { p = try ProtocolLibrary.locate(explicit: options.protocols).load(name, overrides: overrides) } catch { throw failure(error.description) }
            print(ProtocolDescription.text(p), terminator: "")
        }
    }
}
