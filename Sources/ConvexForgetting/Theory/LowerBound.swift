import Foundation

/// The scalar reduction of the lower-bound construction (Theorem 3.3, Appendix A.2; THEORY.md section 2)
/// and the floor c(lambda) and horizon T0(lambda) it yields for Sequential.
///
/// Requirements, checked by `init`: no weight decay; one DPO datum with difference a = phi_w - phi_l != 0;
/// one SFT datum with two outputs whose difference b = phi_target - phi_other = -c a for some c > 0. Then with
/// s = theta . a, A = ||a||^2, r = theta_ref . a every objective depends on theta through s only:
///
///     f_DPO = softplus(-beta (s - r)),   f_SFT = softplus(c s),
///     DPO step: s <- s + alpha A beta sigma(-beta (s - r))   (u = beta (s - r): kappa = alpha A beta^2)
///     SFT step: s <- s - alpha A c sigma(c s)                (v = -c s:         kappa = alpha A c^2)
///
/// both instances of `ScalarRecursion`. f_mix,lambda is strictly convex in s with minimizer s*(lambda).
public struct LowerBoundAnalysis: Sendable {
    public let problem: Problem
    /// a = dphi of the DPO datum.
    public let direction: [Double]
    /// A = ||a||^2.
    public let squaredNorm: Double
    /// c with b = -c a.
    public let sftScale: Double
    /// r = theta_ref . a.
    public let referenceMargin: Double
    public let beta: Double
    /// s_0 = theta_start . a.
    public let startMargin: Double
    /// inf f_DPO and inf f_SFT (both 0 here, not attained) as the exact solver reports them: the values
    /// Sequential's threshold test uses.
    public let infimumDPO: Double
    public let infimumSFT: Double

    public struct NotALowerBoundInstance: Error, CustomStringConvertible {
        public var description: String
    }

    public init(problem: Problem) throws(NotALowerBoundInstance) {
        self.problem = problem
        guard problem.weightDecay == 0 else { throw NotALowerBoundInstance(description: "needs weightDecay 0") }
        guard problem.dpo.count == 1, problem.sft.count == 1, problem.sft.features.outputCount(0) == 2 else {
            throw NotALowerBoundInstance(description: "needs one DPO datum and one SFT datum with two outputs")
        }
        let a = problem.dpo.differences
        let target = problem.sft.targets[0]
        // b = phi_target - phi_other of the SFT datum.
        let b = zip(problem.sft.features.feature(0, target), problem.sft.features.feature(0, 1 - target)).map { $0 - $1 }
        let aa = a.reduce(0) { $0 + $1 * $1 }
        guard aa > 0 else { throw NotALowerBoundInstance(description: "the DPO features must differ") }
        let c = -zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } / aa
        let residual = zip(a, b).reduce(0) { $0 + pow($1.1 + c * $1.0, 2) }.squareRoot()
        guard c > 0, residual <= 1e-12 * max(1, aa.squareRoot()) else {
            throw NotALowerBoundInstance(description: "needs the SFT difference to be a negative multiple of the DPO difference")
        }
        direction = a
        squaredNorm = aa
        sftScale = c
        referenceMargin = zip(a, problem.thetaRef).reduce(0) { $0 + $1.0 * $1.1 }
        beta = problem.beta
        startMargin = zip(a, problem.defaultStart).reduce(0) { $0 + $1.0 * $1.1 }
        do {
            infimumDPO = try NewtonSolver().minimize(problem, .dpo).value
            infimumSFT = try NewtonSolver().minimize(problem, .sft).value
        } catch {
            throw NotALowerBoundInstance(description: "\(error)")
        }
    }

    /// The representative point with margin s: s a / A (f depends on theta through s only).
    public func theta(margin s: Double) -> [Double] { direction.map { $0 * s / squaredNorm } }

    public func margin(_ theta: [Double]) -> Double { zip(direction, theta).reduce(0) { $0 + $1.0 * $1.1 } }

    /// s*(lambda) = theta*(lambda) . a, from the exact solver.
    public func optimalMargin(_ optimum: Optimum) -> Double { margin(optimum.theta) }

    /// G_mix,lambda at margin s (exact: f_mix evaluated at s a / A minus f*_mix).
    public func mixGap(lambda: Double, margin s: Double, optimalValue: Double) -> Double {
        problem.value(.mix(lambda: lambda), at: theta(margin: s)) - optimalValue
    }

    /// One Sequential configuration of the verification grid.
    public enum Variant: Sendable, Equatable, CustomStringConvertible {
        case dpoFirst(StepSchedule)
        case sftFirst(StepSchedule)
        /// DPO then SFT with a constant rate and a threshold (the paper's toy).
        case dpoFirstThreshold(rate: Double, threshold: Double)

        public var description: String {
            switch self {
            case .dpoFirst(let s): "DPO->SFT \(s)"
            case .sftFirst(let s): "SFT->DPO \(s)"
            case .dpoFirstThreshold(let rate, let h): "DPO->SFT constant(\(rate)) threshold \(h)"
            }
        }

        /// The run spec with T_DPO = T_SFT = T.
        public func spec(horizon: Int, lambda: Double) -> RunSpec {
            switch self {
            case .dpoFirst(let s):
                RunSpec(method: .sequential(SequentialPlan(dpoFirst: true, dpoSteps: horizon, sftSteps: horizon)),
                        lambda: lambda, steps: horizon, schedule: s, record: .final)
            case .sftFirst(let s):
                RunSpec(method: .sequential(SequentialPlan(dpoFirst: false, dpoSteps: horizon, sftSteps: horizon)),
                        lambda: lambda, steps: horizon, schedule: s, record: .final)
            case .dpoFirstThreshold(let rate, let h):
                RunSpec(method: .sequential(SequentialPlan(dpoFirst: true, dpoSteps: horizon, sftSteps: horizon, threshold: h)),
                        lambda: lambda, steps: horizon, schedule: .constant(rate), record: .final)
            }
        }
    }

    /// The floor c(lambda) and horizon T0(lambda) of one variant (THEORY.md, section 2.3-2.5).
    public struct Floor: Sendable {
        public var floor: Double
        /// Smallest T such that every T' >= T has G_mix >= floor (Double.infinity when none is certified).
        public var horizon: Double
        /// The margin bound behind the floor: s_out <= bound (DPO last) or >= bound (SFT last).
        public var marginBound: Double
    }

    /// Sum_{t=first}^{last} kappa(alpha_t) e^{kappa(alpha_t)} bounded above for the schedule.
    func kappaSum(_ schedule: StepSchedule, kappaPerRate: Double, steps: Int) -> Double {
        switch schedule {
        case .constant(let alpha):
            let k = alpha * kappaPerRate
            return Double(steps) * k * exp(k)
        case .inverseSqrt(let alpha0):
            let k = alpha0 * kappaPerRate  // kappa_1, the largest
            return k * exp(k) * (2 * Double(steps).squareRoot() - 1)
        }
    }

    /// The smallest kappa over the second phase, updates T+1 ... 2T.
    func secondPhaseKappa(_ schedule: StepSchedule, kappaPerRate: Double, horizon: Int) -> Double {
        schedule.stepSize(2 * horizon) * kappaPerRate
    }

    /// Steps the second phase needs to pass the margin bound, by Lemmas 1 and 2.
    func neededSteps(_ variant: Variant, target: Double, horizon T: Int) -> Double {
        let A = squaredNorm, c = sftScale, r = referenceMargin
        let kappaDPO = A * beta * beta, kappaSFT = A * c * c  // per unit of step size
        switch variant {
        case .dpoFirst(let schedule):
            // Phase 1: u = beta (s - r) grows at most to the Lemma 1 bound.
            let uEnd = ScalarRecursion.growthBound(start: beta * (startMargin - r), kappaSum: kappaSum(schedule, kappaPerRate: kappaDPO, steps: T))
            let sEnd = r + uEnd / beta
            // Phase 2: v = -c s must reach -c * target.
            return ScalarRecursion.hittingSteps(from: -c * sEnd, to: -c * target,
                                                kappaMin: secondPhaseKappa(schedule, kappaPerRate: kappaSFT, horizon: T))
        case .sftFirst(let schedule):
            let vEnd = ScalarRecursion.growthBound(start: -c * startMargin, kappaSum: kappaSum(schedule, kappaPerRate: kappaSFT, steps: T))
            let sEnd = -vEnd / c
            return ScalarRecursion.hittingSteps(from: beta * (sEnd - r), to: beta * (target - r),
                                                kappaMin: secondPhaseKappa(schedule, kappaPerRate: kappaDPO, horizon: T))
        case .dpoFirstThreshold:
            preconditionFailure("the threshold variant has a horizon independent of T")
        }
    }

    /// The smallest T with neededSteps(T') <= T' for every T' >= T, found on a fine geometric grid from the
    /// top (T - neededSteps(T) is convex for these bounds, so it changes sign at most twice).
    func horizon(_ variant: Variant, target: Double) -> Double {
        var grid: [Int] = []
        var x = 1.0
        while x < 1e13 {
            let t = Int(x.rounded(.up))
            if grid.last != t { grid.append(t) }
            x *= 1.01
        }
        guard neededSteps(variant, target: target, horizon: grid.last!) <= Double(grid.last!) else { return .infinity }
        var index = grid.count - 1
        while index > 0, neededSteps(variant, target: target, horizon: grid[index - 1]) <= Double(grid[index - 1]) {
            index -= 1
        }
        if index == 0 { return 1 }
        // Bisect between the failing grid[index - 1] and the passing grid[index].
        var low = grid[index - 1], high = grid[index]
        while high - low > 1 {
            let mid = (low + high) / 2
            if neededSteps(variant, target: target, horizon: mid) <= Double(mid) { high = mid } else { low = mid }
        }
        return Double(high)
    }

    /// c(lambda) and T0(lambda) for `variant`, with margin delta for the non-threshold variants.
    public func floor(_ variant: Variant, lambda: Double, optimum: Optimum, delta: Double = 0.5) -> Floor {
        let sStar = optimalMargin(optimum)
        switch variant {
        case .dpoFirst:
            let bound = sStar - delta
            return Floor(floor: mixGap(lambda: lambda, margin: bound, optimalValue: optimum.value),
                         horizon: horizon(variant, target: bound), marginBound: bound)
        case .sftFirst:
            let bound = sStar + delta
            return Floor(floor: mixGap(lambda: lambda, margin: bound, optimalValue: optimum.value),
                         horizon: horizon(variant, target: bound), marginBound: bound)
        case .dpoFirstThreshold(let alpha, let h):
            let A = squaredNorm, c = sftScale, r = referenceMargin
            // Phase 1 ends at the first s with softplus(-beta (s - r)) - f*_DPO <= h: s >= sD.
            let sD = r - log(expm1(h + infimumDPO)) / beta
            let n1 = ScalarRecursion.hittingSteps(from: beta * (startMargin - r), to: beta * (sD - r), kappaMin: alpha * A * beta * beta)
            // It overshoots by at most one step: s <= sD + alpha A beta.
            let sDEnd = sD + alpha * A * beta
            // Phase 2 ends at the first s with softplus(c s) - f*_SFT <= h: s <= sH.
            let sH = log(expm1(h + infimumSFT)) / c
            let n2 = ScalarRecursion.hittingSteps(from: -c * sDEnd, to: -c * sH, kappaMin: alpha * A * c * c)
            // g(s) = s - alpha A c sigma(c s) is increasing when alpha A c^2 / 4 < 1, so s_out in (g(sH), sH].
            guard alpha * A * c * c / 4 < 1 else { return Floor(floor: 0, horizon: .infinity, marginBound: sH) }
            let low = sH - alpha * A * c * Stable.sigmoid(c * sH)
            let nearest = min(max(sStar, low), sH)
            let floor = nearest == sStar ? 0 : mixGap(lambda: lambda, margin: nearest, optimalValue: optimum.value)
            return Floor(floor: floor, horizon: floor > 0 ? max(n1, n2, 1) : .infinity, marginBound: nearest)
        }
    }
}
