import Foundation

/// The check of Theorem 3.3 on the lower-bound instance: Sequential's exact G_mix,lambda against the
/// floor c(lambda) for every horizon past T0(lambda) (THEORY.md section 2), with ALRIGHT as the contrast.
public struct Theorem33Verification: Sendable {
    public var lambdas: [Double] = (1...19).map { Double($0) * 0.05 }
    public var horizons: [Int] = [10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000]
    /// alpha of the constant-rate variants and alpha0 of the inverse-sqrt ones.
    public var constantRate = 0.1
    public var inverseSqrtRate = 0.25
    public var threshold = 0.05
    /// The floor's margin: the final s is certified beyond s*(lambda) -/+ delta.
    public var delta = 0.5
    /// ALRIGHT's run for the contrast (inverse-sqrt, alpha0 = inverseSqrtRate).
    public var alrightSteps = 1_000_000
    public var alrightSeed: UInt64 = 0
    /// The method run as Sequential (the spec's method is Sequential's plan for each variant) and as
    /// ALRIGHT in the contrast: the built-in ones unless a test hands in a wrong one.
    public var sequential = MethodUnderTest.builtIn
    public var alright = MethodUnderTest.builtIn
    /// The exact solver (its memory limit).
    public var solver = NewtonSolver()

    public init() {}

    /// Checks the parameters: lambdas in (0, 1), horizons >= 1, rates finite and > 0, a threshold >= 0,
    /// delta > 0, at least one ALRIGHT step.
    public func validate() throws(ArgumentError) {
        guard !lambdas.isEmpty, lambdas.allSatisfy({ $0 > 0 && $0 < 1 }) else { throw ArgumentError("lambdas", "must lie in (0, 1)") }
        guard !horizons.isEmpty, horizons.allSatisfy({ $0 >= 1 && $0 <= Int.max / 2 }) else {
            throw ArgumentError("horizons", "must be in 1...\(Int.max / 2) (both phases of T steps)")
        }
        for (name, rate) in [("constantRate", constantRate), ("inverseSqrtRate", inverseSqrtRate)] where !(rate.isFinite && rate > 0) {
            throw ArgumentError(name, "must be a finite number > 0, got \(rate)")
        }
        guard threshold.isFinite, threshold >= 0 else { throw ArgumentError("threshold", "must be a finite number >= 0") }
        guard delta.isFinite, delta > 0 else { throw ArgumentError("delta", "must be a finite number > 0") }
        guard alrightSteps >= 1 else { throw ArgumentError("alrightSteps", "must be >= 1") }
    }

    /// Both orders with a constant rate, and with the inverse-sqrt rate under both phase schedules (the
    /// second phase continuing the step index, or restarting it); the threshold variant.
    public var variants: [LowerBoundAnalysis.Variant] {
        [.dpoFirst(.constant(constantRate), .continue), .dpoFirst(.inverseSqrt(inverseSqrtRate), .continue),
         .dpoFirst(.inverseSqrt(inverseSqrtRate), .restart),
         .sftFirst(.constant(constantRate), .continue), .sftFirst(.inverseSqrt(inverseSqrtRate), .continue),
         .sftFirst(.inverseSqrt(inverseSqrtRate), .restart),
         .dpoFirstThreshold(rate: constantRate, threshold: threshold)]
    }

    public struct Cell: Sendable {
        public var horizon: Int
        public var gap: Double
        /// Past T0: the cell is checked against the floor c(lambda).
        public var checked: Bool
        let floor: Double
        /// The output's margin s_out = theta . a and its certified interval [L(T), U(T)] (nil: the
        /// threshold variant before its T0), with the T-dependent floor G at the interval's point nearest s*.
        public var margin: Double
        public var envelope: (low: Double, high: Double)?
        public var certifiedFloor: Double?
        /// s_out inside the envelope, up to rounding.
        public var insideEnvelope: Bool {
            guard let e = envelope else { return true }
            let tolerance = 1e-9 * max(1, abs(margin))
            return margin >= e.low - tolerance && margin <= e.high + tolerance
        }
        /// The gap at least the certified floor, up to rounding.
        public var aboveCertifiedFloor: Bool {
            guard let f = certifiedFloor else { return true }
            return gap >= f - 1e-12 * max(1, f)
        }
        public var aboveFloor: Bool { !checked || gap >= floor }
        public var passed: Bool { aboveFloor && insideEnvelope && aboveCertifiedFloor }
        /// certified floor / gap: how sharp the envelope is (1 is exact).
        public var sharpness: Double? { certifiedFloor.map { gap > 0 ? $0 / gap : 1 } }
    }

    public struct Row: Sendable {
        public var variant: LowerBoundAnalysis.Variant
        public var lambda: Double
        public var floor: Double
        public var horizon: Double
        public var cells: [Cell]
    }

    public struct Contrast: Sendable {
        public var lambda: Double
        public var alrightGap: Double
        /// The smallest floor of this lambda over the variants.
        public var smallestFloor: Double
    }

    public struct Report: Sendable {
        public var rows: [Row]
        public var contrast: [Contrast]
        public var failures: Int { rows.reduce(0) { $0 + $1.cells.filter { !$0.passed }.count } }
        /// Failures by check: below c(lambda) past T0, outside the envelope, below the certified floor.
        public var floorFailures: Int { rows.reduce(0) { $0 + $1.cells.filter { !$0.aboveFloor }.count } }
        public var envelopeFailures: Int { rows.reduce(0) { $0 + $1.cells.filter { !$0.insideEnvelope }.count } }
        public var certifiedFloorFailures: Int { rows.reduce(0) { $0 + $1.cells.filter { !$0.aboveCertifiedFloor }.count } }
        /// The checks that failed, by name.
        public var failedChecks: [String] {
            [("floor", floorFailures > 0), ("envelope", envelopeFailures > 0), ("certifiedFloor", certifiedFloorFailures > 0)]
                .filter(\.1).map(\.0)
        }
        public var checkedCells: Int { rows.reduce(0) { $0 + $1.cells.filter(\.checked).count } }
        /// Rows whose floor is not positive or whose T0 lies beyond every horizon (nothing certified).
        public var uncertified: [Row] { rows.filter { !($0.floor > 0) || !$0.cells.contains(where: \.checked) } }
    }

    public func run(_ problem: Problem) throws -> Report {
        try validate()
        let analysis = try LowerBoundAnalysis(problem: problem)
        let optima = try lambdas.map { try solver.minimize(problem, .mix(lambda: $0)) }
        let trainer = Trainer(problem: problem, optima: try OptimalValues(problem: problem, lambda: 0.5, solver: solver))
        var rows: [Row] = []
        for variant in variants {
            // Sequential's path does not depend on lambda: one run per horizon.
            let finals = horizons.map { sequential.run(trainer, variant.spec(horizon: $0, lambda: 0.5)).final.theta }
            let envelopes = horizons.map { analysis.envelope(variant, horizon: $0) }
            for (l, lambda) in lambdas.enumerated() {
                let floor = analysis.floor(variant, lambda: lambda, optimum: optima[l], delta: delta)
                let cells = horizons.indices.map { h in
                    let theta = finals[h]
                    return Cell(horizon: horizons[h], gap: problem.value(.mix(lambda: lambda), at: theta) - optima[l].value,
                                checked: Double(horizons[h]) >= floor.horizon, floor: floor.floor, margin: analysis.margin(theta),
                                envelope: envelopes[h],
                                certifiedFloor: envelopes[h].map { analysis.certifiedFloor(lambda: lambda, optimum: optima[l], low: $0.low, high: $0.high) })
                }
                rows.append(Row(variant: variant, lambda: lambda, floor: floor.floor, horizon: floor.horizon, cells: cells))
            }
        }
        var contrast: [Contrast] = []
        for (l, lambda) in lambdas.enumerated() {
            let contrastTrainer = Trainer(problem: problem, optima: try OptimalValues(problem: problem, lambda: lambda, solver: solver))
            let spec = RunSpec(method: .alright, lambda: lambda, steps: alrightSteps, schedule: .inverseSqrt(inverseSqrtRate),
                               seed: alrightSeed, record: .final)
            let gap = problem.value(.mix(lambda: lambda), at: alright.run(contrastTrainer, spec).final.theta) - optima[l].value
            let floors = rows.filter { $0.lambda == lambda }.map(\.floor)
            contrast.append(Contrast(lambda: lambda, alrightGap: gap, smallestFloor: floors.min() ?? 0))
        }
        return Report(rows: rows, contrast: contrast)
    }
}
