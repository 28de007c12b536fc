/// A library function's argument out of its domain. `argument` is the parameter's name as the library
/// spells it (`lambda`, `learningRate`, `horizons`); the command line shows it as its flag (`--learning-rate`).
public struct ArgumentError: Error, Equatable, CustomStringConvertible {
    public var argument: String
    public var message: String

    public init(_ argument: String, _ message: String) {
        self.argument = argument
        self.message = message
    }

    public var description: String { "\(argument) \(message)" }

    /// The argument as a command-line flag: `learningRate` -> `--learning-rate`.
    public var flag: String {
        "--" + argument.reduce(into: "") { text, c in
            if c.isUppercase { text += "-" + c.lowercased() } else { text.append(c) }
        }
    }
}
