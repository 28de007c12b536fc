import Foundation

/// A schedule's name as the command line and experiment files spell it.
public enum ScheduleName: String, CaseIterable, Sendable {
    case constant
    case inverseSqrt = "inverse-sqrt"

    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// A step-size schedule: a function from the update index t = 1, 2, ... to alpha_t, validated once.
public enum StepSchedule: Sendable, Equatable, CustomStringConvertible {
    /// alpha_t = alpha (the paper's toy, Appendix D.1).
    case constant(Double)
    /// alpha_t = alpha0 / sqrt(t) (Theorem 4.1).
    case inverseSqrt(Double)

    /// The schedule `name` with base rate `rate` (a finite number > 0).
    public init(_ name: ScheduleName, rate: Double) throws(ArgumentError) {
        switch name {
        case .constant: self = .constant(rate)
        case .inverseSqrt: self = .inverseSqrt(rate)
        }
        try validate()
    }

    /// Checks the base rate.
    public func validate() throws(ArgumentError) {
        guard baseRate.isFinite, baseRate > 0 else {
            throw ArgumentError("learningRate", "must be a finite number > 0, got \(baseRate)")
        }
    }

    @inline(__always)
    public func stepSize(_ t: Int) -> Double {
        switch self {
        case .constant(let alpha): alpha
        case .inverseSqrt(let alpha0): alpha0 / Double(t).squareRoot()
        }
    }

    public var name: ScheduleName {
        switch self {
        case .constant: .constant
        case .inverseSqrt: .inverseSqrt
        }
    }

    public var baseRate: Double {
        switch self {
        case .constant(let a), .inverseSqrt(let a): a
        }
    }

    public var description: String { "\(name.rawValue)(\(baseRate))" }
}
