/// The method a verification runs: the spec's built-in method, or any `SelectionRule` (a user's new
/// method, or a deliberately wrong one in a test) run through the same shared loop. The verifications
/// take one as a parameter, so that a test can show which wrong methods they reject.
public struct MethodUnderTest: Sendable {
    /// Shown in reports: `built-in` or the rule's name.
    public let name: String
    private let body: @Sendable (Trainer, RunSpec, (TrajectoryRow) -> Void) -> RunResult
    /// True for `builtIn` only: the spec's own method, which seed lanes may run (`Trainer.runSeeds`).
    let isBuiltIn: Bool

    /// A method given by how it runs a spec on a trainer.
    public init(name: String, run: @escaping @Sendable (Trainer, RunSpec, (TrajectoryRow) -> Void) -> RunResult) {
        self.name = name
        body = run
        isBuiltIn = false
    }

    private init(builtIn name: String) {
        self.name = name
        body = { trainer, spec, record in trainer.run(spec, record: record) }
        isBuiltIn = true
    }

    /// The spec's own method (`Trainer.run(_:record:)`).
    public static let builtIn = MethodUnderTest(builtIn: "built-in")

    /// The rule `make(spec)` in place of the spec's method, with the spec's other settings.
    public static func rule<R: SelectionRule>(_ name: String, _ make: @escaping @Sendable (RunSpec) -> R) -> MethodUnderTest {
        MethodUnderTest(name: name) { trainer, spec, record in trainer.run(make(spec), spec, record: record) }
    }

    public func run(_ trainer: Trainer, _ spec: RunSpec, record: (TrajectoryRow) -> Void = { _ in }) -> RunResult {
        body(trainer, spec, record)
    }
}
