import Foundation

/// A step-size schedule: a function from the update index t = 1, 2, ... to alpha_t, validated once.
public enum StepSchedule: Sendable, Equatable, CustomStringConvertible {
    /// alpha_t = alpha (the paper's toy, Appendix D.1).
    case constant(Double)
    /// alpha_t = alpha0 / sqrt(t) (Theorem 4.1).
    case inverseSqrt(Double)

    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    /// Parses a schedule name (`constant` or `inverse-sqrt`) with its base rate.
    public init(name: String, rate: Double) throws(Invalid) {
        guard rate.isFinite, rate > 0 else { throw Invalid(description: "the learning rate must be a finite number > 0, got \(rate)") }
        switch name {
        case "constant": self = .constant(rate)
        case "inverse-sqrt": self = .inverseSqrt(rate)
        default: throw Invalid(description: "unknown schedule '\(name)' (expected constant or inverse-sqrt)")
        }
    }

    public static let names = ["constant", "inverse-sqrt"]

    @inline(__always)
    public func stepSize(_ t: Int) -> Double {
        switch self {
        case .constant(let alpha): alpha
        case .inverseSqrt(let alpha0): alpha0 / Double(t).squareRoot()
        }
    }

    public var name: String {
        switch self {
        case .constant: "constant"
        case .inverseSqrt: "inverse-sqrt"
        }
    }

    public var baseRate: Double {
        switch self {
        case .constant(let a), .inverseSqrt(let a): a
        }
    }

    public var description: String { "\(name)(\(baseRate))" }
}
