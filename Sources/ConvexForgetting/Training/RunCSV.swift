/// The CSV forms of runs: trajectory rows (the `forgetting train` contract) and one summary row per run.
public enum RunCSV {
    /// method,lambda,seed,step,objective,step_size,theta_0..theta_{d-1},f_dpo,f_sft,gap_dpo,gap_sft,gap_mix,
    /// ideal_distance,grad_evals,loss_evals, then f_mix.
    public static func trajectoryHeader(dimension: Int) -> String {
        CSV.line(TrajectoryRow.header(dimension: dimension))
    }

    public static func trajectoryLine(_ spec: RunSpec, _ row: TrajectoryRow) -> String {
        CSV.line([spec.method.rawValue, CSV.number(spec.lambda), "\(spec.seed)"] + row.fields)
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
