import ArgumentParser
import ConvexForgetting
import Foundation

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run an experiment's grid (YAML or JSON) on all cores; CSV out.",
        discussion: """
        Writes DIR/experiment.json, DIR/parts/ (one whole file per finished run), DIR/trajectories.csv \
        (run_id + the train columns) and DIR/summary.csv (one row per run). DIR is locked while the sweep \
        runs (a second sweep or merge into it fails at once) and must be new, empty or a sweep's. \
        Interrupted, it leaves whole files; --resume finishes the missing runs, and refuses when the \
        experiment or an instance file changed since the sweep began. --shard I/N runs the runs whose index is I mod N; \
        `forgetting merge` combines shard directories. See Experiments/*.yaml for the format.
        """)

    @Argument(help: "The experiment file (YAML or JSON).")
    var experiment: String

    @Option(help: ArgumentHelp("Output directory.", valueName: "dir"))
    var out: String

    @Option(parsing: .unconditional, help: "Threads (default: all cores). Results do not depend on it.")
    var threads: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("Run only the runs whose grid index is I modulo N.", valueName: "I/N"))
    var shard: String?

    @Option(parsing: .unconditional, help: "Refuse experiments of more runs (counted before the grid is built).")
    var maxRuns = Limits.defaultMaxRuns

    @OptionGroup var memory: MemoryOption

    @Option(parsing: .unconditional, help: ArgumentHelp("MiB of trajectories the sweep may write (estimated before any run).", valueName: "MiB"))
    var maxOutput = Limits.defaultMaxOutput >> 20

    @Flag(help: "Finish an interrupted sweep in DIR (same experiment).")
    var resume = false

    @Flag(help: "Start over in a DIR that holds a sweep.")
    var force = false

    func parsedShard() throws -> (index: Int, count: Int)? {
        guard let shard else { return nil }
        let parts = shard.split(separator: "/").map { Int($0) }
        guard parts.count == 2, let i = parts[0], let n = parts[1], n >= 1, i >= 0, i < n else {
            throw ValidationError("--shard must be I/N with 0 <= I < N, got '\(shard)'")
        }
        return (i, n)
    }

    func validate() throws {
        _ = try parsedShard()
        if let threads, threads < 1 { throw ValidationError("--threads must be >= 1, got \(threads)") }
        if resume && force { throw ValidationError("--resume and --force exclude each other") }
        guard maxRuns >= 1 else { throw ValidationError("--max-runs must be >= 1, got \(maxRuns)") }
        guard maxOutput >= 1, maxOutput <= Int.max >> 20 else { throw ValidationError("--max-output must be in 1...\(Int.max >> 20) MiB, got \(maxOutput)") }
    }

    func run() throws {
        let spec: ExperimentSpec
        do { spec = try ExperimentSpec.load(path: experiment) } catch { throw CommandFailure(error.description) }
        LinearAlgebra.setThreadCount(1)
        let started = Date()
        do {
            var options = SweepRunner.Options(
                threads: threads ?? ProcessInfo.processInfo.activeProcessorCount, shard: try parsedShard(), resume: resume,
                force: force, version: toolkitVersion, gitCommit: gitCommit(), maxRuns: maxRuns)
            options.maxMemory = memory.bytes
            options.maxOutput = maxOutput << 20
            let runner = try SweepRunner(spec: spec, directory: out, options: options)
            let plan = try runner.prepare()
            let runs = plan.runs
            let total = runner.ownedRuns.count
            let progress = Progress(total: total, started: started)
            progress.show(done: total - runs.count)
            let diverged = try runner.run(plan) { done, total in progress.show(done: done) }
            progress.finish()
            let divergedNote = diverged > 0 ? ", \(diverged) diverged (status column)" : ""
            FileHandle.standardError.write(Data("sweep \(spec.name): \(total) runs (\(runs.count) run now\(divergedNote)) in \(String(format: "%.1f", Date().timeIntervalSince(started))) s; wrote \(out)/trajectories.csv and \(out)/summary.csv\n".utf8))
        } catch {
            throw CommandFailure(String(describing: error))
        }
    }
}

/// A progress bar on stderr when it is a terminal; nothing until the final line otherwise.
final class Progress: @unchecked Sendable {
    let total: Int
    let started: Date
    let terminal = isatty(STDERR_FILENO) == 1
    private let lock = NSLock()

    init(total: Int, started: Date) {
        self.total = total
        self.started = started
    }

    func show(done: Int) {
        guard terminal else { return }
        lock.lock()
        defer { lock.unlock() }
        let elapsed = Date().timeIntervalSince(started)
        let fraction = total == 0 ? 1 : Double(done) / Double(total)
        let width = 30
        let filled = Int(fraction * Double(width))
        let left = done > 0 ? elapsed / fraction - elapsed : .nan
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let eta = left.isFinite ? String(format: "%.0f s left", left) : "--"
        FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(total) runs, \(String(format: "%.0f", elapsed)) s, \(eta)   ".utf8))
    }

    func finish() {
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// The git commit of the repository holding this tool, when known.
func gitCommit() -> String? {
    guard let root = Plotting.repository() else { return nil }
    let (status, output) = Plotting.run("git", ["-C", root.path, "rev-parse", "HEAD"])
    let commit = output.trimmingCharacters(in: .whitespacesAndNewlines)
    return status == 0 && commit.count == 40 ? commit : nil
}

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Combine shard directories of one sweep into the CSVs an unsharded sweep writes.")

    @Argument(help: "Output directory.")
    var out: String

    @Argument(help: "Shard directories (from sweep --shard I/N).")
    var shards: [String]

    @Flag(help: "Overwrite an output directory that already holds a sweep or a merge.")
    var force = false

    func validate() throws {
        guard !shards.isEmpty else { throw ValidationError("give at least one shard directory") }
    }

    func run() throws {
        do {
            try SweepRunner.merge(output: out, shards: shards, version: toolkitVersion, force: force)
        } catch {
            throw CommandFailure(String(describing: error))
        }
        print("merged \(shards.count) shards into \(out)/trajectories.csv and \(out)/summary.csv")
    }
}
