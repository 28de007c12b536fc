/// A strict reader over a parsed `JSONValue`: every accessor names the path of the value it
/// reads (`dpo[2].features[1]`) in the error it throws, and objects reject keys they do not know.
struct JSONFields {
    let value: JSONValue
    let path: String

    init(_ value: JSONValue, path: String = "") {
        self.value = value
        self.path = path
    }

    private func fail(_ message: String) -> FieldError { FieldError(path: path, message: message) }

    /// The key path of a child; a key's control characters are escaped, so that every message stays on
    /// one line.
    private func child(_ key: String) -> String {
        let shown = InputFile.printable(key, limit: 80)
        return path.isEmpty ? shown : "\(path).\(shown)"
    }

    /// The object's fields; throws on a missing required key or any key not listed.
    func object(required: [String], optional: [String] = []) throws(FieldError) -> [String: JSONFields] {
        guard case .object(let dictionary) = value else { throw fail("must be a JSON object") }
        let allowed = Set(required + optional)
        if let unknown = dictionary.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw FieldError(path: child(unknown),
                                message: "unknown key (allowed: \((required + optional).joined(separator: ", ")))")
        }
        if let missing = required.first(where: { dictionary[$0] == nil }) {
            throw FieldError(path: child(missing), message: "missing required key")
        }
        var fields: [String: JSONFields] = [:]
        for (key, v) in dictionary { fields[key] = JSONFields(v, path: child(key)) }
        return fields
    }

    func array() throws(FieldError) -> [JSONFields] {
        guard case .array(let items) = value else { throw fail("must be a JSON array") }
        return items.enumerated().map { JSONFields($0.element, path: "\(path)[\($0.offset)]") }
    }

    func number() throws(FieldError) -> Double {
        guard case .number(let x) = value else { throw fail("must be a number") }
        guard x.isFinite else { throw fail("must be a finite number, got \(x)") }
        return x
    }

    func integer() throws(FieldError) -> Int {
        let x = try number()
        guard x == x.rounded() else { throw fail("must be an integer, got \(x)") }
        guard abs(x) < 9.0e15 else { throw fail("is too large (integers here must stay below 9e15), got \(x)") }
        return Int(x)
    }

    func string() throws(FieldError) -> String {
        guard case .string(let s) = value else { throw fail("must be a string") }
        return s
    }

    func numbers() throws(FieldError) -> [Double] {
        var result: [Double] = []
        for item in try array() { result.append(try item.number()) }
        return result
    }
}
