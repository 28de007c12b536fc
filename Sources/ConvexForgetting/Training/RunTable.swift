import Foundation

/// The CSV schemas of runs, one place for every command that writes them:
///
/// - the trajectory table (the `forgetting train` contract): method,lambda,seed,step,objective,step_size,
///   theta_0..theta_{d-1},f_dpo,f_sft,gap_dpo,gap_sft,gap_mix,ideal_distance,grad_evals,loss_evals,f_mix,gap_max;
///   a sweep's trajectories.csv puts run_id first;
/// - the run summary (a sweep's summary.csv and figure2's summary.csv): one row per run with its
///   parameters, final values, cost counters, its status (ok or diverged), the instance's name, the final
///   theta, gap_max, Sequential's phase_schedule (continue or restart; empty for the other methods) and
///   wall_seconds last.
///
/// Column names and positions are contracts: new columns go at the end (before wall_seconds in the summary).
public enum RunTable {
    /// What labels a run's rows: the method's name (a built-in one, or a user rule's), lambda and seed.
    public struct Labels: Sendable {
        public var method: String
        public var lambda: Double
        public var seed: UInt64

        public init(method: String, lambda: Double, seed: UInt64) {
            self.method = method
            self.lambda = lambda
            self.seed = seed
        }

        public init(_ spec: RunSpec) {
            self.init(method: spec.method.name.rawValue, lambda: spec.lambda, seed: spec.seed)
        }
    }

    public static func trajectory(dimension d: Int, runID: Bool = false) -> CSVTable {
        CSVTable((runID ? ["run_id"] : []) + ["method", "lambda", "seed", "step", "objective", "step_size"]
                 + (0..<d).map { "theta_\($0)" }
                 + ["f_dpo", "f_sft", "gap_dpo", "gap_sft", "gap_mix", "ideal_distance", "grad_evals", "loss_evals", "f_mix", "gap_max"])
    }

    /// One trajectory row; with `dimension` larger than the run's, the missing theta columns stay empty
    /// (sweeps over instances of different dimensions share one header).
    public static func trajectoryFields(_ labels: Labels, _ row: TrajectoryRow, dimension: Int, runID: Int? = nil) -> [String] {
        (runID.map { ["\($0)"] } ?? []) + [CSV.field(labels.method), CSV.number(labels.lambda), "\(labels.seed)",
                                            "\(row.step)", row.objective, CSV.number(row.stepSize)]
            + padded(row.theta, dimension)
            + [row.fDPO, row.fSFT, row.gapDPO, row.gapSFT, row.gapMix, row.idealDistance].map(CSV.number)
            + ["\(row.gradEvals)", "\(row.lossEvals)", CSV.number(row.fMix), gapField(row.gapMax)]
    }

    public static func summary(dimension d: Int) -> CSVTable {
        CSVTable(["run_id", "instance", "method", "lambda", "steps", "schedule", "rate", "seed", "batch", "eval_every",
                  "dpo_steps", "sft_steps", "threshold", "record", "steps_taken", "f_dpo", "f_sft", "f_mix", "gap_dpo",
                  "gap_sft", "gap_mix", "ideal_distance", "grad_evals", "loss_evals", "status", "instance_name"]
                 + (0..<d).map { "theta_\($0)" } + ["gap_max", "phase_schedule", "wall_seconds"])
    }

    /// One run's summary row. `instance` is the instance file as the user named it, `instanceName` the
    /// instance's own name.
    public static func summaryFields(runID: Int, instance: String, instanceName: String, spec s: RunSpec, result: RunResult,
                                     dimension: Int, seconds: Double) -> [String] {
        let f = result.final, p = s.method.parameters
        let parameters: [String] = [
            "\(runID)", CSV.field(instance), s.method.name.rawValue, CSV.number(s.lambda), "\(s.steps)",
            s.schedule.name.rawValue, CSV.number(s.schedule.baseRate), "\(s.seed)", s.batch.map(String.init) ?? "full",
            "\(p.evalEvery ?? 1)", p.dpoSteps.map(String.init) ?? "", p.sftSteps.map(String.init) ?? "",
            p.threshold.map(CSV.number) ?? "", s.record.description, "\(result.steps)",
        ]
        let finals: [String] = [f.fDPO, f.fSFT, f.fMix, f.gapDPO, f.gapSFT, f.gapMix, f.idealDistance].map(CSV.number)
        let counters: [String] = ["\(result.gradEvals)", "\(result.lossEvals)", status(result), CSV.field(instanceName)]
        return parameters + finals + counters + padded(f.theta, dimension)
            + [gapField(f.gapMax), p.phaseSchedule?.rawValue ?? "", String(format: "%.6f", seconds)]
    }

    /// gap_max as written: empty if it is not a finite number (never NaN; the solver always returns a
    /// finite F*, the infimum where it is not attained, so this is a guard only).
    static func gapField(_ gap: Double) -> String { gap.isFinite ? CSV.number(gap) : "" }

    /// The summary's status column: `ok`, or `diverged` (the run stopped at `RunResult.divergedAt`).
    static func status(_ result: RunResult) -> String { result.divergedAt == nil ? "ok" : "diverged" }

    static func padded(_ theta: [Double], _ dimension: Int) -> [String] {
        theta.map(CSV.number) + Array(repeating: "", count: max(0, dimension - theta.count))
    }
}
