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
    /// Exactly these steps (ascending), plus the last.
    case steps([Int])

    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    /// Parses `all`, `log`, `every:N` (N >= 1), `final` or `steps:N1,N2,...` (ascending).
    public init(parsing text: String) throws(Invalid) {
        switch text {
        case "all": self = .all
        case "log": self = .log
        case "final": self = .final
        case _ where text.hasPrefix("steps:"):
            let list = text.dropFirst(6).split(separator: ",").map { Int($0) }
            guard !list.isEmpty, list.allSatisfy({ $0 != nil && $0! >= 0 }),
                  zip(list, list.dropFirst()).allSatisfy({ $0.0! < $0.1! }) else {
                throw Invalid(description: "'\(text)' is not a recording mode (steps:N1,N2,... needs ascending steps >= 0)")
            }
            self = .steps(list.map { $0! })
        default:
            guard text.hasPrefix("every:"), let n = Int(text.dropFirst(6)), n >= 1 else {
                throw Invalid(description: "'\(text)' is not a recording mode (expected all, log, every:N with N >= 1, or final)")
            }
            self = .every(n)
        }
    }

    /// The default for a run of `steps` updates: all up to 10,000 steps, log beyond.
    public static func automatic(steps: Int) -> RecordMode { steps > 10_000 ? .log : .all }

    /// The first step after `t` to record (the last step is handled by the loop); `t = -1` gives the first.
    public func nextStep(after t: Int) -> Int {
        if t < 0, self != .final, !isStepList { return 0 }
        switch self {
        case .all: return t + 1
        case .final: return Int.max
        case .steps(let list): return list.first { $0 > t } ?? Int.max
        case .every(let n):
            let (next, overflow) = (t / n + 1).multipliedReportingOverflow(by: n)
            return overflow ? Int.max : next
        case .log:
            guard t >= 1 else { return 1 }
            let bin = (50 * log10(Double(t))).rounded(.down)
            let next = Int(pow(10, (bin + 1) / 50).rounded(.up))
            return max(t + 1, next)
        }
    }

    /// The most rows a run of `steps` updates records (step 0 and the last included): what the output
    /// limit is checked against before a run starts.
    public func maximumRows(steps: Int) -> Int {
        let steps = max(steps, 0)
        switch self {
        case .all: return steps == Int.max ? Int.max : steps + 1
        case .final: return 1
        case .every(let n):
            let (rows, overflow) = (steps / max(n, 1)).addingReportingOverflow(2)
            return overflow ? Int.max : rows
        case .steps(let list): return list.count + 1
        case .log:
            // At most one row per step of the first 21, then 50 per decade, plus the last.
            return 22 + Int((50 * log10(Double(max(steps, 1)))).rounded(.up))
        }
    }

    private var isStepList: Bool {
        if case .steps = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .all: "all"
        case .log: "log"
        case .final: "final"
        case .every(let n): "every:\(n)"
        case .steps(let list): "steps:" + list.map(String.init).joined(separator: ",")
        }
    }
}
