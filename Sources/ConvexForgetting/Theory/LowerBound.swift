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
        case dpoFirst(StepSchedule, PhaseSchedule)
        case sftFirst(StepSchedule, PhaseSchedule)
        /// DPO then SFT with a constant rate and a threshold (the paper's toy).
        case dpoFirstThreshold(rate: Double, threshold: Double)

        public var description: String {
            func phases(_ p: PhaseSchedule) -> String { p == .restart ? " restart" : "" }
            return switch self {
            case .dpoFirst(let s, let p): "DPO->SFT \(s)\(phases(p))"
            case .sftFirst(let s, let p): "SFT->DPO \(s)\(phases(p))"
            case .dpoFirstThreshold(let rate, let h): "DPO->SFT constant(\(rate)) threshold \(h)"
            }
        }

        /// The run spec with T_DPO = T_SFT = T.
        public func spec(horizon: Int, lambda: Double) -> RunSpec {
            switch self {
            case .dpoFirst(let s, let p):
                RunSpec(method: .sequential(SequentialPlan(dpoFirst: true, dpoSteps: horizon, sftSteps: horizon, phaseSchedule: p)),
                        lambda: lambda, steps: horizon, schedule: s, record: .final)
            case .sftFirst(let s, let p):
                RunSpec(method: .sequential(SequentialPlan(dpoFirst: false, dpoSteps: horizon, sftSteps: horizon, phaseSchedule: p)),
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

    /// Sum_{t=first}^{last} kappa_t e^{kappa_t} bounded above, kappa_t = alpha_t kappaPerRate: for
    /// alpha0 / sqrt(t), e^{kappa_t} <= e^{kappa_first} and sum_{t=a}^{b} t^{-1/2} <= 2 (sqrt(b) - sqrt(a - 1)),
    /// or 2 sqrt(b) - 1 from a = 1.
    func kappaSum(_ schedule: StepSchedule, kappaPerRate: Double, first a: Int, last b: Int) -> Double {
        guard b >= a else { return 0 }
        switch schedule {
        case .constant(let alpha):
            let k = alpha * kappaPerRate
            return Double(b - a + 1) * k * exp(k)
        case .inverseSqrt(let alpha0):
            let k1 = alpha0 * kappaPerRate
            let largest = k1 / Double(a).squareRoot()
            let roots = a == 1 ? 2 * Double(b).squareRoot() - 1 : 2 * (Double(b).squareRoot() - Double(a - 1).squareRoot())
            return k1 * exp(largest) * roots
        }
    }

    /// The update indices of the two phases of horizon T (T updates each): 1 ... T, then T + 1 ... 2T, or
    /// 1 ... T again when the second phase restarts the schedule.
    static func secondPhaseStart(_ phases: PhaseSchedule, horizon T: Int) -> Int { phases == .restart ? 1 : T + 1 }

    /// Steps the second phase needs to pass the margin bound, by Lemmas 1 and 2.
    public func neededSteps(_ variant: Variant, target: Double, horizon T: Int) -> Double {
        let A = squaredNorm, c = sftScale, r = referenceMargin
        let kappaDPO = A * beta * beta, kappaSFT = A * c * c  // per unit of step size
        switch variant {
        case .dpoFirst(let schedule, let phases):
            // Phase 1: u = beta (s - r) grows at most to the Lemma 1 bound.
            let uEnd = ScalarRecursion.growthBound(start: beta * (startMargin - r), kappaSum: kappaSum(schedule, kappaPerRate: kappaDPO, first: 1, last: T))
            let sEnd = r + uEnd / beta
            // Phase 2: v = -c s must reach -c * target; its smallest kappa is that of its last update.
            let last = Self.secondPhaseStart(phases, horizon: T) + T - 1
            return ScalarRecursion.hittingSteps(from: -c * sEnd, to: -c * target, kappaMin: schedule.stepSize(last) * kappaSFT)
        case .sftFirst(let schedule, let phases):
            let vEnd = ScalarRecursion.growthBound(start: -c * startMargin, kappaSum: kappaSum(schedule, kappaPerRate: kappaSFT, first: 1, last: T))
            let sEnd = -vEnd / c
            let last = Self.secondPhaseStart(phases, horizon: T) + T - 1
            return ScalarRecursion.hittingSteps(from: beta * (sEnd - r), to: beta * (target - r), kappaMin: schedule.stepSize(last) * kappaDPO)
        case .dpoFirstThreshold:
            preconditionFailure("the threshold variant has a horizon independent of T")
        }
    }

    /// T0: the smallest T with N(T') <= T' for every T' >= T, exactly over all T in 1 ... Int.max / 2 (the horizons a verification accepts) (THEORY.md
    /// section 2.4). N(T) = neededSteps is non-decreasing in T (a longer first phase ends farther from the
    /// target, and the second phase's smallest step is no larger), so on [a, b] every T passes when
    /// N(b) <= a and every T fails when N(a) > b; otherwise the interval is halved, its upper half first,
    /// and intervals shorter than 32 are scanned. The result equals an exhaustive integer scan.
    func horizon(_ variant: Variant, target: Double) -> Double {
        func needed(_ t: Int) -> Double { neededSteps(variant, target: target, horizon: t) }
        func largestFailure(_ a: Int, _ b: Int) -> Int? {
            if needed(b) <= Double(a) { return nil }
            if needed(a) > Double(b) { return b }
            if b - a < 32 {
                for t in stride(from: b, through: a, by: -1) where needed(t) > Double(t) { return t }
                return nil
            }
            let mid = a + (b - a) / 2
            return largestFailure(mid + 1, b) ?? largestFailure(a, mid)
        }
        let top = Int.max / 2  // the largest horizon a verification accepts (both phases: 2T updates)
        guard let failure = largestFailure(1, top) else { return 1 }
        return failure >= top ? .infinity : Double(failure + 1)
    }

    /// The certified interval [L(T), U(T)] of Sequential's output margin s_out for horizon T (THEORY.md
    /// section 2.6): each phase's end bounded from above by Lemma 1 (from the highest start) and from below
    /// by Lemma 2 solved for the target its T updates are sure to reach (from the lowest start). The
    /// threshold variant has its interval (g(s_h), s_h] once T >= T0, and none before (nil).
    public func envelope(_ variant: Variant, horizon T: Int) -> (low: Double, high: Double)? {
        let A = squaredNorm, c = sftScale, r = referenceMargin
        let kappaDPO = A * beta * beta, kappaSFT = A * c * c
        /// [low, high] of x after the updates first ... first + T - 1 of x <- x + kappa_t sigma(-x), from [x0Low, x0High].
        func phase(_ schedule: StepSchedule, _ kappaPerRate: Double, first: Int, from x0: (Double, Double)) -> (Double, Double) {
            let high = ScalarRecursion.growthBound(start: x0.1, kappaSum: kappaSum(schedule, kappaPerRate: kappaPerRate, first: first, last: first + T - 1))
            let low = ScalarRecursion.reachable(from: x0.0, steps: T, kappaMin: schedule.stepSize(first + T - 1) * kappaPerRate)
            return (low, high)
        }
        switch variant {
        case .dpoFirst(let schedule, let phases):
            let u = phase(schedule, kappaDPO, first: 1, from: (beta * (startMargin - r), beta * (startMargin - r)))
            let sD = (r + u.0 / beta, r + u.1 / beta)
            let v = phase(schedule, kappaSFT, first: Self.secondPhaseStart(phases, horizon: T), from: (-c * sD.1, -c * sD.0))
            return (-v.1 / c, -v.0 / c)
        case .sftFirst(let schedule, let phases):
            let v = phase(schedule, kappaSFT, first: 1, from: (-c * startMargin, -c * startMargin))
            let sS = (-v.1 / c, -v.0 / c)
            let u = phase(schedule, kappaDPO, first: Self.secondPhaseStart(phases, horizon: T), from: (beta * (sS.0 - r), beta * (sS.1 - r)))
            return (r + u.0 / beta, r + u.1 / beta)
        case .dpoFirstThreshold(let alpha, let h):
            let t = thresholdInterval(alpha: alpha, threshold: h)
            return Double(T) >= t.horizon ? (t.low, t.high) : nil
        }
    }

    /// The threshold variant's interval argument (THEORY.md section 2.5): both phases end within N_1 and
    /// N_2 updates, and the output lies in (g(s_h), s_h]. Horizon infinite when g is not increasing.
    func thresholdInterval(alpha: Double, threshold h: Double) -> (low: Double, high: Double, horizon: Double) {
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
        guard alpha * A * c * c / 4 < 1 else { return (-.infinity, sH, .infinity) }
        return (sH - alpha * A * c * Stable.sigmoid(c * sH), sH, max(n1, n2, 1))
    }

    /// G_mix,lambda at the point of [low, high] nearest to s*(lambda): the smallest gap an output in the
    /// interval can have (G is convex in s with its minimum at s*).
    public func certifiedFloor(lambda: Double, optimum: Optimum, low: Double, high: Double) -> Double {
        let sStar = optimalMargin(optimum)
        let nearest = min(max(sStar, low), high)
        return nearest == sStar ? 0 : max(0, mixGap(lambda: lambda, margin: nearest, optimalValue: optimum.value))
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
            let interval = thresholdInterval(alpha: alpha, threshold: h)
            guard interval.horizon.isFinite else { return Floor(floor: 0, horizon: .infinity, marginBound: interval.high) }
            let nearest = min(max(sStar, interval.low), interval.high)
            let floor = nearest == sStar ? 0 : mixGap(lambda: lambda, margin: nearest, optimalValue: optimum.value)
            return Floor(floor: floor, horizon: floor > 0 ? interval.horizon : .infinity, marginBound: nearest)
        }
    }
}
