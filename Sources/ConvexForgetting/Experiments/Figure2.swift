/// The paper's toy illustration (Figure 2, Appendix D.1) on our instance of it.
///
/// The instance (Experiments/instances/figure2.json): theta in R^2, two
/// outputs per input, one DPO input x1 (chosen phi = (1, 0), rejected phi = (-0.5, 0.5)) and a distinct SFT
/// input x2 (target phi = (0, 1), other phi = (0.5, -0.5)); every ||phi|| <= 1; beta = 1; weight decay
/// mu = 0.02 "for illustration"; theta_ref fitted by 1000 gradient steps of rate 0.01 on -log pi(y_w | x1)
/// from (-1, -1), the point the methods start from. No label contradicts another (the inputs differ): the
/// conflict is in the features, dphi = (1.5, -0.5) against (phi_t - phi_o) = (-0.5, 1.5), at an obtuse angle
/// but not opposite, so the cone {theta . dphi > 0, theta . (phi_t - phi_o) > 0} (around theta = (1, 1)) is
/// good for both objectives.
public enum Figure2 {
    /// The instance, shipped as a file (its only copy).
    public static let instancePath = "Experiments/instances/figure2.json"

    /// The paper's settings (Appendix D.1).
    public static let learningRate = 0.01
    public static let sequentialPhaseSteps = 10_000
    public static let threshold = 0.05
    public static let jointSteps = 20_000

    /// The three runs of the figure: Sequential (DPO then SFT, threshold), ALRIGHT and MAXRIGHT.
    public static func runs(lambda: Double, seed: UInt64, record: RecordMode) -> [RunSpec] {
        let schedule = StepSchedule.constant(learningRate)
        return [
            RunSpec(method: .sequential(SequentialPlan(dpoFirst: true, dpoSteps: sequentialPhaseSteps,
                                                       sftSteps: sequentialPhaseSteps, threshold: threshold)),
                    lambda: lambda, steps: sequentialPhaseSteps, schedule: schedule, seed: seed, record: record),
            RunSpec(method: .alright, lambda: lambda, steps: jointSteps, schedule: schedule, seed: seed, record: record),
            RunSpec(method: .maxright, lambda: lambda, steps: jointSteps, schedule: schedule, seed: seed, record: record),
        ]
    }
}

/// A grid of f_DPO and f_SFT over a rectangle of R^2 (the contours of the figure's first row).
public struct Landscape: Sendable {
    public var theta0: [Double]
    public var theta1: [Double]
    /// Row-major over (theta0 index, theta1 index).
    public var fDPO: [Double]
    public var fSFT: [Double]

    /// Evaluates both objectives on a `resolution x resolution` grid over the box holding `points`,
    /// padded by `padding` of its extent on each side. Needs d = 2.
    public init(problem: Problem, covering points: [[Double]], resolution: Int = 121, padding: Double = 0.15) throws(ArgumentError) {
        guard problem.dimension == 2 else { throw ArgumentError("problem", "has dimension \(problem.dimension); a landscape needs 2") }
        guard resolution >= 2 else { throw ArgumentError("resolution", "must be >= 2, got \(resolution)") }
        guard !points.isEmpty, points.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isFinite) }) else {
            throw ArgumentError("points", "must be finite points of R^2, at least one")
        }
        guard padding.isFinite, padding >= 0 else { throw ArgumentError("padding", "must be a finite number >= 0") }
        let xs = points.map { $0[0] }, ys = points.map { $0[1] }
        let (xLow, xHigh) = (xs.min()!, xs.max()!)
        let (yLow, yHigh) = (ys.min()!, ys.max()!)
        let span = max(xHigh - xLow, yHigh - yLow, 1e-3)
        let pad = padding * span
        func axis(_ low: Double, _ high: Double) -> [Double] {
            let a = low - pad, b = high + pad
            return (0..<resolution).map { a + (b - a) * Double($0) / Double(resolution - 1) }
        }
        theta0 = axis(xLow, xHigh)
        theta1 = axis(yLow, yHigh)
        fDPO = []
        fSFT = []
        for x in theta0 {
            for y in theta1 {
                fDPO.append(problem.value(.dpo, at: [x, y]))
                fSFT.append(problem.value(.sft, at: [x, y]))
            }
        }
    }

    public static let table = CSVTable(["theta_0", "theta_1", "f_dpo", "f_sft"])

    /// One row per grid point.
    public var rows: [[String]] {
        theta0.indices.flatMap { i in
            theta1.indices.map { j in
                let k = i * theta1.count + j
                return [CSV.number(theta0[i]), CSV.number(theta1[j]), CSV.number(fDPO[k]), CSV.number(fSFT[k])]
            }
        }
    }
}

/// The exact Pareto front: for each lambda of a grid, the minimizer of f_mix,lambda (Newton) and its
/// f_DPO and f_SFT. Minimizers of f_mix,lambda for lambda in (0, 1) are Pareto optimal (PAPER.md section 3).
public struct ParetoFront: Sendable {
    public struct Point: Sendable {
        public var lambda: Double
        public var optimum: Optimum
        public var fDPO: Double
        public var fSFT: Double
    }

    public var points: [Point]

    /// `count` evenly spaced lambdas in [0, 1], each solve warm-started at the previous minimizer.
    /// Throws `ArgumentError` for count < 2 and the solver's `Attainment.PivotLimitReached`.
    public init(problem: Problem, count: Int = 101, solver: NewtonSolver = NewtonSolver()) throws {
        guard count >= 2, count <= Limits.points else { throw ArgumentError("count", "must be in 2...\(Limits.points), got \(count)") }
        var start = problem.thetaRef
        var points: [Point] = []
        for i in 0..<count {
            let lambda = Double(i) / Double(count - 1)
            let optimum = try solver.minimize(problem, .mix(lambda: lambda), from: start)
            if optimum.attained { start = optimum.theta }
            points.append(Point(lambda: lambda, optimum: optimum, fDPO: problem.value(.dpo, at: optimum.theta),
                                fSFT: problem.value(.sft, at: optimum.theta)))
        }
        self.points = points
    }

    public static func table(dimension d: Int) -> CSVTable {
        CSVTable(["lambda"] + (0..<d).map { "theta_\($0)" } + ["f_dpo", "f_sft", "f_mix", "attained"])
    }

    /// One row per lambda.
    public var rows: [[String]] {
        points.map { p in
            [CSV.number(p.lambda)] + p.optimum.theta.map(CSV.number)
                + [CSV.number(p.fDPO), CSV.number(p.fSFT), CSV.number(p.optimum.value), "\(p.optimum.attained)"]
        }
    }
}
