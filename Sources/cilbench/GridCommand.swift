// `cilbench grid`: a grid of runs (protocols × methods × AANets × seeds) planned, estimated,
// run on a local worker pool or as Slurm job arrays, watched and tabulated, from one file.
import ArgumentParser
import CILHarness
import Foundation

struct GridCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grid",
        abstract: "Run a grid of cells (protocols × methods × AANets × seeds) locally or on Slurm.",
        discussion: "Grid files live in protocols/grids/ (fields: protocols/README.md, \"Grid files\"). Every cell runs through the same path as `cilbench run` and writes the same bundle path; a cell whose bundle exists is done.",
        subcommands: [GridPlanCommand.self, GridRunCommand.self, GridSlurmCommand.self, GridCellCommand.self, GridStatusCommand.self, GridTableCommand.self])
}

/// What every grid subcommand takes: the grid and where its cells read and write.
struct GridOptions: ParsableArguments {
    @Argument(help: "A grid file, or a name under protocols/grids/.") var grid: String
    @Option(help: "Folder holding the dataset (default: Debian's Fashion-MNIST; required for CIFAR and ImageNet).") var dataRoot: String?
    @Option(help: "Protocol folder (default: protocols/ beside the package).") var protocols: String?
    @Option(help: "Folder the bundles go into, as `cilbench run --out`.") var out = "runs"
    @Option(help: "Threads per cell (results depend on it; it is recorded).") var threads = 2

    var library: ProtocolLibrary { ProtocolLibrary.locate(explicit: protocols) }
    var outURL: URL { URL(fileURLWithPath: out).standardizedFileURL }

    /// The grid file: the path if it exists, else `<protocol folder>/grids/<name>.yaml`.
    func gridPath() throws -> String {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: grid, isDirectory: &isFolder), !isFolder.boolValue { return grid }
        let named = (library.directory as NSString).appendingPathComponent("grids/\(grid).yaml")
        if !grid.contains("/"), FileManager.default.fileExists(atPath: named) { return named }
        let known = ((try? FileManager.default.contentsOfDirectory(atPath: (library.directory as NSString).appendingPathComponent("grids"))) ?? [])
            .filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
        throw failure("\(grid): no such grid file (grids in \(library.directory)/grids: \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
    }

    /// The expanded, checked grid; any problem is one line and exit 2.
    func plan() throws -> GridPlan {
        guard threads >= 1, threads <= 4096 else { throw failure("--threads must be from 1 to 4096, not \(threads)") }
        let path = try gridPath()
        do {
            let file = try GridFile.load(file: path)
            return try GridPlan(grid: file, library: library, dataRoot: dataRoot, threads: threads, build: GridBuild.key)
        } catch {
            throw failure(error.description)
        }
    }

    /// Absolute form of a path, for scripts that run elsewhere.
    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}

/// Estimates of every cell, calibrated by the measured times of finished cells.
struct GridCosts {
    let plan: GridPlan
    let states: [GridCellState]
    /// Model seconds per cell and phase with T threads, every phase.
    let model: [GridEstimate.CellEstimate]?
    /// measured / model over the finished cells, 1 when none has finished.
    let calibration: Double
    let calibratedBy: Int

    init(plan: GridPlan, out: URL, throughput: GridEstimate.Throughput?) {
        self.plan = plan
        states = plan.cells.map { GridStatus.state(of: $0, out: out) }
        guard let throughput else { model = nil; calibration = 1; calibratedBy = 0; return }
        let estimator = GridEstimate(throughput: throughput)
        let model = plan.cells.map { estimator.estimate($0) }
        self.model = model
        var measured = 0.0, modelled = 0.0, count = 0
        for i in states.indices {
            if let seconds = Self.measuredSeconds(states[i], firstPhase: Self.firstOwnPhase(plan, i)) {
                measured += seconds
                modelled += model[i].phaseSeconds.dropFirst(Self.firstOwnPhase(plan, i)).reduce(0, +)
                count += 1
            }
        }
        calibration = count > 0 && modelled > 0 ? measured / modelled : 1
        calibratedBy = count
    }

    /// A cell that shares its phase 0 starts from the cache: its own work is phases 1…N.
    static func firstOwnPhase(_ plan: GridPlan, _ i: Int) -> Int { plan.producer(of: i) == nil ? 0 : 1 }

    /// Wall seconds a finished cell spent on its own phases.
    static func measuredSeconds(_ state: GridCellState, firstPhase: Int) -> Double? {
        guard case .done(let phases, _) = state else { return nil }
        return phases.dropFirst(firstPhase).reduce(0, +)
    }

    /// Model wall seconds of a cell's own phases, calibrated.
    func seconds(_ i: Int, fromPhase phase: Int = 0) -> Double? {
        model.map { $0[i].phaseSeconds.dropFirst(max(phase, Self.firstOwnPhase(plan, i))).reduce(0, +) * calibration }
    }

    /// Calibrated CPU-hours a cell is expected to take.
    func cpuHours(_ i: Int) -> Double? { seconds(i).map { $0 * Double(model![i].threads) / 3600 } }

    /// The model's CPU-hours for a cell before calibration (what the plan shows beside the
    /// measured value).
    func modelCPUHours(_ i: Int) -> Double? { cpuHours(i).map { $0 / calibration } }

    /// Measured CPU-hours of a done cell (its own phases).
    func measuredCPUHours(_ i: Int) -> Double? {
        guard case .done(_, let threads) = states[i], let s = Self.measuredSeconds(states[i], firstPhase: Self.firstOwnPhase(plan, i)) else { return nil }
        return s * Double(threads) / 3600
    }

    /// CPU-hours still to spend: the calibrated estimate of every cell not done, less the
    /// phases running and interrupted cells have finished.
    var cpuHoursLeft: Double? {
        guard let model else {
            return states.allSatisfy { if case .done = $0 { return true } else { return false } } ? 0 : nil
        }
        var left = 0.0
        for (i, state) in states.enumerated() {
            let perSecond = Double(model[i].threads) / 3600
            switch state {
            case .done: continue
            case .running(let s): left += (seconds(i, fromPhase: s.phase) ?? 0) * perSecond
            case .interrupted(let finished, _, _): left += (seconds(i, fromPhase: finished) ?? 0) * perSecond
            default: left += (seconds(i) ?? 0) * perSecond
            }
        }
        return left
    }

    var cpuHoursSpent: Double {
        states.indices.map { measuredCPUHours($0) ?? GridStatus.cpuHoursSpent(states[$0]) }.reduce(0, +)
    }
}

/// The build string the phase-0 cache is keyed by (`cilbench run` uses the same).
enum GridBuild {
    static var key: String { BuildInfo.identity.cacheKey }
}

/// "1 thread", "2 threads".
func threadCount(_ n: Int) -> String { counted(n, "thread") }

/// "1 seed", "3 seeds": a count with its noun in the right number.
func counted(_ n: Int, _ singular: String, _ plural: String? = nil) -> String {
    "\(n) " + (n == 1 ? singular : plural ?? singular + "s")
}

func hours(_ h: Double?) -> String {
    guard let h else { return "?" }
    return h >= 10 ? String(format: "%.0f", h) : h >= 0.1 ? String(format: "%.2f", h) : String(format: "%.4f", h)
}

// MARK: plan

struct GridPlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Expand and check a grid, show which cells share a phase 0, and estimate CPU-hours per cell and in total.")

    @OptionGroup var options: GridOptions
    @Flag(help: "Do not measure this machine's throughput when none is cached (no estimate then).") var noBench = false

    func run() throws {
        let plan = try options.plan()
        let throughput: GridEstimate.Throughput?
        do { throughput = try GridEstimate.Throughput.cached(threads: options.threads, measureIfMissing: !noBench) } catch {
            throw failure("cannot measure this machine's throughput: \(error)")
        }
        let costs = GridCosts(plan: plan, out: options.outURL, throughput: throughput)
        let grid = plan.grid
        print("grid \(grid.name) (\(grid.sourcePath)): \(counted(plan.cells.count, "cell")) = \(counted(grid.protocols.count, "protocol")) × \(counted(grid.methods.count, "method")) × \(counted(grid.aanets.count, "AANets setting")) × \(counted(grid.seeds.count, "seed"))\(grid.exclusions.isEmpty ? "" : " less exclusions"); every cell checked")
        if let t = throughput {
            let rates = t.imagesPerSecond.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.0f", $0.value))" }.joined(separator: ", ")
            print("throughput, \(threadCount(t.threads)) (bench --quick, \(t.cpu), measured \(ISO8601DateFormatter().string(from: t.measuredAt))): \(rates) img/s")
        } else {
            print("no cached throughput for \(threadCount(options.threads)): no estimate (run without --no-bench to measure)")
        }
        if costs.calibratedBy > 0 {
            print("calibration: \(costs.calibratedBy) finished cells took \(String(format: "%.2f", costs.calibration))× their estimate; what is left is scaled by it")
        }
        print("")
        print("| # | cell | phase 0 | estimate CPU-h | measured CPU-h | state |")
        print("|---|---|---|---|---|---|")
        for cell in plan.cells {
            let phaseZero: String
            if let producer = plan.producer(of: cell.index) { phaseZero = "from cell \(producer)" } else if plan.producers.contains(cell.index) { phaseZero = "trains it for \(plan.sharedPhaseZero.first { $0.producer == cell.index }!.consumers.count) more" } else { phaseZero = "own" }
            let measured = costs.measuredCPUHours(cell.index).map { hours($0) } ?? "—"
            print("| \(cell.index) | \(cell.id) | \(phaseZero) | \(hours(costs.modelCPUHours(cell.index))) | \(measured) | \(costs.states[cell.index].label) |")
        }
        print("")
        for group in plan.sharedPhaseZero {
            print("shared phase 0: cell \(group.producer) trains it, \(group.consumers.count == 1 ? "cell" : "cells") \(group.consumers.map(String.init).joined(separator: ", ")) \(group.consumers.count == 1 ? "starts" : "start") from it")
        }
        let total = costs.model.map { _ in plan.cells.indices.compactMap { costs.modelCPUHours($0) }.reduce(0, +) }
        if let model = costs.model {
            let longest = plan.cells.indices.compactMap { costs.seconds($0) }.max() ?? 0
            let longestPhase = model.flatMap(\.phaseSeconds).max().map { $0 * costs.calibration } ?? 0
            print("total: \(hours(total)) CPU-hours estimated (\(threadCount(options.threads)) per cell)\(costs.calibratedBy > 0 ? ", \(hours(total.map { $0 * costs.calibration })) calibrated" : ""); longest cell \(hours(longest / 3600)) h wall, longest phase \(hours(longestPhase / 3600)) h; spent \(hours(costs.cpuHoursSpent)), left \(hours(costs.cpuHoursLeft))")
        }
    }
}

// MARK: cell

struct GridCellCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cell",
        abstract: "Run one cell of a grid (what each Slurm array task and each `grid run` worker calls); resumes an interrupted cell.")

    @OptionGroup var options: GridOptions
    @Option(help: "The cell's index (see `grid plan`).") var index: Int

    func run() throws {
        let plan = try options.plan()
        let cell: GridCell
        do { cell = try plan.cell(index) } catch { throw failure(error.description) }
        do {
            let bundle = try GridCellWorker.run(cell, out: options.outURL, threads: options.threads, dataRoot: options.dataRoot)
            print(bundle.path)
        } catch let error as ExitCode {
            throw error
        } catch {
            throw failure("cell \(index) (\(cell.id)): \(error)")
        }
    }
}

// MARK: status

struct GridStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Per cell: done, running (phase, epoch), interrupted, failed (last error) or pending, from the files under --out; totals with CPU-hours spent and left.")

    @OptionGroup var options: GridOptions

    func run() throws {
        let plan = try options.plan()
        let throughput = try? GridEstimate.Throughput.cached(threads: options.threads, measureIfMissing: false)
        let costs = GridCosts(plan: plan, out: options.outURL, throughput: throughput)
        var counts: [String: Int] = [:]
        for cell in plan.cells {
            let state = costs.states[cell.index]
            counts[state.label, default: 0] += 1
            print("\(cell.index)\t\(cell.id)\t\(GridStatus.describe(state))")
        }
        let order = ["done", "running", "interrupted", "failed", "pending", "bad bundle"]
        let summary = order.compactMap { label in counts[label].map { "\($0) \(label)" } }.joined(separator: ", ")
        print("\(plan.cells.count) cells: \(summary); CPU-hours spent \(hours(costs.cpuHoursSpent)), left \(costs.cpuHoursLeft == nil ? "unknown (run `grid plan` once to measure this machine)" : "\(hours(costs.cpuHoursLeft)) (estimate\(costs.calibratedBy > 0 ? ", calibrated by \(costs.calibratedBy) finished cells" : ""))")")
    }
}

// MARK: table

struct GridTableCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "table",
        abstract: "The average-incremental-accuracy table of the grid's finished cells (as `cilbench table`), with the missing cells listed.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case markdown, csv }

    @OptionGroup var options: GridOptions
    @Option(help: "markdown or csv.") var format: Format = .markdown
    @Option(help: "Which classifier's accuracy: cnn or nme.") var classifier: String = "cnn"
    @Flag(help: "Add the paper's Table 1 value and the difference.") var paper = false

    func run() throws {
        guard let which = AccuracyTable.Classifier(rawValue: classifier) else { throw failure("--classifier must be cnn or nme, not \(classifier)") }
        let plan = try options.plan()
        var results: [RunResult] = []
        var missing: [GridCell] = []
        for cell in plan.cells {
            let path = cell.bundleURL(out: options.outURL).path
            guard FileManager.default.fileExists(atPath: path) else { missing.append(cell); continue }
            do { results.append(try ResultBundle.read(path: path)) } catch { throw failure(error.description) }
        }
        guard !results.isEmpty else { throw failure("no cell of \(plan.grid.name) has finished under \(options.out) (see `cilbench grid status`)") }
        let table = AccuracyTable(results: results, classifier: which)
        print(format == .markdown ? table.markdown(paper: paper) : table.csv(paper: paper), terminator: "")
        if !missing.isEmpty {
            let note = "missing: \(missing.count) of \(plan.cells.count) cells not finished (means use the seeds present, n= says how many): " + missing.map(\.id).joined(separator: ", ")
            if format == .markdown { print("\n" + note) } else { FileHandle.standardError.write(Data((note + "\n").utf8)) }
        }
    }
}
