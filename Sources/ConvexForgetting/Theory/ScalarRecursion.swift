import Foundation

/// The scalar recursion of Lemma A.3, u_{t+1} = u_t + kappa_t sigma(-u_t) with kappa_t > 0, to which both
/// phases of Sequential reduce on the lower-bound instance (THEORY.md, section 2). Two facts bound it:
///
/// - Growth (Lemma 1): e^{u_T} <= e^{u_0} + sum_{t < T} kappa_t e^{kappa_t}.
///   Proof: e^{u_{t+1}} = e^{u_t} e^x with x = kappa_t sigma(-u_t) in [0, kappa_t], and e^x <= 1 + x e^x, so
///   e^{u_{t+1}} <= e^{u_t} + kappa_t sigma(u_t) e^{kappa_t} <= e^{u_t} + kappa_t e^{kappa_t}.
/// - Hitting time (Lemma 2): if kappa_t >= kappa_min > 0, u reaches U within
///   ceil(2 (U - u_0)_+ / kappa_min) steps when U <= 0, and within
///   ceil(2 (-u_0)_+ / kappa_min) + ceil(2 e^U / kappa_min) steps when U > 0; after that it stays >= U
///   (u only increases). Proof: while u < 0, sigma(-u) > 1/2, so u gains more than kappa_min / 2 a step;
///   while 0 <= u < U, e^{u_{t+1}} - e^{u_t} >= e^{u_t} x = kappa_t sigma(u_t) >= kappa_min / 2.
public enum ScalarRecursion {
    /// The bound of Lemma 1 on u_T, given u_0 and sum_{t<T} kappa_t e^{kappa_t}.
    public static func growthBound(start u0: Double, kappaSum: Double) -> Double {
        // log(e^{u0} + S), computed without overflow.
        let s = max(kappaSum, 0)
        if s == 0 { return u0 }
        let m = max(u0, log(s))
        return m + log(exp(u0 - m) + exp(log(s) - m))
    }

    /// Lemma 2 solved for the target: the largest X that `hittingSteps(from: u0, to: X, kappaMin:)` puts
    /// within `steps` updates, so u >= X after them. Since ceil(y) <= n exactly when y <= n:
    /// X <= 0 is reached when X <= u0 + n kappa / 2; X > 0 when 2 e^X / kappa <= n - n1 with
    /// n1 = ceil(2 (-u0)_+ / kappa). And X = u0 is reached in no step.
    public static func reachable(from u0: Double, steps n: Int, kappaMin: Double) -> Double {
        precondition(kappaMin > 0)
        var best = u0
        best = max(best, min(0, u0 + Double(n) * kappaMin / 2))
        let n1 = (2 * max(0, -u0) / kappaMin).rounded(.up)
        let budget = (Double(n) - n1) * kappaMin / 2
        if budget > 1 { best = max(best, log(budget)) }
        return best
    }

    /// The bound of Lemma 2 on the steps needed to reach U from u_0.
    public static func hittingSteps(from u0: Double, to target: Double, kappaMin: Double) -> Double {
        precondition(kappaMin > 0)
        if u0 >= target { return 0 }
        if target <= 0 { return (2 * (target - u0) / kappaMin).rounded(.up) }
        return (2 * max(0, -u0) / kappaMin).rounded(.up) + (2 * exp(target) / kappaMin).rounded(.up)
    }
}
