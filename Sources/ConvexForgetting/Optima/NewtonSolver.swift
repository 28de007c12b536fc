import Foundation

/// The exact optimum of f_DPO, f_SFT or f_mix,lambda.
public struct Optimum: Sendable, Equatable {
    /// min f when attained, otherwise inf f (approached to about 1e-15 relative).
    public var value: Double
    /// A minimizer when attained; otherwise the last iterate, a point whose value is within the tolerance
    /// of the infimum (not a minimizer: there is none).
    public var theta: [Double]
    /// ||grad f(theta)||.
    public var gradientNorm: Double
    /// Whether f has a finite minimizer (decided by `Attainment`).
    public var attained: Bool
    /// Newton iterations taken.
    public var iterations: Int
}

/// Damped, regularised Newton's method with a backtracking (Armijo) line search.
///
/// The objectives are smooth and convex (Prop. A.2), so the Newton direction of H + delta I, delta =
/// min(1, ||g||)^2, is a descent direction; the regularisation handles singular Hessians (flat directions
/// of a DPO loss, or the recession direction of an infimum that is not attained) and keeps local
/// quadratic convergence where a minimizer exists. It is the square of ||g||, not ||g|| itself: with
/// delta = ||g|| a nearly flat valley (smallest curvature far below ||g||) caps each step near ||g|| / delta,
/// so a minimizer a thousand units away took more than 1000 iterations and was never reached (a planted
/// instance of the attainment property test); with ||g||^2 it takes 7. Attainment is decided by `Attainment.isAttained`; when
/// the infimum is not attained the iteration runs until the value stops decreasing and reports that value.
public struct NewtonSolver: Sendable {
    public var maxIterations = 1000
    /// Stop once ||grad f|| <= gradientTolerance * scale, scale = max(1, Phi max(1, beta)).
    public var gradientTolerance = 1e-12
    /// The attainment LP's pivot limit (nil: its default); reaching it is an error.
    public var pivotLimit: Int?
    /// Bytes of dense work (Hessian, factorization, LP tableau) the solver may allocate; a larger problem
    /// is refused with an `ArgumentError` naming d and the bytes, before anything is allocated.
    public var memoryLimit = Limits.defaultMaxMemory
    /// Whether the objective's infimum is attained, when the caller has already decided it for the same
    /// linear forms (every f_mix,w with w in (0, 1) shares them): skips the attainment LP. nil: decide it.
    public var knownAttainment: Bool?

    public init() {}

    /// A minimizer exists but the iteration ended (iteration limit, or no step the line search accepts)
    /// with ||grad f|| above 1e-8 scale: the value would not be the minimum, so none is reported.
    public struct NotConverged: Error, CustomStringConvertible {
        public var gradientNorm: Double
        public var iterations: Int
        public var description: String {
            "Newton's method stopped after \(iterations) iterations with gradient norm \(gradientNorm), short of the "
                + "minimizer; the instance may be badly conditioned"
        }
    }

    /// Throws `ArgumentError` (over `memoryLimit`), `Attainment.PivotLimitReached` or `NotConverged`.
    public func minimize(_ problem: Problem, _ objective: Objective, from start: [Double]? = nil) throws -> Optimum {
        let d = problem.dimension
        let dense = try Limits.solverMode(dimension: d, forms: problem.linearFormCount, limit: memoryLimit)
        let attained = try knownAttainment ?? Attainment.isAttained(problem, objective, pivotLimit: pivotLimit, gram: !dense)
        let scale = max(1, problem.featureBound * max(1, problem.beta))
        let tolerance = gradientTolerance * scale
        var theta = start ?? problem.thetaRef
        var (f, g) = problem.valueAndGradient(objective, at: theta)
        var gradientNorm = norm(g)
        var iterations = 0
        var stalls = 0
        while iterations < maxIterations {
            // Without a minimizer the gradient vanishes only in the limit: stop on the value instead.
            if attained ? gradientNorm <= tolerance : gradientNorm == 0 { break }
            iterations += 1
            guard let p = dense ? denseDirection(problem, objective, theta, g, gradientNorm)
                                : conjugateGradientDirection(problem, objective, theta, g, gradientNorm) else { break }
            let slope = zip(g, p).reduce(0) { $0 + $1.0 * $1.1 }  // g . p < 0
            var step = 1.0
            var accepted = false
            var trial = theta
            var trialValue = f
            var trialGradient = g
            while step > 1e-20 {
                for k in 0..<d { trial[k] = theta[k] + step * p[k] }
                (trialValue, trialGradient) = problem.valueAndGradient(objective, at: trial)
                if trialValue <= f + 1e-4 * step * slope {
                    accepted = true
                    break
                }
                // In the last digits of f the Armijo test is noise: accept a step that shrinks the gradient.
                if -slope * step <= 1e-13 * max(1, abs(f)), norm(trialGradient) < gradientNorm {
                    accepted = true
                    break
                }
                step *= 0.5
            }
            guard accepted else { break }
            let decrease = f - trialValue
            theta = trial
            f = trialValue
            g = trialGradient
            gradientNorm = norm(g)
            if !attained {
                stalls = decrease <= 1e-15 * max(1, abs(f)) ? stalls + 1 : 0
                if stalls >= 3 { break }
            }
        }
        // The last digits can keep the gradient a little above the tolerance; far above it, f is not minimal.
        if attained && !(gradientNorm <= 1e-8 * scale) {
            throw NotConverged(gradientNorm: gradientNorm, iterations: iterations)
        }
        return Optimum(value: f, theta: theta, gradientNorm: gradientNorm, attained: attained, iterations: iterations)
    }

    /// delta for the gradient norm ||g||: min(1, ||g||)^2.
    static func regularisation(_ gradientNorm: Double) -> Double {
        let capped = min(1, gradientNorm)
        return capped * capped
    }

    /// The regularised Newton direction (H + delta I) p = -g by Cholesky, delta = min(1, ||g||)^2 raised
    /// tenfold while the factorization fails.
    private func denseDirection(_ problem: Problem, _ objective: Objective, _ theta: [Double], _ g: [Double],
                                _ gradientNorm: Double) -> [Double]? {
        let d = problem.dimension
        let h = problem.hessian(objective, at: theta)
        var delta = Self.regularisation(gradientNorm)
        while true {
            var regularised = h
            for k in 0..<d { regularised[k * d + k] += delta }
            if let direction = LinearAlgebra.solvePositiveDefinite(regularised, g.map { -$0 }, n: d) { return direction }
            delta = max(delta * 10, 1e-12)
            if delta > 1e12 { return nil }
        }
    }

    /// The same direction without forming H (large d): conjugate gradients on (H + delta I) p = -g with
    /// Hessian-vector products, to the relative residual min(0.5, sqrt ||g||) (inexact Newton, superlinear
    /// near the minimizer). H + delta I is positive definite, so CG is well defined; at most 2d + 50 steps.
    private func conjugateGradientDirection(_ problem: Problem, _ objective: Objective, _ theta: [Double],
                                            _ g: [Double], _ gradientNorm: Double) -> [Double]? {
        let d = problem.dimension
        let delta = Self.regularisation(gradientNorm)
        let tolerance = min(0.5, gradientNorm.squareRoot()) * gradientNorm
        var x = [Double](repeating: 0, count: d)
        var r = g.map { -$0 }
        var p = r
        var rr = r.reduce(0) { $0 + $1 * $1 }
        for _ in 0..<(2 * d + 50) where rr.squareRoot() > tolerance {
            let hp = problem.hessianVector(objective, at: theta, p)
            var curvature = 0.0
            for k in 0..<d { curvature += p[k] * (hp[k] + delta * p[k]) }
            guard curvature > 0 else { break }
            let alpha = rr / curvature
            var next = 0.0
            for k in 0..<d {
                x[k] += alpha * p[k]
                r[k] -= alpha * (hp[k] + delta * p[k])
                next += r[k] * r[k]
            }
            for k in 0..<d { p[k] = r[k] + next / rr * p[k] }
            rr = next
        }
        // A descent direction, or the steepest-descent one if CG made no progress.
        return x.allSatisfy({ $0 == 0 }) ? g.map { -$0 } : x
    }

    private func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
}
