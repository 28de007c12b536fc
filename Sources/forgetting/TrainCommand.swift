import ArgumentParser
import ConvexForgetting
import Foundation

/// The options that define a method and its run, but not its horizon, seed or recording: shared by `train`
/// (through `RunOptions`) and `exact`, which builds the horizon from its --horizons.
struct MethodOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The method.", valueName: "method"))
    var method: MethodName

    @Option(parsing: .unconditional, help: "Trade-off lambda in [0, 1] (weight of DPO) for Mix, ALRIGHT, MAXRIGHT and every gap_mix.")
    var lambda: Double

    @Option(name: .customLong("learning-rate"), parsing: .unconditional, help: "Step size alpha (constant) or alpha0 (inverse-sqrt).")
    var learningRate: Double

    @Option(help: "Step-size schedule (inverse-sqrt: alpha0 / sqrt(t)).")
    var schedule = ScheduleName.constant

    @Option(parsing: .unconditional, help: "Sequential: steps of the DPO phase (default: the horizon).")
    var dpoSteps: Int?

    @Option(parsing: .unconditional, help: "Sequential: steps of the SFT phase (default: the horizon).")
    var sftSteps: Int?

    @Option(parsing: .unconditional, help: "Sequential: end a phase once its objective is within this of its optimum.")
    var threshold: Double?

    @Option(help: "Sequential: the second phase continues the schedule's step index or restarts it at 1 (default continue).")
    var phaseSchedule: PhaseSchedule?

    @Option(parsing: .unconditional, help: "Data sampled with replacement per gradient (default: full batch).")
    var batch: Int?

    @Option(name: .customLong("init"), parsing: .unconditional, help: ArgumentHelp("Initial theta, comma-separated (default: the reference fit's init, else theta_ref).", valueName: "t1,t2,..."))
    var start: String?

    /// The run spec with horizon `steps`, every flag checked by the library (the dimension once the instance
    /// is loaded).
    func spec(steps: Int, seed: UInt64 = 0, evalEvery: Int? = nil, record: RecordMode? = nil, for problem: Problem? = nil) throws -> RunSpec {
        let start = try self.start.map { try parseVector($0, flag: "--init") }
        do {
            let spec = RunSpec(
                method: try Method.make(method, steps: steps, parameters: MethodParameters(
                    dpoSteps: dpoSteps, sftSteps: sftSteps, threshold: threshold, evalEvery: evalEvery,
                    phaseSchedule: phaseSchedule)),
                lambda: lambda, steps: steps, schedule: try StepSchedule(schedule, rate: learningRate), seed: seed,
                batch: batch, record: record, start: start)
            try spec.validate(dimension: problem?.dimension ?? start?.count ?? 1, featureBound: problem?.featureBound ?? 0,
                              beta: problem?.beta ?? 1)
            return spec
        } catch {
            throw flagError(error)
        }
    }
}

/// The options that define one run of `train`: the method's, and the horizon, seed and recording.
struct RunOptions: ParsableArguments {
    @OptionGroup var method: MethodOptions

    @Option(parsing: .unconditional, help: "Updates (Mix, ALRIGHT, MAXRIGHT); Sequential's phase length when --dpo-steps/--sft-steps are not given.")
    var steps: Int

    @Option(parsing: .unconditional, help: "Seed of ALRIGHT's coin flips and of batch sampling.")
    var seed: UInt64 = 0

    @Option(parsing: .unconditional, help: "maxright-stale: evaluate both objectives every k steps (default 1).")
    var evalEvery: Int?

    @Option(help: "Rows to record: all, log (about 50 per decade), every:N or final (default: all up to 10,000 steps, else log).",
            transform: parseRecordMode)
    var record: RecordMode?

    func spec(for problem: Problem? = nil) throws -> RunSpec {
        try method.spec(steps: steps, seed: seed, evalEvery: evalEvery, record: record, for: problem)
    }
}

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Run one method and write its trajectory as CSV.",
        discussion: """
        Columns: method,lambda,seed,step,objective,step_size,theta_0..theta_{d-1},f_dpo,f_sft,gap_dpo,gap_sft,\
        gap_mix,ideal_distance,grad_evals,loss_evals,f_mix,gap_max. Row step = t holds the iterate after t updates; \
        objective and step_size are those of the update that produced it (init for step 0). gap_max is the gap \
        of MAXRIGHT's own target max{lambda gap_dpo, (1 - lambda) gap_sft} (eq. 15) to its exact minimum.
        """)

    @OptionGroup var instance: InstanceOption
    @OptionGroup var options: RunOptions

    @Option(help: ArgumentHelp("Output CSV file.", valueName: "file.csv"))
    var out: String

    @Flag(help: "Overwrite an existing output file.")
    var force = false

    @Option(parsing: .unconditional, help: ArgumentHelp("MiB of CSV this run may write (estimated from --record before the run).", valueName: "MiB"))
    var maxOutput = Limits.defaultMaxOutput >> 20

    func validate() throws {
        _ = try options.spec()
        guard maxOutput >= 1, maxOutput <= Int.max >> 20 else { throw ValidationError("--max-output must be in 1...\(Int.max >> 20) MiB, got \(maxOutput)") }
        try checkOutput(out, force: force, flag: "--out")
    }

    func run() throws {
        // The output is owned before any work: a second run writing the same file fails here, at once;
        // and one that finished it since validate() is not overwritten without --force.
        let file = try StreamingFile(path: out, exclusive: true)
        do { try AtomicFile.checkWritable(out, force: force) } catch { throw CommandFailure(error.description) }
        let problem = try instance.load()
        let spec = try options.spec(for: problem)
        let estimatedRows = spec.record.maximumRows(steps: spec.maximumSteps)
        do { try Limits.checkOutput(bytes: Limits.trajectoryBytes(rows: estimatedRows, dimension: problem.dimension), limit: maxOutput << 20) } catch {
            throw flagError(error)
        }
        let optima = try solveOptima(problem, lambda: spec.lambda, instance: instance.instance, solver: instance.memory.solver)
        let table = RunTable.trajectory(dimension: problem.dimension)
        let labels = RunTable.Labels(spec)
        try file.write(table.header)
        var rows = 0
        let result = try Trainer(problem: problem, optima: optima).run(spec) { row in
            try file.write(table.line(RunTable.trajectoryFields(labels, row, dimension: problem.dimension)))
            rows += 1
        }
        try file.commit()
        if let step = result.divergedAt {
            throw Diverged(description: "diverged at step \(step): the update would leave the finite range of the losses "
                           + "(learning rate too large?); \(out) keeps the \(rows) rows up to step \(result.steps)")
        }
        let f = result.final
        print("wrote \(out): \(rows) rows, \(result.steps) steps of \(labels.method)")
        print("final: f_dpo \(fmt(f.fDPO)), f_sft \(fmt(f.fSFT)), gap_mix \(fmt(f.gapMix)), gap_max \(fmt(f.gapMax)), ideal distance \(fmt(f.idealDistance)), \(result.gradEvals) gradient and \(result.lossEvals) loss evaluations")
    }
}
