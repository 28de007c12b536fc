/// The exact optimum of MAXRIGHT's own target (eq. 15, Remark 4.3), the weighted Chebyshev scalarization
///
///     F_lambda(theta) = max{ lambda (f_DPO(theta) - f*_DPO), (1 - lambda)(f_SFT(theta) - f*_SFT) },
///
/// whose minimizer is a (weakly) Pareto optimal point that in general differs from theta*_mix,lambda.
/// f* are the exact optima of `NewtonSolver` (the infima where not attained).
public struct MaxGapOptimum: Sendable, Equatable {
    /// Where on the Pareto front the optimum sits.
    public enum Meeting: String, Sendable {
        /// The two weighted gaps are equal at theta*(w) for some w in (0, 1) (or in [0, 1] with weight
        /// decay): the generic case.
        case balanced
        /// The gaps never meet inside: the SFT end of the front (w -> 0) is best for both, F* = 0 (lambda = 0,
        /// or an SFT optimum that is also DPO optimal).
        case sftEnd = "sft-end"
        /// The mirror case at the DPO end (w -> 1): lambda = 1, or a DPO optimum that is also SFT optimal.
        case dpoEnd = "dpo-end"
    }

    public var lambda: Double
    /// min F_lambda when attained, otherwise inf F_lambda (approached): exactly F_lambda(theta), computed
    /// as `largestWeightedGap` computes it (>= 0 up to rounding), so the gap_max of `theta` is 0.
    public var value: Double
    /// The minimizer theta*(w), or when not attained the point on the front whose F_lambda is `value`.
    public var theta: [Double]
    /// The mix weight w with theta = theta*(w) = argmin w f_DPO + (1 - w) f_SFT.
    public var weight: Double
    /// lambda (f_DPO - f*_DPO) and (1 - lambda)(f_SFT - f*_SFT) at theta.
    public var weightedGapDPO: Double
    public var weightedGapSFT: Double
    /// ||grad f_mix,w(theta)||: the certificate that theta is theta*(w).
    public var gradientNorm: Double
    /// Whether F_lambda has a minimizer (THEORY.md section 5.2).
    public var attained: Bool
    public var meeting: Meeting
    /// Mix solves made (each a Newton run, warm-started).
    public var iterations: Int

    /// F_lambda from the two plain gaps f_DPO - f*_DPO and f_SFT - f*_SFT; lambda = 0 or 1 drops the
    /// other term (0 times a finite gap).
    public static func largestWeightedGap(lambda: Double, gapDPO: Double, gapSFT: Double) -> Double {
        Swift.max(lambda * gapDPO, (1 - lambda) * gapSFT)
    }
}

/// Solves min F_lambda exactly by a one-dimensional root search along the Pareto front (THEORY.md
/// section 5): theta*(w) = argmin w f_DPO + (1 - w) f_SFT, the weighted gaps g_DPO(w) = lambda (f_DPO(theta*(w))
/// - f*_DPO) (non-increasing in w) and g_SFT(w) = (1 - lambda)(f_SFT(theta*(w)) - f*_SFT) (non-decreasing)
/// meet at w*, and theta*(w*) minimizes F_lambda. h(w) = g_DPO - g_SFT is bracketed from w = lambda (the mix
/// optimum, already known) towards the end where it changes sign, then its root is found by the Illinois
/// variant of regula falsi with bisection as the safeguard; every mix solve is warm-started at the last
/// minimizer.
///
/// Ends of the search: with weight decay every objective is strongly convex and w ranges over [0, 1] (the
/// ends are the DPO and SFT optima). Without it the ends are w = `endWeight` and 1 - `endWeight`, since
/// theta*(w) may run off to infinity as w -> 0 or 1 (an infimum that is not attained).
public struct MaxGapSolver: Sendable {
    public var solver: NewtonSolver
    /// Closest approach to w = 0 and w = 1 without weight decay.
    public var endWeight = 1e-12
    /// |h(w)| at which the weighted gaps count as met, relative to max(1, |f*_DPO|, |f*_SFT|): min F_lambda is then
    /// known to about this accuracy. f*_DPO and f*_SFT come from solves to Newton's default tolerance, good to
    /// about 1e-12, so a smaller tolerance would only add solves.
    public var gapTolerance = 1e-12
    /// Root-search steps (mix solves) beyond the bracket.
    public var maxSteps = 200

    public init(solver: NewtonSolver = NewtonSolver()) {
        self.solver = solver
    }

    /// One point theta*(w) of the front with its weighted gaps.
    struct FrontPoint {
        var weight: Double
        var optimum: Optimum
        var gapDPO: Double
        var gapSFT: Double
        var h: Double { gapDPO - gapSFT }
        var largest: Double { Swift.max(gapDPO, gapSFT) }
    }

    /// The minimizer of F_lambda given the exact optima `dpo`, `sft` and, if known, `mix` (of f_mix,lambda;
    /// solved when nil). Throws `ArgumentError` for lambda outside [0, 1] and what `NewtonSolver.minimize`
    /// throws.
    public func minimize(_ problem: Problem, lambda: Double, dpo: Optimum, sft: Optimum, mix: Optimum? = nil) throws -> MaxGapOptimum {
        guard lambda.isFinite, lambda >= 0, lambda <= 1 else { throw ArgumentError("lambda", "must be in [0, 1], got \(lambda)") }
        var solves = 0
        func point(_ w: Double, _ optimum: Optimum) -> FrontPoint {
            let gapDPO = lambda * (problem.value(.dpo, at: optimum.theta) - dpo.value)
            let gapSFT = (1 - lambda) * (problem.value(.sft, at: optimum.theta) - sft.value)
            return FrontPoint(weight: w, optimum: optimum, gapDPO: gapDPO, gapSFT: gapSFT)
        }
        // Warm-started at a neighbour's minimizer, a solve to the default gradient tolerance may take no step
        // at all when w moves by less than about 1e-12 / curvature, which would leave h piecewise constant
        // near its root; a 1000 times tighter tolerance costs one more (quadratically convergent) step.
        var inner = solver
        inner.gradientTolerance = solver.gradientTolerance * 1e-3
        // Every solve below is at some w in (0, 1), whose attainment is the same for all such w (the same
        // linear forms with positive weights): decided once, at w = lambda.
        inner.knownAttainment = nil
        func solve(_ w: Double, from start: [Double]) throws -> FrontPoint {
            solves += 1
            return point(w, try inner.minimize(problem, .mix(lambda: w), from: start))
        }
        func result(_ p: FrontPoint, attained: Bool, _ meeting: MaxGapOptimum.Meeting) -> MaxGapOptimum {
            MaxGapOptimum(lambda: lambda, value: p.largest, theta: p.optimum.theta, weight: p.weight,
                          weightedGapDPO: p.gapDPO, weightedGapSFT: p.gapSFT, gradientNorm: p.optimum.gradientNorm,
                          attained: attained, meeting: meeting, iterations: solves)
        }
        // lambda = 0 or 1: F is the one remaining gap (the other term is 0), minimized at that objective's optimum.
        if lambda == 0 { return result(point(0, sft), attained: sft.attained, .sftEnd) }
        if lambda == 1 { return result(point(1, dpo), attained: dpo.attained, .dpoEnd) }

        let scale = Swift.max(1, abs(dpo.value), abs(sft.value))
        let tolerance = gapTolerance * scale
        let middle: FrontPoint
        if let mix { middle = point(lambda, mix) } else { middle = try solve(lambda, from: problem.thetaRef) }
        // Attainment of f_mix,w is the same for every w in (0, 1) (the same linear forms, positive weights).
        let mixAttained = middle.optimum.attained
        inner.knownAttainment = mixAttained
        // Both gaps vanish at theta*(lambda): a common minimizer of f_DPO and f_SFT, F* = 0.
        if abs(middle.h) <= tolerance || (middle.gapDPO <= tolerance && middle.gapSFT <= tolerance) {
            return result(middle, attained: mixAttained, .balanced)
        }
        let decayed = problem.weightDecay > 0
        // h(w) is non-increasing: h > 0 at lambda means the meeting point lies at larger w.
        let towardsDPO = middle.h > 0
        let end: FrontPoint
        if decayed {
            end = towardsDPO ? point(1, dpo) : point(0, sft)
        } else {
            end = try solve(towardsDPO ? 1 - endWeight : endWeight, from: middle.optimum.theta)
        }
        // The sign does not change before the end: the gaps are already ordered there, the end is best.
        if towardsDPO ? end.h >= -tolerance : end.h <= tolerance {
            let attained = decayed ? (towardsDPO ? dpo.attained : sft.attained) : false
            return result(end, attained: attained, towardsDPO ? .dpoEnd : .sftEnd)
        }
        // Bracket [low, high] in w with h(low) > 0 > h(high).
        var low = towardsDPO ? middle : end
        var high = towardsDPO ? end : middle
        var best = low.largest <= high.largest ? low : high
        var side = 0  // Illinois: which end was kept last (-1 low, +1 high)
        var lowH = low.h, highH = high.h
        for _ in 0..<maxSteps {
            let width = high.weight - low.weight
            if width <= 4 * Double.ulpOfOne * Swift.max(low.weight, 1e-300) { break }
            var w = low.weight + width * lowH / (lowH - highH)
            if !w.isFinite || w <= low.weight || w >= high.weight { w = low.weight + width / 2 }
            let start = (w - low.weight <= high.weight - w ? low : high).optimum.theta
            let p = try solve(w, from: start)
            if p.largest < best.largest { best = p }
            if abs(p.h) <= tolerance { break }
            if p.h > 0 {
                low = p
                lowH = p.h
                if side == -1 { highH /= 2 }
                side = -1
            } else {
                high = p
                highH = p.h
                if side == 1 { lowH /= 2 }
                side = 1
            }
        }
        return result(best, attained: mixAttained, .balanced)
    }
}
