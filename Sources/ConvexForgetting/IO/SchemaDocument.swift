import Foundation
import Yams

/// The one schema layer for every input file: instance JSON, an .npy instance's instance.json, experiment
/// YAML or JSON, and sweep manifests. Each is parsed into a `JSONValue` and read through `JSONFields`, which
/// refuses unknown keys and non-finite numbers and names the key path of every error. Every error is a
/// `FieldError` carrying the file.
///
/// JSON goes through the hand-written strict reader of JSONValue.swift (duplicate keys refused), not Yams:
/// measured on a 42.8 MB instance file (2 cores, best of 3), it parses at about 71 MB/s, Foundation's
/// JSONSerialization at 7.6 MB/s and Yams at 2.3 MB/s (with 3.5x the peak memory), so instances keep their load
/// speed. YAML is composed by Yams into a node tree (aliases shared, not expanded) and converted here: every
/// key at most once by its text (`1:` and `"1":` too), and at most `yamlNodeBudget` values, so that a
/// "billion laughs" file is refused at once instead of filling memory.
enum SchemaDocument {
    enum Format {
        /// Strict JSON (plus NaN/Infinity words, refused later by field).
        case json
        /// YAML 1.1, of which JSON is a subset.
        case yaml
    }

    /// Reads and parses a file; errors name it. Only a regular file of at most `sizeLimit` bytes is read
    /// (a FIFO or device is refused before it is opened, see `InputFile`), and a UTF-8 byte-order mark at
    /// its start is skipped.
    static func load(path: String, format: Format) throws(FieldError) -> JSONFields {
        var data = try readRegularFile(path)
        if data.starts(with: [0xEF, 0xBB, 0xBF]) { data.removeFirst(3) }
        return try attributed(to: path) { () throws(FieldError) in try parse(data, format: format) }
    }

    /// The largest file read: 256 MiB, far above any experiment file or manifest and above any instance that
    /// JSON suits (larger data belongs in .npy arrays): the parsed tree takes about 35 times the text, so a
    /// larger file could exhaust memory instead of failing with a message.
    public static let sizeLimit = 256 << 20

    /// The bytes of the regular file at `path`, refused above `sizeLimit`.
    private static func readRegularFile(_ path: String) throws(FieldError) -> Data {
        func fail(_ message: String) -> FieldError { FieldError(file: path, path: "", message: message) }
        let (fd, size): (Int32, Int)
        do { (fd, size) = try InputFile.open(path, kind: "a file", unreadable: "cannot read the file") } catch {
            throw fail(error.message)
        }
        defer { close(fd) }
        guard size <= sizeLimit else {
            throw fail("is \(size) bytes; JSON and YAML inputs are limited to 256 MiB (write large instances as .npy directories)")
        }
        // One byte beyond the size seen, to notice a file that grew since.
        var data = Data(count: size + 1)
        let done = data.withUnsafeMutableBytes { InputFile.read(fd, into: $0.baseAddress!, count: size + 1) }
        guard done <= size else { throw fail("changed while it was read") }
        data.count = done
        return data
    }

    /// Parses a document.
    static func parse(_ data: Data, format: Format) throws(FieldError) -> JSONFields {
        switch format {
        case .json:
            do { return JSONFields(try JSONValue.parse([UInt8](data))) } catch {
                throw FieldError(path: "", message: "malformed JSON at line \(error.line), column \(error.column): \(error.message)")
            }
        case .yaml:
            guard let text = String(data: data, encoding: .utf8) else {
                throw FieldError(path: "", message: "is not UTF-8 text")
            }
            let root: Node?
            do { root = try Yams.compose(yaml: text) } catch {
                throw FieldError(path: "", message: "malformed YAML/JSON (\(String(describing: error).split(separator: "\n").first ?? ""))")
            }
            guard let root else { throw FieldError(path: "", message: "the file is empty") }
            var budget = yamlNodeBudget
            return JSONFields(try convert(root, path: "", budget: &budget))
        }
    }

    /// The most YAML nodes a document may expand to: aliases are shared in the composed tree but would
    /// be copied into the value, so a "billion laughs" file is refused here, in milliseconds.
    static let yamlNodeBudget = 1_000_000

    /// A composed YAML node as a JSONValue: scalars by their resolved tag (null, bool, int, float, else
    /// string), mapping keys plain strings, each key once.
    static func convert(_ node: Node, path: String, budget: inout Int) throws(FieldError) -> JSONValue {
        budget -= 1
        guard budget >= 0 else {
            throw FieldError(path: path, message: "expands to more than \(yamlNodeBudget) values (nested YAML aliases?)")
        }
        switch node {
        case .scalar(let scalar):
            switch Tag.Name(rawValue: node.tag.description) {
            case .null: return .null
            case .bool:
                guard let b = Bool.construct(from: scalar) else { break }
                return .bool(b)
            case .int:
                // Integers beyond Int (a seed of 2^64 - 1) stay numbers, refused later as too large.
                if let i = Int.construct(from: scalar) { return .number(Double(i)) }
                if let d = Double(scalar.string.replacingOccurrences(of: "_", with: "")) { return .number(d) }
            case .float:
                guard let d = Double.construct(from: scalar) else { break }
                return .number(d)
            default:
                break
            }
            return .string(scalar.string)
        case .sequence(let sequence):
            var items: [JSONValue] = []
            for (k, item) in sequence.enumerated() { items.append(try convert(item, path: "\(path)[\(k)]", budget: &budget)) }
            return .array(items)
        case .mapping(let mapping):
            var fields: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard case .scalar(let k) = key else { throw FieldError(path: path, message: "mapping keys must be strings") }
                let child = path.isEmpty ? k.string : "\(path).\(k.string)"
                guard fields[k.string] == nil else { throw FieldError(path: child, message: "duplicate key") }
                fields[k.string] = try convert(value, path: child, budget: &budget)
            }
            return .object(fields)
        case .alias:
            throw FieldError(path: path, message: "unresolved YAML alias")
        }
    }

    /// Runs `body`, naming `file` in any error it throws.
    static func attributed<T>(to file: String, _ body: () throws(FieldError) -> T) throws(FieldError) -> T {
        do { return try body() } catch {
            var named = error
            named.file = file
            throw named
        }
    }
}
