import ConvexForgetting

/// The MAXRIGHT mutants of the library's catalogue (`WrongMethods.maxright`) as the MAXRIGHT tests name
/// them, and the built-in MAXRIGHT's rule through the same plug-in path (the control: it must pass).
enum Mutants {
    static let argminMaxright = WrongMethods.maxright[0].method
    static let unweightedMaxright = WrongMethods.maxright[1].method
    static let maxrightThroughRulePath = MethodUnderTest.rule("maxright-rule") { _ in MaxrightRule() }
}
