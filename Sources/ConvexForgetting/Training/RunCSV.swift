/// The CSV forms of runs: trajectory rows (the `forgetting train` contract) and one summary row per run.
public enum RunCSV {
    /// method,lambda,seed,step,objective,step_size,theta_0..theta_{d-1},f_dpo,f_sft,gap_dpo,gap_sft,gap_mix,
    /// ideal_distance,grad_evals,loss_evals, then f_mix.
    public static func trajectoryHeader(dimension: Int) -> String {
        CSV.line(TrajectoryRow.header(dimension: dimension))
    }

    /// One trajectory row; with `dimension` larger than the run's, the missing theta columns stay empty
    /// (sweeps over instances of different dimensions share one header).
    public static func trajectoryLine(_ spec: RunSpec, _ row: TrajectoryRow, dimension: Int? = nil) -> String {
        var fields = row.fields
        if let dimension, dimension > row.theta.count {
            fields.insert(contentsOf: Array(repeating: "", count: dimension - row.theta.count), at: 3 + row.theta.count)
        }
        return CSV.line([spec.method.rawValue, CSV.number(spec.lambda), "\(spec.seed)"] + fields)
    }

    public static func summaryHeader(dimension: Int) -> String {
        CSV.line(["method", "lambda", "seed", "steps", "f_dpo", "f_sft", "f_mix", "gap_dpo", "gap_sft", "gap_mix",
                  "ideal_distance", "grad_evals", "loss_evals"] + (0..<dimension).map { "theta_\($0)" })
    }

    public static func summaryLine(_ spec: RunSpec, _ result: RunResult) -> String {
        let r = result.final
        return CSV.line([spec.method.rawValue, CSV.number(spec.lambda), "\(spec.seed)", "\(result.steps)"]
                        + [r.fDPO, r.fSFT, r.fMix, r.gapDPO, r.gapSFT, r.gapMix, r.idealDistance].map(CSV.number)
                        + ["\(result.gradEvals)", "\(result.lossEvals)"] + r.theta.map(CSV.number))
    }
}
