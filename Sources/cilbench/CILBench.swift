// The cilbench command line: one subcommand per user task, each in its own file.
import ArgumentParser

struct CILBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cilbench",
        abstract: "Class-incremental learning benchmarks, reproducible and checkable.",
        version: "\(BuildInfo.version) (\(BuildInfo.gitRevision))",
        subcommands: [RunCommand.self, ShowCommand.self, TableCommand.self, DiffCommand.self, PolicyCommand.self, ProtocolsCommand.self,
                      BenchCommand.self, DataCommand.self, TrainDigestCommand.self, ReplayCommand.self, ReplayKernelCommand.self,
                      GridCommand.self])
}

@main
enum Entry {
    static func main() {
        ProcessSetup.ensureOpenMPWaitPolicy()
        CILBench.main()
    }
}
