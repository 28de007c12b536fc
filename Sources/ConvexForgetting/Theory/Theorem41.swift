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
/// both bounds at every horizon; also Prop. A.1 on the iterates reached.
public struct Theorem41Verification: Sendable {
    public var lambdas = [0.1, 0.5, 0.9]
    public var horizons = [10, 100, 1_000, 10_000, 100_000, 1_000_000]
    public var seeds = 100
    public var alpha0 = 0.5
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// The method run as ALRIGHT: the built-in one unless a test hands in a wrong one.
    public var method = MethodUnderTest.builtIn
    /// The exact solver (its memory limit).
    public var solver = NewtonSolver()

    public init() {}

    /// Checks the parameters: lambdas in [0, 1], horizons ascending and >= 2, at least 2 seeds (for an
    /// interval), alpha0 finite and > 0, at least one thread.
    public func validate() throws(ArgumentError) {
        guard !lambdas.isEmpty, lambdas.allSatisfy({ $0 >= 0 && $0 <= 1 }) else { throw ArgumentError("lambdas", "must lie in [0, 1]") }
        guard !horizons.isEmpty, horizons.allSatisfy({ $0 >= 2 }), zip(horizons, horizons.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw ArgumentError("horizons", "must be ascending and >= 2")
        }
        guard seeds >= 2, seeds <= Limits.seeds else { throw ArgumentError("seeds", "must be in 2...\(Limits.seeds), got \(seeds)") }
        guard alpha0 >= 1e-12, alpha0 <= 1e12 else { throw ArgumentError("alpha0", "must lie in [1e-12, 1e12], got \(alpha0)") }
        guard threads >= 1 else { throw ArgumentError("threads", "must be >= 1") }
    }

    /// The verdict over rows: cells whose interval exceeds the paper bound, and whether the per-datum
    /// gradient norms stayed within Prop. A.1. The check passes when no cell exceeds and A.1 holds.
    public static func verdict(_ rows: [Row]) -> (exceeded: Int, propositionA1: Bool, passed: Bool) {
        let exceeded = rows.flatMap(\.cells).filter { !$0.passed }.count
        let propA1 = rows.allSatisfy { $0.dpoGradientRatio <= 1 + 1e-12 && $0.sftGradientRatio <= 1 + 1e-12 }
        return (exceeded, propA1, exceeded == 0 && propA1)
    }

    public struct Cell: Sendable {
        public var horizon: Int
        public var mean: Double
        public var halfWidth: Double
        public var paperBound: Double
        public var tightBound: Double
        public var passed: Bool { mean + halfWidth <= paperBound }
    }

    public struct Row: Sendable {
        public var instance: String
        public var lambda: Double
        public var distance: Double
        public var paperM: Double
        public var tightM: Double
        public var cells: [Cell]
        /// Least-squares slope of log(mean gap) against log T.
        public var slope: Double
        /// The largest per-datum gradient norms seen at the recorded iterates, over 2 beta Phi and 2 Phi.
        public var dpoGradientRatio: Double
        public var sftGradientRatio: Double
    }

    public struct NotAttained: Error, CustomStringConvertible {
        public var description: String
    }

    public func run(name: String, problem: Problem) throws -> [Row] {
        try validate()
        guard problem.weightDecay == 0 else { throw NotAttained(description: "\(name): Theorem 4.1 is checked with weightDecay 0") }
        var rows: [Row] = []
        let start = problem.defaultStart
        for lambda in lambdas {
            let optima = try OptimalValues(problem: problem, lambda: lambda, solver: solver)
            guard optima.mix.attained else {
                throw NotAttained(description: "\(name): the minimum of f_mix at lambda = \(lambda) is not attained")
            }
            // D needs the Hessian's eigenvectors at the optimum: dense work.
            try Limits.checkDense(dimension: problem.dimension, forms: problem.linearFormCount, limit: solver.memoryLimit)
            let bound = try Theorem41Bound(problem: problem, lambda: lambda, alpha0: alpha0, optimum: optima.mix, start: start)
            let trainer = Trainer(problem: problem, optima: optima)
            // theta_T is the iterate after T - 1 updates.
            let record = RecordMode.steps(horizons.map { $0 - 1 })
            let spec = RunSpec(method: .alright, lambda: lambda, steps: horizons.max()! - 1,
                               schedule: .inverseSqrt(alpha0), record: record)
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
            var cells: [Cell] = []
            for (h, horizon) in horizons.enumerated() {
                let values = gaps.map { $0[h] }
                let n = Double(values.count)
                let mean = values.reduce(0, +) / n
                let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / max(1, n - 1)
                cells.append(Cell(horizon: horizon, mean: mean, halfWidth: 1.96 * (variance / n).squareRoot(),
                                  paperBound: bound.paper(horizon), tightBound: bound.tight(horizon)))
            }
            rows.append(Row(instance: name, lambda: lambda, distance: bound.distance, paperM: bound.paperM,
                            tightM: bound.tightM, cells: cells, slope: Self.slope(cells),
                            dpoGradientRatio: ratios.map(\.0).max() ?? 0, sftGradientRatio: ratios.map(\.1).max() ?? 0))
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
