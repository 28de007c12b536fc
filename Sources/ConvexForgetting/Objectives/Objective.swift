/// Which objective of the paper: f_DPO (eq. 1), f_SFT (eq. 4), or f_mix,lambda = lambda f_DPO +
/// (1 - lambda) f_SFT (eq. 6), lambda in [0, 1] (larger lambda = more weight on DPO).
public enum Objective: Sendable, Hashable, CustomStringConvertible {
    case dpo
    case sft
    case mix(lambda: Double)

    /// The weights (on f_DPO, on f_SFT) that make up this objective.
    public var weights: (dpo: Double, sft: Double) {
        switch self {
        case .dpo: (1, 0)
        case .sft: (0, 1)
        case .mix(let lambda): (lambda, 1 - lambda)
        }
    }

    /// `dpo`, `sft` or `mix`: the name used on the command line and in CSV files.
    public var name: String {
        switch self {
        case .dpo: "dpo"
        case .sft: "sft"
        case .mix: "mix"
        }
    }

    public var description: String {
        if case .mix(let lambda) = self { return "mix(lambda = \(lambda))" }
        return name
    }
}
