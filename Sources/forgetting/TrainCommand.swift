import ArgumentParser
import ConvexForgetting
import Foundation

/// The options that define a run (shared by `train` and, later, other commands).
struct RunOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Method: \(Method.names).", valueName: "method"))
    var method: String

    @Option(parsing: .unconditional, help: "Trade-off lambda in [0, 1] (weight of DPO) for Mix, ALRIGHT, MAXRIGHT and every gap_mix.")
    var lambda: Double

    @Option(help: "Updates (Mix, ALRIGHT, MAXRIGHT); Sequential's phase length when --dpo-steps/--sft-steps are not given.")
    var steps: Int

    @Option(name: .customLong("learning-rate"), parsing: .unconditional, help: "Step size alpha (constant) or alpha0 (inverse-sqrt).")
    var learningRate: Double

    @Option(help: "Step-size schedule: constant or inverse-sqrt (alpha0 / sqrt(t)).")
    var schedule = "constant"

    @Option(help: "Seed of ALRIGHT's coin flips and of batch sampling.")
    var seed: UInt64 = 0

    @Option(help: "Sequential: steps of the DPO phase (default --steps).")
    var dpoSteps: Int?

    @Option(help: "Sequential: steps of the SFT phase (default --steps).")
    var sftSteps: Int?

    @Option(parsing: .unconditional, help: "Sequential: end a phase once its objective is within this of its optimum.")
    var threshold: Double?

    @Option(help: "maxright-stale: evaluate both objectives every k steps.")
    var evalEvery = 1

    @Option(help: "Data sampled with replacement per gradient (default: full batch).")
    var batch: Int?

    @Option(help: "Rows to record: all, log (about 50 per decade), every:N or final (default: all up to 10,000 steps, else log).")
    var record: String?

    @Option(name: .customLong("init"), parsing: .unconditional, help: ArgumentHelp("Initial theta, comma-separated (default: the reference fit's init, else theta_ref).", valueName: "t1,t2,..."))
    var start: String?

    /// The run spec, every flag checked (the dimension is checked once the instance is loaded).
    func spec() throws -> RunSpec {
        guard let method = Method(rawValue: method) else {
            throw ValidationError("--method: unknown method '\(self.method)' (expected one of \(Method.names))")
        }
        let schedule: StepSchedule
        do {
            schedule = try StepSchedule(name: self.schedule, rate: learningRate)
        } catch {
            throw ValidationError(error.description.hasPrefix("unknown") ? "--schedule: \(error)" : "--learning-rate: \(error)")
        }
        var recordMode: RecordMode?
        if let record {
            do { recordMode = try RecordMode(parsing: record) } catch { throw ValidationError("--record: \(error)") }
        }
        let start = try self.start.map { try parseVector($0, flag: "--init") }
        if method != .maxrightStale, evalEvery != 1 {
            throw ValidationError("--eval-every applies to --method maxright-stale only")
        }
        if !method.isSequential, dpoSteps != nil || sftSteps != nil || threshold != nil {
            throw ValidationError("--dpo-steps, --sft-steps and --threshold apply to the sequential methods only")
        }
        let spec = RunSpec(method: method, lambda: lambda, steps: steps, dpoSteps: dpoSteps, sftSteps: sftSteps,
                           threshold: threshold, evalEvery: evalEvery, schedule: schedule, seed: seed, batch: batch,
                           record: recordMode, start: start)
        do {
            try spec.validate(dimension: start?.count ?? 1)
        } catch {
            throw ValidationError(error.description)
        }
        return spec
    }
}

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Run one method and write its trajectory as CSV.",
        discussion: """
        Columns: method,lambda,seed,step,objective,step_size,theta_0..theta_{d-1},f_dpo,f_sft,gap_dpo,gap_sft,\
        gap_mix,ideal_distance,grad_evals,loss_evals,f_mix. Row step = t holds the iterate after t updates; \
        objective and step_size are those of the update that produced it (init for step 0).
        """)

    @OptionGroup var instance: InstanceOption
    @OptionGroup var options: RunOptions

    @Option(help: ArgumentHelp("Output CSV file.", valueName: "file.csv"))
    var out: String

    @Flag(help: "Overwrite an existing output file.")
    var force = false

    func validate() throws {
        _ = try options.spec()
        try checkOutput(out, force: force, flag: "--out")
    }

    func run() throws {
        let problem = try instance.load()
        let spec = try options.spec()
        do { try spec.validate(dimension: problem.dimension) } catch { throw ValidationError(error.description) }
        let optima = OptimalValues(problem: problem, lambda: spec.lambda)
        let file = try StreamingFile(path: out)
        file.write(RunCSV.trajectoryHeader(dimension: problem.dimension))
        var rows = 0
        let result = Trainer(problem: problem, optima: optima).run(spec) { row in
            file.write(RunCSV.trajectoryLine(spec, row))
            rows += 1
        }
        try file.commit()
        let f = result.final
        print("wrote \(out): \(rows) rows, \(result.steps) steps of \(spec.method.rawValue)")
        print("final: f_dpo \(fmt(f.fDPO)), f_sft \(fmt(f.fSFT)), gap_mix \(fmt(f.gapMix)), ideal distance \(fmt(f.idealDistance)), \(result.gradEvals) gradient and \(result.lossEvals) loss evaluations")
    }
}
