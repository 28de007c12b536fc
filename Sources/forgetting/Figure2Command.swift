import ArgumentParser
import ConvexForgetting
import Foundation

struct Figure2Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "figure2",
        abstract: "Reproduce the paper's toy Figure 2: Sequential vs ALRIGHT vs MAXRIGHT on a 2-parameter instance.",
        discussion: """
        Paper settings (Appendix D.1): rate 0.01; Sequential DPO then SFT, up to 10,000 steps per phase, \
        threshold 0.05; ALRIGHT and MAXRIGHT 20,000 steps. The instance is \
        Experiments/instances/figure2.json (found from any working directory; --instance names another \
        2-parameter instance). Writes DIR/trajectories.csv, landscape.csv, pareto.csv, summary.csv (the \
        sweep's run-summary schema, one row per method), manifest.json, and figure2.png and figure2.pdf when \
        Python with matplotlib is found (Plots/figure2.py; `bash .ci/setup --plots` makes one in .venv).
        """)

    @Option(help: ArgumentHelp("Output directory (created if missing).", valueName: "dir"))
    var out = "out/figure2"

    @Option(help: ArgumentHelp("A 2-parameter instance (default: the repository's \(Figure2.instancePath)).", valueName: "path"))
    var instance: String?

    @Option(parsing: .unconditional, help: "Trade-off lambda in [0, 1].")
    var lambda = 0.5

    @Option(parsing: .unconditional, help: "Seed of ALRIGHT's coin flips.")
    var seed: UInt64 = 0

    @Option(help: "Rows to record: all, log, every:N or final.", transform: parseRecordMode)
    var record = RecordMode.all

    @OptionGroup var memory: MemoryOption

    @Flag(help: "Overwrite existing output files.")
    var force = false

    @Flag(help: "Write the CSVs only; do not run the plotting script.")
    var noPlot = false

    static let files = ["trajectories.csv", "landscape.csv", "pareto.csv", "summary.csv", "manifest.json"]

    func validate() throws {
        try checkLambda(lambda)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw ValidationError("--out: \(out) exists and is not a directory") }
            try checkOutputs()
        }
    }

    /// Fails unless every output can be written (no file there without --force).
    func checkOutputs() throws {
        for name in Self.files + ["figure2.png", "figure2.pdf"] {
            try checkOutput(path(name), force: force, flag: "--out")
        }
    }

    /// Creates DIR if needed (after validation, before the work) and checks the outputs again.
    func prepareDirectory() throws {
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        } catch {
            throw CommandFailure("--out: cannot create directory \(out)")
        }
        try checkOutputs()
    }

    func path(_ name: String) -> String { (out as NSString).appendingPathComponent(name) }

    func run() throws {
        let started = Date()
        let instancePath = instance ?? repositoryFile(Figure2.instancePath)
        let problem = try loadProblem(instancePath)
        guard problem.dimension == 2 else {
            throw CommandFailure("--instance: \(instancePath) has dimension \(problem.dimension); Figure 2 draws 2 parameters")
        }
        try prepareDirectory()
        let optima = try solveOptima(problem, lambda: lambda, instance: instancePath, solver: memory.solver)
        let trainer = Trainer(problem: problem, optima: optima)
        let trajectoryTable = RunTable.trajectory(dimension: 2)
        var trajectories: [[String]] = []
        var summary: [[String]] = []
        var points: [[Double]] = [optima.dpo.theta, optima.sft.theta, optima.mix.theta, optima.maxGap.theta]
        var results: [(RunSpec, RunResult)] = []
        let shownInstance = instance ?? Figure2.instancePath
        for (id, spec) in Figure2.runs(lambda: lambda, seed: seed, record: record).enumerated() {
            let runStarted = Date()
            let labels = RunTable.Labels(spec)
            let result = trainer.run(spec) { row in
                trajectories.append(RunTable.trajectoryFields(labels, row, dimension: 2))
                points.append(row.theta)
            }
            summary.append(RunTable.summaryFields(runID: id, instance: shownInstance, instanceName: problem.instance.name,
                                                  spec: spec, result: result, dimension: 2,
                                                  seconds: Date().timeIntervalSince(runStarted)))
            results.append((spec, result))
        }
        let landscape: Landscape
        let pareto: ParetoFront
        do {
            landscape = try Landscape(problem: problem, covering: points)
            pareto = try ParetoFront(problem: problem, solver: memory.solver)
        } catch {
            throw CommandFailure("\(instancePath): \(error)")
        }
        let manifest = JSON.object([
            ("command", "\"forgetting figure2\""), ("version", "\"\(toolkitVersion)\""),
            ("lambda", JSON.number(lambda)), ("seed", "\(seed)"), ("record", "\"\(record)\""),
            ("learningRate", JSON.number(Figure2.learningRate)), ("sequentialPhaseSteps", "\(Figure2.sequentialPhaseSteps)"),
            ("threshold", JSON.number(Figure2.threshold)), ("jointSteps", "\(Figure2.jointSteps)"),
            ("thetaRef", JSON.vector(problem.thetaRef)), ("instance", JSON.string(shownInstance)),
            ("maxOptimum", JSON.object([
                ("value", JSON.number(optima.maxGap.value)), ("theta", JSON.vector(optima.maxGap.theta)),
                ("weight", JSON.number(optima.maxGap.weight)), ("attained", "\(optima.maxGap.attained)"),
            ])),
        ]) + "\n"
        try writeTable(trajectoryTable, trajectories, to: path("trajectories.csv"))
        try writeTable(Landscape.table, landscape.rows, to: path("landscape.csv"))
        try writeTable(ParetoFront.table(dimension: 2), pareto.rows, to: path("pareto.csv"))
        try writeTable(RunTable.summary(dimension: 2), summary, to: path("summary.csv"))
        try writeOutput(manifest, to: path("manifest.json"))
        let solved = Date().timeIntervalSince(started)

        print("Figure 2 (lambda = \(lambda)): f*_DPO = \(fmt(optima.dpo.value)), f*_SFT = \(fmt(optima.sft.value)), f*_mix = \(fmt(optima.mix.value)), min of MAXRIGHT's target max{lambda gap_DPO, (1 - lambda) gap_SFT} = \(fmt(optima.maxGap.value)) at w = \(fmt(optima.maxGap.weight))\n")
        let rows = results.map { spec, result in
            [spec.method.name.rawValue, "\(result.steps)", fmt(result.final.fDPO), fmt(result.final.fSFT), fmt(result.final.gapDPO),
             fmt(result.final.gapSFT), fmt(result.final.gapMix), fmt(result.final.gapMax), fmt(result.final.idealDistance),
             "\(result.gradEvals)", "\(result.lossEvals)"]
        }
        print(formatTable(["method", "steps", "f_dpo", "f_sft", "gap_dpo", "gap_sft", "gap_mix", "gap_max", "ideal_distance",
                           "grad_evals", "loss_evals"], rows))
        let sequential = results[0].1.final.idealDistance
        let best = max(results[1].1.final.idealDistance, results[2].1.final.idealDistance)
        print("\nSequential's ideal distance is \(String(format: "%.1f", sequential / best))x the larger of ALRIGHT's and MAXRIGHT's.")
        print("Solver and CSVs: \(String(format: "%.3f", solved)) s. Wrote \(Self.files.map(path).joined(separator: ", ")).")

        guard !noPlot else { return }
        let repository = Plotting.repository()
        guard let script = repository?.appendingPathComponent("Plots/figure2.py").path,
              FileManager.default.fileExists(atPath: script) else {
            print("Plots/figure2.py not found (run from the repository); the CSVs are written.")
            return
        }
        guard let python = Plotting.python(repository: repository) else {
            print("""
            No Python with matplotlib found, so no figure2.png/pdf; the CSVs are written. To draw it: \
            `bash .ci/setup --plots` (a .venv with matplotlib), or `python3 -m pip install matplotlib`, then \
            `python3 Plots/figure2.py \(out)`.
            """)
            return
        }
        let (status, output) = Plotting.run(python, [script, out])
        guard status == 0 else {
            throw CommandFailure("Plots/figure2.py failed (status \(status)): \(output.split(separator: "\n").last ?? "")")
        }
        print("Drew \(path("figure2.png")) and \(path("figure2.pdf")).")
    }
}
