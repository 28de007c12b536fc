import Foundation

/// One verified claim: the worst value seen over all points and objectives, against its tolerance.
public struct ClaimResult: Sendable {
    /// What is claimed, in the paper's terms.
    public var claim: String
    /// Where it comes from (Prop. A.1, A.2, ...).
    public var source: String
    /// The worst value observed (an error, a ratio or an eigenvalue: see `comparison`).
    public var worst: Double
    /// The limit that `worst` must respect.
    public var limit: Double
    /// "<=" when worst must not exceed the limit, ">=" when it must not fall below it.
    public var comparison: String
    /// Where the worst case occurred.
    public var location: String
    public var passed: Bool {
        worst.isFinite && (comparison == "<=" ? worst <= limit : worst >= limit)
    }
}

/// Checks of the paper's claims on random points of one instance:
/// - the exact gradients and Hessians (eq. 22-33) against central finite differences;
/// - every Hessian PSD (Prop. A.2): the minimum eigenvalue from LAPACK's symmetric eigensolver;
/// - every per-datum gradient norm within 2 beta Phi (DPO) and 2 Phi (SFT) (Prop. A.1);
/// - the convexity inequality f(y) >= f(x) + grad f(x) . (y - x) between consecutive points.
/// The objectives checked are f_DPO, f_SFT and f_mix,lambda.
public struct ClaimChecks: Sendable {
    public var points = 20
    public var seed: UInt64 = 0
    public var lambda = 0.5

    public init(points: Int = 20, seed: UInt64 = 0, lambda: Double = 0.5) {
        self.points = points
        self.seed = seed
        self.lambda = lambda
    }

    /// The random points: theta_ref plus a Gaussian of standard deviation 2 / Phi per coordinate, so that
    /// logits theta . phi are of order a few units to tens.
    public func samplePoints(_ problem: Problem) -> [[Double]] {
        var rng = Xoshiro256StarStar(seed: seed, stream: 0xC4EC)
        let sigma = 2 / problem.featureBound
        return (0..<points).map { _ in problem.thetaRef.map { $0 + sigma * rng.gaussian() } }
    }

    public func run(_ problem: Problem) throws -> [ClaimResult] {
        guard points >= 2, points <= Limits.points else { throw ArgumentError("points", "must be in 2...\(Limits.points), got \(points)") }
        let d = problem.dimension
        let objectives: [Objective] = [.dpo, .sft, .mix(lambda: lambda)]
        let thetas = samplePoints(problem)
        var gradientError = (0.0, ""), hessianError = (0.0, ""), minEigen = (Double.infinity, "")
        var dpoRatio = (0.0, ""), sftRatio = (0.0, ""), convexity = (-Double.infinity, "")
        func worse(_ current: inout (Double, String), _ value: Double, _ at: String, larger: Bool = true) {
            if value.isNaN || (larger ? value > current.0 : value < current.0) { current = (value, at) }
        }
        for (p, theta) in thetas.enumerated() {
            for objective in objectives {
                let at = "\(objective.name) at point \(p)"
                let (f, g) = problem.valueAndGradient(objective, at: theta)
                let h = problem.hessian(objective, at: theta)
                // Central differences: h_k = 1e-5 max(1, |theta_k|); error relative to 1 + ||exact||.
                var fdGradient = [Double](repeating: 0, count: d)
                var fdHessian = [Double](repeating: 0, count: d * d)
                for k in 0..<d {
                    let step = 1e-5 * max(1, abs(theta[k]))
                    var plus = theta, minus = theta
                    plus[k] += step
                    minus[k] -= step
                    let (fp, gp) = problem.valueAndGradient(objective, at: plus)
                    let (fm, gm) = problem.valueAndGradient(objective, at: minus)
                    fdGradient[k] = (fp - fm) / (2 * step)
                    for r in 0..<d { fdHessian[r * d + k] = (gp[r] - gm[r]) / (2 * step) }
                }
                worse(&gradientError, maxDifference(fdGradient, g) / (1 + maxAbs(g)), at)
                worse(&hessianError, maxDifference(fdHessian, h) / (1 + maxAbs(h)), at)
                worse(&minEigen, try LinearAlgebra.minimumEigenvalue(h, n: d), at, larger: false)
                // Convexity inequality towards the next point.
                let y = thetas[(p + 1) % thetas.count]
                let fy = problem.value(objective, at: y)
                var linear = f
                for k in 0..<d { linear += g[k] * (y[k] - theta[k]) }
                worse(&convexity, (linear - fy) / (1 + abs(fy)), "\(at) towards point \((p + 1) % thetas.count)")
            }
            for (i, n) in problem.datumGradientNorms(.dpo, at: theta).enumerated() {
                worse(&dpoRatio, n / (2 * problem.beta * problem.featureBound), "dpo datum \(i) at point \(p)")
            }
            for (i, n) in problem.datumGradientNorms(.sft, at: theta).enumerated() {
                worse(&sftRatio, n / (2 * problem.featureBound), "sft datum \(i) at point \(p)")
            }
        }
        let scale = max(1, problem.featureBound * problem.featureBound * max(1, problem.beta * problem.beta))
        return [
            ClaimResult(claim: "gradient = central difference (rel. error)", source: "eq. 22-27", worst: gradientError.0,
                        limit: 1e-6, comparison: "<=", location: gradientError.1),
            ClaimResult(claim: "Hessian = central difference (rel. error)", source: "eq. 29-33", worst: hessianError.0,
                        limit: 1e-6, comparison: "<=", location: hessianError.1),
            ClaimResult(claim: "Hessian PSD (min eigenvalue)", source: "Prop. A.2", worst: minEigen.0,
                        limit: -1e-12 * scale, comparison: ">=", location: minEigen.1),
            ClaimResult(claim: "||DPO datum gradient|| / (2 beta Phi)", source: "Prop. A.1", worst: dpoRatio.0,
                        limit: 1 + 1e-12, comparison: "<=", location: dpoRatio.1),
            ClaimResult(claim: "||SFT datum gradient|| / (2 Phi)", source: "Prop. A.1", worst: sftRatio.0,
                        limit: 1 + 1e-12, comparison: "<=", location: sftRatio.1),
            ClaimResult(claim: "convexity: f(x) + g.(y-x) - f(y) (rel.)", source: "Prop. A.2", worst: convexity.0,
                        limit: 1e-12, comparison: "<=", location: convexity.1),
        ]
    }

    private func maxDifference(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }
    private func maxAbs(_ a: [Double]) -> Double { a.reduce(0) { max($0, abs($1)) } }
}
