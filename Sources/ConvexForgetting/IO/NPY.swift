import Foundation

/// Opening an input file that may be anything a user can name: the path is checked with `stat` before it
/// is opened, so a FIFO, device or socket is refused before an open or a read could block on it, and the
/// descriptor is checked again with `fstat` (the open is non-blocking, so a path swapped in between cannot
/// block either). Shared by the .npy reader and the schema layer.
enum InputFile {
    struct Refusal: Error {
        var message: String
    }

    /// A read-only descriptor on the regular file at `path` and its size in bytes. `kind` names what a
    /// directory is not ("a .npy file"); `unreadable` starts the message when the file cannot be opened
    /// ("cannot open (No such file or directory)").
    static func open(_ path: String, kind: String, unreadable: String = "cannot open") throws(Refusal) -> (fd: Int32, size: Int) {
        func failure() -> Refusal { Refusal(message: "\(unreadable) (\(String(cString: strerror(errno))))") }
        var status = stat()
        guard stat(path, &status) == 0 else { throw failure() }
        try check(status, kind: kind)
        let fd = Foundation.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw failure() }
        guard fstat(fd, &status) == 0 else {
            let refusal = failure()
            close(fd)
            throw refusal
        }
        do { try check(status, kind: kind) } catch {
            close(fd)
            throw error
        }
        return (fd, Int(status.st_size))
    }

    private static func check(_ status: stat, kind: String) throws(Refusal) {
        switch status.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFDIR: throw Refusal(message: "is a directory, not \(kind)")
        case S_IFIFO: throw Refusal(message: "is not a regular file (it is a FIFO)")
        case S_IFCHR: throw Refusal(message: "is not a regular file (it is a character device)")
        case S_IFBLK: throw Refusal(message: "is not a regular file (it is a block device)")
        case S_IFSOCK: throw Refusal(message: "is not a regular file (it is a socket)")
        default: throw Refusal(message: "is not a regular file")
        }
    }

    /// Reads up to `count` bytes into `buffer`, retrying interrupted and partial reads; returns how many
    /// were read (fewer only at the end of the file or on a read error).
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawPointer, count: Int) -> Int {
        var done = 0
        while done < count {
            let n = Foundation.read(fd, buffer + done, count - done)
            if n > 0 {
                done += n
            } else if n < 0, errno == EINTR {
                continue
            } else {
                break
            }
        }
        return done
    }

    /// `text` fit for a one-line message: control characters escaped, at most `limit` characters.
    static func printable(_ text: String, limit: Int = 40) -> String {
        var result = ""
        for (n, scalar) in text.unicodeScalars.enumerated() {
            if n == limit { return result + "…" }
            if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar == "\u{2028}" || scalar == "\u{2029}" {
                result += scalar.escaped(asASCII: true)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}

/// NumPy .npy files (format versions 1 to 3): little-endian float64, int64, int32 and uint8 arrays in C
/// order. Reading copies the file's bytes straight into the array's storage: no per-element parsing and no
/// second copy of the data.
///
/// Any file is safe to read: only regular files are opened (see `InputFile`); the header length, the
/// shape's element count and the data size are checked against the real file size before anything is
/// allocated, so a damaged or hostile header cannot make the reader allocate more than the file holds.
public enum NPY {
    public struct Failure: Error, CustomStringConvertible {
        public var path: String
        public var message: String
        public var description: String { "\(path): \(message)" }
    }

    /// A parsed header: dtype descriptor, shape, element count and where the data starts.
    struct Header {
        var descr: String
        var shape: [Int]
        var count: Int
        var dataOffset: Int
    }

    static func readHeader(_ fd: Int32, fileSize: Int, path: String) throws(Failure) -> Header {
        func fail(_ message: String) -> Failure { Failure(path: path, message: message) }
        var prefix = [UInt8](repeating: 0, count: 12)
        let got = InputFile.read(fd, into: &prefix, count: 10)
        guard got >= 6, prefix[0] == 0x93, prefix[1..<6].elementsEqual("NUMPY".utf8) else {
            throw fail("not a .npy file (bad magic)")
        }
        guard got == 10 else { throw fail("truncated header") }
        let major = prefix[6]
        let length: Int
        let offset: Int
        if major == 1 {
            length = Int(prefix[8]) | Int(prefix[9]) << 8
            offset = 10
        } else if major == 2 || major == 3 {
            let got = prefix.withUnsafeMutableBytes { InputFile.read(fd, into: $0.baseAddress! + 10, count: 2) }
            guard got == 2 else { throw fail("truncated header") }
            length = Int(prefix[8]) | Int(prefix[9]) << 8 | Int(prefix[10]) << 16 | Int(prefix[11]) << 24
            offset = 12
        } else {
            throw fail("unsupported .npy version \(major)")
        }
        guard length <= fileSize - offset else {
            throw fail("header length \(length) runs past the end of the file (\(fileSize) bytes)")
        }
        var text = [UInt8](repeating: 0, count: length)
        guard InputFile.read(fd, into: &text, count: length) == length else { throw fail("truncated header") }

        var parser = HeaderParser(bytes: text)
        let entries: [(key: String, value: HeaderParser.Value)]
        do { entries = try parser.dictionary() } catch { throw fail(error.message) }
        var fields: [String: HeaderParser.Value] = [:]
        for (key, value) in entries {
            guard ["descr", "fortran_order", "shape"].contains(key) else {
                throw fail("header has an unknown key '\(InputFile.printable(key))'")
            }
            guard fields.updateValue(value, forKey: key) == nil else { throw fail("header repeats the key '\(key)'") }
        }
        guard let descrValue = fields["descr"] else { throw fail("header has no 'descr'") }
        guard case .string(let descr) = descrValue else {
            throw fail("header's 'descr' is not a dtype string (structured arrays are not supported)")
        }
        guard let fortranValue = fields["fortran_order"] else { throw fail("header has no 'fortran_order'") }
        guard case .bool(let fortran) = fortranValue else { throw fail("header's 'fortran_order' is not True or False") }
        guard !fortran else { throw fail("Fortran-ordered arrays are not supported (save with C order)") }
        guard let shapeValue = fields["shape"] else { throw fail("header has no 'shape'") }
        guard case .tuple(let shape) = shapeValue else { throw fail("header's 'shape' is not a tuple of sizes") }
        if let negative = shape.first(where: { $0 < 0 }) {
            throw fail("shape \(describe(shape)) has a negative dimension \(negative)")
        }
        // The count without overflow, whatever the order of the dimensions: a zero dimension makes it 0, but
        // the other dimensions must still multiply to a representable size.
        var product = 1
        for n in shape where n != 0 {
            let (next, overflow) = product.multipliedReportingOverflow(by: n)
            guard !overflow else { throw fail("shape \(describe(shape)) is too large") }
            product = next
        }
        return Header(descr: descr, shape: shape, count: shape.contains(0) ? 0 : product, dataOffset: offset + length)
    }

    /// A shape as `[3, 4]` for messages (at most 8 dimensions shown).
    static func describe(_ shape: [Int]) -> String {
        let shown = shape.prefix(8).map(String.init) + (shape.count > 8 ? ["… (\(shape.count) dimensions)"] : [])
        return "[" + shown.joined(separator: ", ") + "]"
    }

    /// The Python dictionary literal of a header: `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }`
    /// followed by padding. Values are strings, True/False and tuples of integers (negative sizes are refused
    /// by the caller, which names the shape); anything else is malformed.
    struct HeaderParser {
        enum Value {
            case string(String)
            case bool(Bool)
            case tuple([Int])
        }

        struct Malformed: Error {
            var message: String
        }

        let bytes: [UInt8]
        var position = 0

        private func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

        private func malformed(_ message: String) -> Malformed {
            let place = position < bytes.count ? "at byte \(position)" : "at the end of the header (byte \(position))"
            return Malformed(message: "malformed header (\(message) \(place))")
        }

        private mutating func skipSpace() {
            while let b = peek(), b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { position += 1 }
        }

        private mutating func expect(_ byte: UInt8) throws(Malformed) {
            guard peek() == byte else { throw malformed("expected '\(Character(Unicode.Scalar(byte)))'") }
            position += 1
        }

        mutating func dictionary() throws(Malformed) -> [(key: String, value: Value)] {
            var entries: [(key: String, value: Value)] = []
            skipSpace()
            try expect(UInt8(ascii: "{"))
            while true {
                skipSpace()
                if peek() == UInt8(ascii: "}") { break }
                let key = try string()
                skipSpace()
                try expect(UInt8(ascii: ":"))
                skipSpace()
                entries.append((key, try value()))
                skipSpace()
                if peek() == UInt8(ascii: ",") { position += 1; continue }
                guard peek() == UInt8(ascii: "}") else { throw malformed("expected ',' or '}'") }
            }
            position += 1
            skipSpace()
            guard position == bytes.count else { throw malformed("unexpected text after the dictionary") }
            return entries
        }

        private mutating func value() throws(Malformed) -> Value {
            switch peek() {
            case UInt8(ascii: "'"), UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "("): return .tuple(try tuple())
            case UInt8(ascii: "T"), UInt8(ascii: "F"):
                for (word, truth) in [("True", true), ("False", false)] where bytes[position...].starts(with: word.utf8) {
                    position += word.utf8.count
                    return .bool(truth)
                }
                throw malformed("unsupported value")
            default: throw malformed("unsupported value")
            }
        }

        /// A quoted string without escapes (no dtype string or key has any).
        private mutating func string() throws(Malformed) -> String {
            guard let quote = peek(), quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"") else {
                throw malformed("expected a quoted string")
            }
            position += 1
            let start = position
            while let b = peek(), b != quote {
                guard b != UInt8(ascii: "\\"), b >= 0x20 else { throw malformed("unsupported character in a string") }
                position += 1
            }
            guard peek() == quote else { throw malformed("unterminated string") }
            position += 1
            return String(decoding: bytes[start..<(position - 1)], as: UTF8.self)
        }

        /// `()`, `(3,)`, `(3, 4)`: integers (an `L` suffix, which Python 2 wrote, is allowed). A single size
        /// needs its comma, as in Python, where `(3)` is the integer 3 and not a shape.
        private mutating func tuple() throws(Malformed) -> [Int] {
            position += 1
            var items: [Int] = []
            var trailingComma = false
            while true {
                skipSpace()
                if peek() == UInt8(ascii: ")") { break }
                items.append(try integer())
                trailingComma = false
                skipSpace()
                if peek() == UInt8(ascii: ",") { position += 1; trailingComma = true; continue }
                guard peek() == UInt8(ascii: ")") else { throw malformed("expected ',' or ')' in the shape") }
            }
            guard items.count != 1 || trailingComma else { throw malformed("a one-dimensional shape needs a trailing comma") }
            position += 1
            return items
        }

        /// A decimal integer, refused when it does not fit an Int.
        private mutating func integer() throws(Malformed) -> Int {
            let start = position
            let negative = peek() == UInt8(ascii: "-")
            if negative { position += 1 }
            var value = 0
            var digits = 0
            var overflow = false
            while let b = peek(), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) {
                let digit = Int(b - UInt8(ascii: "0"))
                let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
                let (next, o2) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
                overflow = overflow || o1 || o2
                value = next
                digits += 1
                position += 1
            }
            guard digits > 0 else { position = start; throw malformed("expected a size in the shape") }
            if peek() == UInt8(ascii: "L") { position += 1 }
            guard !overflow else {
                let text = String(decoding: bytes[start..<position], as: UTF8.self)
                throw Malformed(message: "shape entry \(InputFile.printable(text, limit: 30)) is too large")
            }
            return value
        }
    }

    /// Reads the `header.count` elements of `T` that follow the header into a new array. The file must hold
    /// exactly that many bytes after the header; this is checked against its size before the array is
    /// allocated, and again while reading (the file may change in between).
    static func readBody<T>(_ fd: Int32, header: Header, fileSize: Int, as: T.Type, path: String) throws(Failure) -> [T] {
        func fail(_ message: String) -> Failure { Failure(path: path, message: message) }
        let count = header.count
        let (bytes, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        guard !overflow else { throw fail("shape \(describe(header.shape)) is too large") }
        let held = fileSize - header.dataOffset
        guard held == bytes else {
            let holds = "holds \(held) data bytes but its shape \(describe(header.shape)) needs \(bytes)"
            throw fail(held < bytes ? "truncated: \(holds)" : "has more data than its shape says: \(holds)")
        }
        var failure: Failure?
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            guard let base = buffer.baseAddress, bytes > 0 else { return }
            let raw = UnsafeMutableRawPointer(base)
            let done = InputFile.read(fd, into: raw, count: bytes)
            if done < bytes {
                failure = fail("truncated while reading: expected \(bytes) data bytes, found \(done)")
                // Zero the rest so the array is fully initialized before it is dropped.
                memset(raw + done, 0, bytes - done)
            }
            initialized = count
        }
        if let failure { throw failure }
        var extra: UInt8 = 0
        if InputFile.read(fd, into: &extra, count: 1) == 1 { throw fail("has more data than its shape says (it grew while reading)") }
        return values
    }

    /// The file at `path`, open, with its size: only a regular file is opened.
    static func open(_ path: String) throws(Failure) -> (fd: Int32, size: Int) {
        do { return try InputFile.open(path, kind: "a .npy file") } catch { throw Failure(path: path, message: error.message) }
    }

    /// A float64 array and its shape.
    public static func readDoubles(_ path: String) throws(Failure) -> (values: [Double], shape: [Int]) {
        let (fd, size) = try open(path)
        defer { close(fd) }
        let header = try readHeader(fd, fileSize: size, path: path)
        guard header.descr == "<f8" else {
            throw Failure(path: path, message: "dtype '\(InputFile.printable(header.descr))' is not float64 little-endian ('<f8')")
        }
        return (try readBody(fd, header: header, fileSize: size, as: Double.self, path: path), header.shape)
    }

    /// An integer array (int64 or int32, little-endian) and its shape.
    public static func readIntegers(_ path: String) throws(Failure) -> (values: [Int], shape: [Int]) {
        let (fd, size) = try open(path)
        defer { close(fd) }
        let header = try readHeader(fd, fileSize: size, path: path)
        switch header.descr {
        case "<i8": return (try readBody(fd, header: header, fileSize: size, as: Int64.self, path: path).map { Int($0) }, header.shape)
        case "<i4": return (try readBody(fd, header: header, fileSize: size, as: Int32.self, path: path).map { Int($0) }, header.shape)
        default:
            throw Failure(path: path, message: "dtype '\(InputFile.printable(header.descr))' is not an integer type ('<i8' or '<i4')")
        }
    }

    static func header(descr: String, shape: [Int]) -> [UInt8] {
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var text = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }"
        let total = 10 + text.utf8.count + 1
        text += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        let n = text.utf8.count
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + Array(text.utf8)
    }

    static func write<T>(_ values: [T], descr: String, shape: [Int], to path: String) throws(Failure) {
        precondition(shape.reduce(1, *) == values.count)
        var data = Data(header(descr: descr, shape: shape))
        values.withUnsafeBytes { data.append(contentsOf: $0) }
        do { try AtomicFile.write(data, to: path) } catch { throw Failure(path: path, message: error.message) }
    }

    public static func write(_ values: [Double], shape: [Int], to path: String) throws(Failure) {
        try write(values, descr: "<f8", shape: shape, to: path)
    }

    public static func write(_ values: [Int], shape: [Int], to path: String) throws(Failure) {
        try write(values.map { Int64($0) }, descr: "<i8", shape: shape, to: path)
    }

    public static func write(_ values: [UInt8], shape: [Int], to path: String) throws(Failure) {
        try write(values, descr: "|u1", shape: shape, to: path)
    }
}
