import Foundation

/// Theorem 4.1 with explicit constants (THEORY.md section 3): for ALRIGHT with alpha_t = alpha0 / sqrt(t),
/// no weight decay and theta_T the iterate after T - 1 updates from theta_1,
///
///     E[G_mix,lambda(theta_T)] <= ( D^2 / (2 alpha0) + (3/2) alpha0 M (1 + ln T) ) / sqrt(T),
///
/// M = lambda G_DPO^2 + (1 - lambda) G_SFT^2 bounds E||g_t||^2, D = dist(theta_1, argmin f_mix,lambda).
/// The paper's constants (Prop. A.1) are G_DPO = 2 beta Phi, G_SFT = 2 Phi; the instance-tight ones are the
/// largest per-datum gradient norms any theta can give: beta max_i ||dphi_i|| and max_{i,j} ||phi_ij - phi_{i y_i}||.
public struct Theorem41Bound: Sendable {
    public var alpha0: Double
    public var distance: Double
    public var paperM: Double
    public var tightM: Double

    public init(problem: Problem, lambda: Double, alpha0: Double, optimum: Optimum, start: [Double]) throws {
        guard problem.weightDecay == 0 else {
            throw ArgumentError("problem", "has weightDecay \(problem.weightDecay); Theorem 4.1's constants need 0 (bounded gradients)")
        }
        guard lambda.isFinite, lambda >= 0, lambda <= 1 else { throw ArgumentError("lambda", "must be in [0, 1], got \(lambda)") }
        guard alpha0.isFinite, alpha0 > 0 else { throw ArgumentError("alpha0", "must be a finite number > 0, got \(alpha0)") }
        guard start.count == problem.dimension, optimum.theta.count == problem.dimension else {
            throw ArgumentError("start", "must have the problem's dimension \(problem.dimension)")
        }
        self.alpha0 = alpha0
        let beta = problem.beta, phi = problem.featureBound
        paperM = lambda * 4 * beta * beta * phi * phi + (1 - lambda) * 4 * phi * phi
        let (gD, gS) = Self.tightGradientBounds(problem)
        tightM = lambda * gD * gD + (1 - lambda) * gS * gS
        distance = try Self.distanceToMinimizers(problem, lambda: lambda, optimum: optimum, from: start)
    }

    /// The bound at horizon T with second-moment constant m.
    public func bound(horizon T: Int, m: Double) -> Double {
        (distance * distance / (2 * alpha0) + 1.5 * alpha0 * m * (1 + log(Double(T)))) / Double(T).squareRoot()
    }
    public func paper(_ T: Int) -> Double { bound(horizon: T, m: paperM) }
    public func tight(_ T: Int) -> Double { bound(horizon: T, m: tightM) }

    /// beta max ||dphi_i|| and max ||phi_ij - phi_{i,y_i}||: sup over theta of the per-datum gradient norms.
    public static func tightGradientBounds(_ problem: Problem) -> (dpo: Double, sft: Double) {
        let d = problem.dimension
        var gD = 0.0
        for i in 0..<problem.dpo.count {
            var s = 0.0
            for k in 0..<d { s += pow(problem.dpo.differences[i * d + k], 2) }
            gD = max(gD, problem.beta * s.squareRoot())
        }
        var gS = 0.0
        let table = problem.sft.features
        for i in 0..<table.count {
            let y = table.feature(i, problem.sft.targets[i])
            for j in 0..<table.outputCount(i) {
                let f = table.feature(i, j)
                var s = 0.0
                for k in 0..<d { s += pow(f[f.startIndex + k] - y[y.startIndex + k], 2) }
                gS = max(gS, s.squareRoot())
            }
        }
        return (gD, gS)
    }

    /// The distance from `start` to the set of minimizers theta* + null(H(theta*)): the objectives are
    /// strictly convex functions of linear forms, constant exactly along the Hessian's null space.
    public static func distanceToMinimizers(_ problem: Problem, lambda: Double, optimum: Optimum, from start: [Double]) throws -> Double {
        let d = problem.dimension
        let h = problem.hessian(.mix(lambda: lambda), at: optimum.theta)
        let (values, vectors) = try LinearAlgebra.symmetricEigen(h, n: d)
        let tolerance = 1e-10 * max(1, values.last ?? 0)
        let difference = zip(start, optimum.theta).map { $0 - $1 }
        var squared = 0.0
        for k in 0..<d where values[k] > tolerance {
            var c = 0.0
            for i in 0..<d { c += vectors[i * d + k] * difference[i] }
            squared += c * c
        }
        return squared.squareRoot()
    }
}

/// The check of Theorem 4.1: ALRIGHT over many seeds, mean gap with a 95% confidence interval against
/// both bounds at every horizon; on one-dimensional instances the Monte Carlo mean against the exact
/// expectation (`ExactExpectation`); at the largest horizon the mean against the asymptotic prediction
/// alpha_T tr(Sigma*) / 4 (`AsymptoticGap`) where the start-up transient has died out; and Prop. A.1 on
/// the iterates reached (THEORY.md section 3).
public struct Theorem41Verification: Sendable {
    public var lambdas = [0.1, 0.5, 0.9]
    public var horizons = [10, 100, 1_000, 10_000, 100_000, 1_000_000]
    /// Seeds on other instances: 1000 make the ratio's standard error about 0.04 at the largest horizon.
    public var seeds = 1_000
    /// Seeds on one-dimensional instances, where the exact expectation makes many seeds worth their cost.
    public var exactSeeds = 2_000
    public var alpha0 = 0.5
    /// theta_1 (nil: each instance's default start).
    public var start: [Double]?
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// The method run as ALRIGHT: the built-in one unless a test hands in a wrong one.
    public var method = MethodUnderTest.builtIn
    /// The exact solver (its memory limit).
    public var solver = NewtonSolver()
    /// The asymptotic check: the ratio mean / prediction must lie in this window, widened by two standard
    /// errors of the ratio, where the transient criterion holds (THEORY.md section 3.3).
    public var asymptoticWindow = (low: 0.8, high: 1.25)
    /// The criterion: deterministic gap and relative lag both below this fraction of the prediction.
    public var transientTolerance = 0.05

    public init() {}

    /// Checks the parameters: lambdas in [0, 1], horizons ascending and >= 2, at least 2 seeds (for an
    /// interval), alpha0 finite and > 0, at least one thread.
    public func validate() throws(ArgumentError) {
        guard !lambdas.isEmpty, lambdas.allSatisfy({ $0 >= 0 && $0 <= 1 }) else { throw ArgumentError("lambdas", "must lie in [0, 1]") }
        guard !horizons.isEmpty, horizons.allSatisfy({ $0 >= 2 && $0 <= Limits.exactHorizon }),
              zip(horizons, horizons.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw ArgumentError("horizons", "must be ascending and in 2...\(Limits.exactHorizon)")
        }
        for (name, n) in [("seeds", seeds), ("exactSeeds", exactSeeds)] where n < 2 || n > Limits.seeds {
            throw ArgumentError(name, "must be in 2...\(Limits.seeds), got \(n)")
        }
        guard alpha0 >= 1e-12, alpha0 <= 1e12 else { throw ArgumentError("alpha0", "must lie in [1e-12, 1e12], got \(alpha0)") }
        guard threads >= 1 else { throw ArgumentError("threads", "must be >= 1") }
        if let start, !start.allSatisfy(\.isFinite) { throw ArgumentError("init", "must be finite") }
    }

    /// Where a cell stands against the asymptotic prediction.
    public enum Asymptotic: Sendable, Equatable {
        /// Not the largest horizon.
        case notChecked
        /// The transient criterion fails: reported, never passed.
        case notYetAsymptotic
        case passed
        case failed
    }

    public struct Cell: Sendable {
        public var horizon: Int
        public var mean: Double
        /// Standard error of the mean over the seeds.
        public var standardError: Double
        public var halfWidth: Double { 1.96 * standardError }
        public var paperBound: Double
        public var tightBound: Double
        /// E[G] computed exactly, with its error bound (one-dimensional instances only).
        public var exact: Double?
        public var exactError: Double?
        /// alpha_T tr(Sigma*) / 4 and mean / prediction.
        public var asymptoticGap: Double
        public var asymptoticRatio: Double { mean / asymptoticGap }
        public var asymptotic = Asymptotic.notChecked
        public var withinBound: Bool { mean + halfWidth <= paperBound }
        /// |mean - exact| <= 3 standard errors + errorBound.
        public var matchesExact: Bool {
            guard let exact, let exactError else { return true }
            return abs(mean - exact) <= 3 * standardError + exactError
        }
        public var passed: Bool { withinBound && matchesExact && asymptotic != .failed }
    }

    public struct Row: Sendable {
        public var instance: String
        public var lambda: Double
        public var seeds: Int
        public var distance: Double
        public var paperM: Double
        public var tightM: Double
        public var cells: [Cell]
        /// Least-squares slope of log(mean gap) against log T.
        public var slope: Double
        /// The largest per-datum gradient norms seen at the recorded iterates, over 2 beta Phi and 2 Phi.
        public var dpoGradientRatio: Double
        public var sftGradientRatio: Double
        /// The transient criterion at the largest horizon: the deterministic (Mix) run's gap and the lag,
        /// both relative to the prediction.
        public var deterministicShare: Double
        public var lag: Double
        /// The largest mean / paper bound over the cells (how close the bound is).
        public var largestBoundRatio: Double { cells.map { $0.mean / $0.paperBound }.max() ?? 0 }
    }

    /// The verdict over rows, check by check. The check passes when every cell's interval is under the
    /// paper bound, every Monte Carlo mean matches its exact expectation, no asymptotic cell fails, and
    /// the per-datum gradient norms stayed within Prop. A.1.
    public struct Verdict: Sendable {
        public var exceeded: Int
        public var exactMismatches: Int
        public var asymptoticFailures: Int
        public var asymptoticChecked: Int
        public var notYetAsymptotic: Int
        public var propositionA1: Bool
        public var passed: Bool { exceeded == 0 && exactMismatches == 0 && asymptoticFailures == 0 && propositionA1 }
        /// The checks that failed, by name.
        public var failedChecks: [String] {
            [("bound", exceeded > 0), ("exact", exactMismatches > 0), ("asymptotic", asymptoticFailures > 0),
             ("propositionA1", !propositionA1)].filter(\.1).map(\.0)
        }
    }

    public static func verdict(_ rows: [Row]) -> Verdict {
        let cells = rows.flatMap(\.cells)
        let propA1 = rows.allSatisfy { $0.dpoGradientRatio <= 1 + 1e-12 && $0.sftGradientRatio <= 1 + 1e-12 }
        return Verdict(exceeded: cells.filter { !$0.withinBound }.count, exactMismatches: cells.filter { !$0.matchesExact }.count,
                       asymptoticFailures: cells.filter { $0.asymptotic == .failed }.count,
                       asymptoticChecked: cells.filter { $0.asymptotic == .passed || $0.asymptotic == .failed }.count,
                       notYetAsymptotic: cells.filter { $0.asymptotic == .notYetAsymptotic }.count, propositionA1: propA1)
    }

    public struct NotAttained: Error, CustomStringConvertible {
        public var description: String
    }

    public func run(name: String, problem: Problem) throws -> [Row] {
        try validate()
        guard problem.weightDecay == 0 else { throw NotAttained(description: "\(name): Theorem 4.1 is checked with weightDecay 0") }
        if let start {
            guard start.count == problem.dimension else {
                throw ArgumentError("init", "has \(start.count) entries, but \(name) has dimension \(problem.dimension)")
            }
            guard Limits.marginBound(start, featureBound: problem.featureBound, beta: problem.beta) <= Limits.margin else {
                throw ArgumentError("init", "is too large for \(name): its margins |theta . phi| would pass 1e150")
            }
        }
        let theta1 = start ?? problem.defaultStart
        let oneDimensional = (try? ScalarModel(problem: problem)) != nil
        let seeds = oneDimensional ? exactSeeds : self.seeds
        // theta_T is the iterate after T - 1 updates.
        let record = RecordMode.steps(horizons.map { $0 - 1 })
        @Sendable func spec(_ lambda: Double) -> RunSpec {
            RunSpec(method: .alright, lambda: lambda, steps: horizons.max()! - 1, schedule: .inverseSqrt(alpha0), record: record, start: start)
        }
        var allOptima: [OptimalValues] = []
        for lambda in lambdas {
            let optima = try OptimalValues(problem: problem, lambda: lambda, solver: solver)
            guard optima.mix.attained else {
                throw NotAttained(description: "\(name): the minimum of f_mix at lambda = \(lambda) is not attained")
            }
            allOptima.append(optima)
        }
        // D and the asymptotic modes need the Hessian's eigenvectors at the optimum: dense work.
        try Limits.checkDense(dimension: problem.dimension, forms: problem.linearFormCount, limit: solver.memoryLimit)
        // The exact expectations of the built-in ALRIGHT, where the instance is one-dimensional: one lambda per
        // thread, first (at T = 10^6 they cost more than the seeds).
        let exacts: [[ExactExpectation.Row]]? = oneDimensional
            ? try parallelMap(count: lambdas.count, threads: threads) { [lambdas, horizons, allOptima] k in
                Result { () throws(ExactExpectation.Unsupported) in
                    try ExactExpectation(problem: problem, spec: spec(lambdas[k]), optima: allOptima[k]).run(horizons: horizons)
                }
            }.map { try $0.get() } : nil
        var rows: [Row] = []
        for (k, lambda) in lambdas.enumerated() {
            let optima = allOptima[k]
            let bound = try Theorem41Bound(problem: problem, lambda: lambda, alpha0: alpha0, optimum: optima.mix, start: theta1)
            let asymptotic = try AsymptoticGap(problem: problem, lambda: lambda, optimum: optima.mix)
            let trainer = Trainer(problem: problem, optima: optima)
            let spec = spec(lambda)
            // All seeds at once: in seed lanes for the built-in method, on the scalar loop for another rule.
            let runs = trainer.runSeeds(spec, seeds: (0..<seeds).map { UInt64($0) }, threads: threads, method: method)
            let perSeed = parallelMap(count: seeds, threads: threads) { seed -> ([Double], (Double, Double)) in
                var ratio = (0.0, 0.0)
                for row in runs[seed].rows { ratio = maxRatio(problem, row.theta, ratio) }
                return (runs[seed].rows.map(\.gapMix), ratio)
            }
            let gaps = perSeed.map(\.0)
            guard gaps.allSatisfy({ $0.count == horizons.count }) else {
                throw NotAttained(description: "\(name): the method under test (\(method.name)) stopped before the largest horizon")
            }
            let ratios = perSeed.map(\.1)
            let exact = exacts?[k]
            // The transient criterion at the largest horizon: full-gradient descent on f_mix (the mean
            // dynamics) with the same steps, from the same start.
            let largest = horizons.last!
            var mixSpec = spec
            mixSpec.method = .mix
            mixSpec.record = .final
            let deterministicGap = max(0, trainer.run(mixSpec) { _ in }.final.gapMix)
            let prediction = asymptotic.prediction(stepSize: alpha0 / Double(largest).squareRoot())
            let lag = asymptotic.lag(horizon: largest, alpha0: alpha0)
            let deterministicShare = prediction > 0 ? deterministicGap / prediction : .infinity
            var cells: [Cell] = []
            for (h, horizon) in horizons.enumerated() {
                let values = gaps.map { $0[h] }
                let n = Double(values.count)
                let mean = values.reduce(0, +) / n
                let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / max(1, n - 1)
                var cell = Cell(horizon: horizon, mean: mean, standardError: (variance / n).squareRoot(),
                                paperBound: bound.paper(horizon), tightBound: bound.tight(horizon),
                                exact: exact?[h].expectedGap, exactError: exact?[h].errorBound,
                                asymptoticGap: asymptotic.prediction(stepSize: alpha0 / Double(horizon).squareRoot()))
                if horizon == largest {
                    if deterministicShare <= transientTolerance, lag <= transientTolerance, prediction > 0 {
                        let ratioError = cell.standardError / prediction
                        let ratio = cell.asymptoticRatio
                        cell.asymptotic = ratio >= asymptoticWindow.low - 2 * ratioError && ratio <= asymptoticWindow.high + 2 * ratioError
                            ? .passed : .failed
                    } else {
                        cell.asymptotic = .notYetAsymptotic
                    }
                }
                cells.append(cell)
            }
            rows.append(Row(instance: name, lambda: lambda, seeds: seeds, distance: bound.distance, paperM: bound.paperM,
                            tightM: bound.tightM, cells: cells, slope: Self.slope(cells),
                            dpoGradientRatio: ratios.map(\.0).max() ?? 0, sftGradientRatio: ratios.map(\.1).max() ?? 0,
                            deterministicShare: deterministicShare, lag: lag))
        }
        return rows
    }

    /// The running maxima of the per-datum gradient norms over 2 beta Phi and 2 Phi (Prop. A.1).
    func maxRatio(_ problem: Problem, _ theta: [Double], _ current: (Double, Double)) -> (Double, Double) {
        let dpo = problem.datumGradientNorms(.dpo, at: theta).max() ?? 0
        let sft = problem.datumGradientNorms(.sft, at: theta).max() ?? 0
        return (max(current.0, dpo / (2 * problem.beta * problem.featureBound)),
                max(current.1, sft / (2 * problem.featureBound)))
    }

    /// Least squares slope of log(mean) on log(T) over cells with a positive mean.
    static func slope(_ cells: [Cell]) -> Double {
        let points = cells.filter { $0.mean > 0 }.map { (log(Double($0.horizon)), log($0.mean)) }
        guard points.count >= 2 else { return .nan }
        let mx = points.map(\.0).reduce(0, +) / Double(points.count)
        let my = points.map(\.1).reduce(0, +) / Double(points.count)
        let sxy = points.reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }
        let sxx = points.reduce(0) { $0 + ($1.0 - mx) * ($1.0 - mx) }
        return sxy / sxx
    }
}
