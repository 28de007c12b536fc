import Foundation

/// The check of MAXRIGHT (Algorithm 3) against its own target F_lambda = max{lambda (f_DPO - f*_DPO),
/// (1 - lambda)(f_SFT - f*_SFT)} (eq. 15, Remark 4.3; THEORY.md section 5): with alpha_t = alpha0 / sqrt(t)
/// the last iterate's gap_max = F_lambda(theta_T) - min F_lambda should go to zero.
///
/// The paper proves nothing about MAXRIGHT's convergence, so the last iterate has no bound to be held to:
/// that part of the check is empirical. It fails a (instance, lambda) row when the last horizon's gap_max is
/// above `tolerance`, or is not below the gap_max of each of the first two horizons; it reports the fitted
/// log-log rate of gap_max against T, which is measured, not proved. Without weight decay and with F_lambda's
/// minimum attained it also checks the best-iterate bound derived in THEORY.md section 5.3 (ours, not the
/// paper's): min_{t <= T} gap_max(theta_t) <= (D^2/2 + G^2 alpha0^2 (1 + ln T)/2) / (2 alpha0 (sqrt(T + 1) - 1)),
/// G = max(2 beta Phi, 2 Phi), D = dist(theta_1, argmin F_lambda). MAXRIGHT is deterministic on full batches, so
/// one run per row suffices.
public struct MaxrightVerification: Sendable {
    public var lambdas = [0.25, 0.5, 0.75]
    /// T: gap_max of the iterate after T updates.
    public var horizons = [10, 100, 1_000, 10_000, 100_000, 1_000_000]
    public var alpha0 = 0.5
    /// The largest gap_max allowed at the last horizon (absolute: F_lambda is a loss difference).
    public var tolerance = 1e-3
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// The method run as MAXRIGHT: the built-in one unless a test hands in a wrong one.
    public var method = MethodUnderTest.builtIn
    /// The exact solver (its memory limit).
    public var solver = NewtonSolver()

    public init() {}

    /// The largest horizon accepted (about 10 minutes of MAXRIGHT on a toy instance per lambda).
    public static let maxHorizon = 1_000_000_000

    /// Checks the parameters: lambdas in (0, 1) (at 0 or 1 MAXRIGHT is one objective's gradient descent),
    /// at least two ascending horizons >= 1, alpha0 in [1e-12, 1e12], tolerance > 0, at least one thread.
    public func validate() throws(ArgumentError) {
        guard !lambdas.isEmpty, lambdas.allSatisfy({ $0 > 0 && $0 < 1 }) else { throw ArgumentError("lambdas", "must lie in (0, 1)") }
        guard horizons.count >= 2, horizons.allSatisfy({ $0 >= 1 && $0 <= Self.maxHorizon }),
              zip(horizons, horizons.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw ArgumentError("horizons", "must be at least two, ascending, in 1...\(Self.maxHorizon)")
        }
        guard alpha0 >= 1e-12, alpha0 <= 1e12 else { throw ArgumentError("alpha0", "must lie in [1e-12, 1e12], got \(alpha0)") }
        guard tolerance.isFinite, tolerance > 0 else { throw ArgumentError("tolerance", "must be a finite number > 0, got \(tolerance)") }
        guard threads >= 1 else { throw ArgumentError("threads", "must be >= 1") }
    }

    public struct Row: Sendable {
        public var instance: String
        public var lambda: Double
        /// The exact optimum of F_lambda.
        public var optimum: MaxGapOptimum
        /// gap_max at each horizon (in order), and gap_mix beside it for contrast.
        public var gaps: [Double]
        public var mixGaps: [Double]
        /// Least-squares slope of log gap_max against log T (horizons with a positive gap); nil with fewer
        /// than two such horizons.
        public var slope: Double?
        /// The last horizon's gap_max is at most the tolerance.
        public var belowTolerance: Bool
        /// The last horizon's gap_max is below that of each of the first two horizons.
        public var decreased: Bool
        /// The smallest gap_max of the iterates up to each horizon, and the best-iterate bound there; nil with
        /// weight decay (unbounded gradients), without a minimizer of F_lambda, or when the distance to the
        /// minimizers (a d x d eigendecomposition) passes the memory limit.
        public var bestGaps: [Double]?
        public var bounds: [Double]?
        /// Every horizon's best gap_max is within its bound (true when there is no bound).
        public var withinBound: Bool {
            guard let bestGaps, let bounds else { return true }
            return zip(bestGaps, bounds).allSatisfy { $0 <= $1 }
        }
        public var passed: Bool { belowTolerance && decreased && withinBound }
    }

    /// The verdict over rows: how many failed, and whether all passed.
    public static func verdict(_ rows: [Row]) -> (failures: Int, passed: Bool) {
        let failures = rows.filter { !$0.passed }.count
        return (failures, failures == 0 && !rows.isEmpty)
    }

    /// The names of the checks some row fails: "tolerance" (final gap_max above it), "decrease" (not below
    /// the first horizons' gap_max), "bestIterateBound" (the best iterate above the derived bound).
    public static func failedChecks(_ rows: [Row]) -> [String] {
        var failed: [String] = []
        if rows.contains(where: { !$0.belowTolerance }) { failed.append("tolerance") }
        if rows.contains(where: { !$0.decreased }) { failed.append("decrease") }
        if rows.contains(where: { !$0.withinBound }) { failed.append("bestIterateBound") }
        return failed
    }

    public struct MethodStopped: Error, CustomStringConvertible {
        public var description: String
    }

    /// One row per lambda on `problem`. Throws `ArgumentError` for bad parameters, what the solver throws,
    /// and `MethodStopped` when the method under test ends (or diverges) before the last horizon.
    public func run(name: String, problem: Problem) throws -> [Row] {
        try validate()
        let optima = try lambdas.map { try OptimalValues(problem: problem, lambda: $0, solver: solver) }
        let distances = optima.map { distanceToMinimizers(problem, $0.maxGap) }
        let horizons = self.horizons, alpha0 = self.alpha0, method = self.method
        let runs = parallelMap(count: lambdas.count, threads: threads) { k -> (gaps: [Double], mix: [Double], best: [Double], steps: Int) in
            // With a bound to check, every iterate is looked at (the bound is on the best one).
            let spec = RunSpec(method: .maxright, lambda: optima[k].lambda, steps: horizons.last!,
                               schedule: .inverseSqrt(alpha0), record: distances[k] == nil ? .steps(horizons) : .all)
            var gaps: [Double] = [], mix: [Double] = [], best: [Double] = []
            var smallest = Double.infinity
            var next = 0
            let result = method.run(Trainer(problem: problem, optima: optima[k]), spec) { row in
                smallest = min(smallest, row.gapMax)
                if next < horizons.count, row.step == horizons[next] {
                    gaps.append(row.gapMax)
                    mix.append(row.gapMix)
                    best.append(smallest)
                    next += 1
                }
            }
            return (gaps, mix, best, result.divergedAt == nil ? result.steps : -1)
        }
        var rows: [Row] = []
        for (k, run) in runs.enumerated() {
            guard run.steps == horizons.last!, run.gaps.count == horizons.count else {
                throw MethodStopped(description: "\(name): the method under test (\(method.name)) stopped before T = \(horizons.last!) at lambda = \(lambdas[k])")
            }
            let final = run.gaps.last!
            let bounds = distances[k].map { distance in horizons.map { bestIterateBound(problem, distance: distance, horizon: $0) } }
            rows.append(Row(instance: name, lambda: lambdas[k], optimum: optima[k].maxGap, gaps: run.gaps, mixGaps: run.mix,
                            slope: Self.slope(horizons, run.gaps), belowTolerance: final <= tolerance,
                            decreased: run.gaps.prefix(2).allSatisfy { final < $0 },
                            bestGaps: bounds == nil ? nil : run.best, bounds: bounds))
        }
        return rows
    }

    /// D = dist(theta_1, argmin F_lambda): the minimizers of F_lambda are those of f_mix,w* (THEORY.md 5.1,
    /// Lemma C), theta*(w*) plus the null space of its Hessian. nil where the bound does not apply.
    func distanceToMinimizers(_ problem: Problem, _ optimum: MaxGapOptimum) -> Double? {
        guard problem.weightDecay == 0, optimum.attained, optimum.weight > 0, optimum.weight < 1,
              (try? Limits.checkDense(dimension: problem.dimension, forms: problem.linearFormCount, limit: solver.memoryLimit)) != nil
        else { return nil }
        let point = Optimum(value: optimum.value, theta: optimum.theta, gradientNorm: optimum.gradientNorm, attained: true, iterations: 0)
        return try? Theorem41Bound.distanceToMinimizers(problem, lambda: optimum.weight, optimum: point, from: problem.defaultStart)
    }

    /// The best-iterate bound of THEORY.md section 5.3 at horizon T (iterates theta_1 ... theta_T).
    func bestIterateBound(_ problem: Problem, distance: Double, horizon: Int) -> Double {
        let g = 2 * problem.featureBound * max(1, problem.beta)
        let t = Double(horizon)
        return (distance * distance / 2 + g * g * alpha0 * alpha0 * (1 + log(t)) / 2) / (2 * alpha0 * ((t + 1).squareRoot() - 1))
    }

    /// Least squares slope of log(gap) on log(T) over the positive gaps.
    static func slope(_ horizons: [Int], _ gaps: [Double]) -> Double? {
        let points = zip(horizons, gaps).filter { $0.1 > 0 }.map { (log(Double($0.0)), log($0.1)) }
        guard points.count >= 2 else { return nil }
        let mx = points.map(\.0).reduce(0, +) / Double(points.count)
        let my = points.map(\.1).reduce(0, +) / Double(points.count)
        let sxy = points.reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }
        let sxx = points.reduce(0) { $0 + ($1.0 - mx) * ($1.0 - mx) }
        return sxy / sxx
    }
}
