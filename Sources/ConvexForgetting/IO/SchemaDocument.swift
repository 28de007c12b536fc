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
/// speed. YAML goes through Yams, which refuses a key repeated with the same type (`a: 1` twice); a key
/// repeated with another type (`1:` and `"1":`) reaches the unknown-key check, since every schema key is a
/// plain word. Yams expands aliases without bound: a "billion laughs" file is not refused yet.
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

    /// The largest file read: 1 GiB, far above any experiment file or manifest and above any instance that
    /// JSON suits (larger data belongs in .npy arrays), so that a wrong path cannot make the parser eat memory.
    private static let sizeLimit = 1 << 30

    /// The bytes of the regular file at `path`, refused above `sizeLimit`.
    private static func readRegularFile(_ path: String) throws(FieldError) -> Data {
        func fail(_ message: String) -> FieldError { FieldError(file: path, path: "", message: message) }
        let (fd, size): (Int32, Int)
        do { (fd, size) = try InputFile.open(path, kind: "a file", unreadable: "cannot read the file") } catch {
            throw fail(error.message)
        }
        defer { close(fd) }
        guard size <= sizeLimit else { throw fail("is \(size) bytes; input files are limited to 1 GiB") }
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
            let loaded: Any?
            do { loaded = try Yams.load(yaml: text) } catch {
                throw FieldError(path: "", message: "malformed YAML/JSON (\(String(describing: error).split(separator: "\n").first ?? ""))")
            }
            guard let loaded else { throw FieldError(path: "", message: "the file is empty") }
            return JSONFields(try convert(loaded, path: ""))
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

    /// Yams's Swift values to a JSONValue (mapping keys must be strings).
    static func convert(_ value: Any, path: String) throws(FieldError) -> JSONValue {
        switch value {
        case let b as Bool: return .bool(b)
        case let i as Int: return .number(Double(i))
        case let d as Double: return .number(d)
        case let s as String: return .string(s)
        case let a as [Any]:
            var items: [JSONValue] = []
            for (k, item) in a.enumerated() { items.append(try convert(item, path: "\(path)[\(k)]")) }
            return .array(items)
        case let m as [AnyHashable: Any]:
            var fields: [String: JSONValue] = [:]
            for (key, item) in m {
                guard let k = key.base as? String else { throw FieldError(path: path, message: "mapping keys must be strings") }
                fields[k] = try convert(item, path: path.isEmpty ? k : "\(path).\(k)")
            }
            return .object(fields)
        case is NSNull: return .null
        default:
            if String(describing: value) == "nil" || String(describing: type(of: value)).contains("Optional") { return .null }
            throw FieldError(path: path, message: "unsupported value \(value)")
        }
    }

    static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let detail = ns.userInfo["NSDebugDescription"] as? String { return detail }
        return ns.localizedDescription
    }
}
