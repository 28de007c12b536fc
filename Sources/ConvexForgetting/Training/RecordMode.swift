import Foundation

/// Which iterates of a run become CSV rows. The final iterate is always recorded.
public enum RecordMode: Sendable, Equatable, CustomStringConvertible {
    /// Every iterate, step 0 included.
    case all
    /// About 50 rows per decade of steps (every step while steps are few), plus the last.
    case log
    /// Steps 0, N, 2N, ..., plus the last.
    case every(Int)
    /// The last iterate only.
    case final

    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    /// Parses `all`, `log`, `every:N` (N >= 1) or `final`.
    public init(parsing text: String) throws(Invalid) {
        switch text {
        case "all": self = .all
        case "log": self = .log
        case "final": self = .final
        default:
            guard text.hasPrefix("every:"), let n = Int(text.dropFirst(6)), n >= 1 else {
                throw Invalid(description: "'\(text)' is not a recording mode (expected all, log, every:N with N >= 1, or final)")
            }
            self = .every(n)
        }
    }

    /// The default for a run of `steps` updates: all up to 10,000 steps, log beyond.
    public static func automatic(steps: Int) -> RecordMode { steps > 10_000 ? .log : .all }

    /// The first step after `t` to record (the last step is handled by the loop).
    public func nextStep(after t: Int) -> Int {
        switch self {
        case .all: return t + 1
        case .final: return Int.max
        case .every(let n): return (t / n + 1) * n
        case .log:
            guard t >= 1 else { return 1 }
            let bin = (50 * log10(Double(t))).rounded(.down)
            let next = Int(pow(10, (bin + 1) / 50).rounded(.up))
            return max(t + 1, next)
        }
    }

    public var description: String {
        switch self {
        case .all: "all"
        case .log: "log"
        case .final: "final"
        case .every(let n): "every:\(n)"
        }
    }
}
