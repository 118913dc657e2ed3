/// A reader for the subset of Python's pickle format that the CIFAR python archives use:
/// dicts, lists, ints, byte and text strings, and numpy arrays through
/// `numpy.core.multiarray._reconstruct` (protocol 2, as shipped and as numpy re-pickles
/// it) or `numpy._core.numeric._frombuffer` (protocol 5). Nothing is ever executed: the
/// only callables are the few named here, interpreted by hand; anything else is an error.
struct Pickle {
    /// Lists and dicts are boxes because pickles mutate them after memoising them.
    final class ListBox { var items: [Value] = [] }
    final class DictBox { var pairs: [(Value, Value)] = [] }
    final class ArrayBox { var shape: [Int] = []; var dtype = ""; var data: [UInt8] = [] }

    indirect enum Value {
        case none, bool(Bool), int(Int), float(Double)
        case bytes([UInt8])
        /// Text kept as its UTF-8 bytes; the big latin-1 pixel strings never become Strings.
        case text([UInt8])
        case tuple([Value])
        case list(ListBox)
        case dict(DictBox)
        case global(String, String)
        case array(ArrayBox)
        case dtype(String)

        var asString: String? {
            switch self {
            case .bytes(let b), .text(let b): return String(decoding: b, as: UTF8.self)
            default: return nil
            }
        }
    }

    let path: String
    let bytes: [UInt8]
    private var position = 0
    private var stack: [Value] = []
    private var marks: [Int] = []
    private var memo: [Int: Value] = [:]

    static func load(_ bytes: [UInt8], path: String) throws -> Value {
        var p = Pickle(path: path, bytes: bytes)
        return try p.run()
    }

    private init(path: String, bytes: [UInt8]) {
        self.path = path
        self.bytes = bytes
    }

    private func fail(_ reason: String) -> DataError { .badPickle(path: path, reason: reason) }

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, position + n <= bytes.count else {
            throw DataError.truncated(path: path, expectedBytes: position + max(n, 0), actualBytes: bytes.count)
        }
        defer { position += n }
        return bytes[position..<(position + n)]
    }

    private mutating func uint(_ n: Int) throws -> UInt64 {
        var v: UInt64 = 0
        for (i, b) in try take(n).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        return v
    }

    private mutating func line() throws -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else {
            throw DataError.truncated(path: path, expectedBytes: bytes.count + 1, actualBytes: bytes.count)
        }
        defer { position = end + 1 }
        return String(decoding: bytes[position..<end], as: UTF8.self)
    }

    private mutating func pop() throws -> Value {
        guard let v = stack.popLast() else { throw fail("stack underflow at byte \(position)") }
        return v
    }

    private mutating func popMark() throws -> [Value] {
        guard let m = marks.popLast(), m <= stack.count else { throw fail("missing MARK at byte \(position)") }
        defer { stack.removeSubrange(m...) }
        return Array(stack[m...])
    }

    private mutating func length(_ n: Int) throws -> Int {
        let v = try uint(n)
        guard v <= UInt64(bytes.count) else {
            throw DataError.truncated(path: path, expectedBytes: position + Int(clamping: v), actualBytes: bytes.count)
        }
        return Int(v)
    }

    private mutating func run() throws -> Value {
        while true {
            let op = try take(1).first!
            switch op {
            case 0x80: _ = try take(1)                                  // PROTO
            case 0x95: _ = try take(8)                                  // FRAME
            case 0x2E: return try pop()                                 // STOP
            case 0x28: marks.append(stack.count)                        // MARK
            case 0x7D: stack.append(.dict(DictBox()))                   // EMPTY_DICT
            case 0x5D: stack.append(.list(ListBox()))                   // EMPTY_LIST
            case 0x29: stack.append(.tuple([]))                         // EMPTY_TUPLE
            case 0x74: stack.append(.tuple(try popMark()))              // TUPLE
            case 0x85: let a = try pop(); stack.append(.tuple([a]))     // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(.tuple([a, b]))
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(.tuple([a, b, c]))
            case 0x6C: let items = try popMark(); let l = ListBox(); l.items = items; stack.append(.list(l))   // LIST
            case 0x64:                                                  // DICT
                let items = try popMark()
                let d = DictBox()
                for k in stride(from: 0, to: items.count - 1, by: 2) { d.pairs.append((items[k], items[k + 1])) }
                stack.append(.dict(d))
            case 0x71: memo[Int(try uint(1))] = stack.last              // BINPUT
            case 0x72: memo[Int(try uint(4))] = stack.last              // LONG_BINPUT
            case 0x94: memo[memo.count] = stack.last                    // MEMOIZE
            case 0x68, 0x6A:                                            // BINGET, LONG_BINGET
                let key = Int(try uint(op == 0x68 ? 1 : 4))
                guard let v = memo[key] else { throw fail("memo \(key) read before it was written") }
                stack.append(v)
            case 0x63: let module = try line(); let name = try line(); stack.append(.global(module, name))   // GLOBAL
            case 0x93:                                                  // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard let n = name.asString, let m = module.asString else { throw fail("STACK_GLOBAL without names") }
                stack.append(.global(m, n))
            case 0x52: let args = try pop(), callable = try pop(); stack.append(try reduce(callable, args))   // REDUCE
            case 0x62: let state = try pop(); try build(try pop(), state: state, keep: true)                  // BUILD
            case 0x73:                                                  // SETITEM
                let v = try pop(), k = try pop()
                guard case .dict(let d) = stack.last else { throw fail("SETITEM on a non-dict") }
                d.pairs.append((k, v))
            case 0x75:                                                  // SETITEMS
                let items = try popMark()
                guard case .dict(let d) = stack.last else { throw fail("SETITEMS on a non-dict") }
                for k in stride(from: 0, to: items.count - 1, by: 2) { d.pairs.append((items[k], items[k + 1])) }
            case 0x61:                                                  // APPEND
                let v = try pop()
                guard case .list(let l) = stack.last else { throw fail("APPEND on a non-list") }
                l.items.append(v)
            case 0x65:                                                  // APPENDS
                let items = try popMark()
                guard case .list(let l) = stack.last else { throw fail("APPENDS on a non-list") }
                l.items.append(contentsOf: items)
            case 0x4A: stack.append(.int(Int(Int32(bitPattern: UInt32(try uint(4))))))   // BININT
            case 0x4B: stack.append(.int(Int(try uint(1))))             // BININT1
            case 0x4D: stack.append(.int(Int(try uint(2))))             // BININT2
            case 0x8A:                                                  // LONG1
                let n = Int(try uint(1))
                guard n <= 8 else { throw fail("integer wider than 64 bits") }
                let raw = try take(n)
                var v: UInt64 = 0
                for (i, b) in raw.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
                if n > 0 && n < 8 && raw.last! & 0x80 != 0 { v |= ~0 << (8 * UInt64(n)) }
                stack.append(.int(Int(Int64(bitPattern: v))))
            case 0x47: stack.append(.float(Double(bitPattern: (try take(8)).reduce(0) { $0 << 8 | UInt64($1) })))  // BINFLOAT
            case 0x4E: stack.append(.none)                              // NONE
            case 0x88: stack.append(.bool(true))                        // NEWTRUE
            case 0x89: stack.append(.bool(false))                       // NEWFALSE
            case 0x55: stack.append(.bytes(Array(try take(try length(1)))))   // SHORT_BINSTRING (py2 str)
            case 0x54: stack.append(.bytes(Array(try take(try length(4)))))   // BINSTRING (py2 str)
            case 0x43: stack.append(.bytes(Array(try take(try length(1)))))   // SHORT_BINBYTES
            case 0x42: stack.append(.bytes(Array(try take(try length(4)))))   // BINBYTES
            case 0x8E, 0x96: stack.append(.bytes(Array(try take(try length(8)))))   // BINBYTES8, BYTEARRAY8
            case 0x8C: stack.append(.text(Array(try take(try length(1)))))    // SHORT_BINUNICODE
            case 0x58: stack.append(.text(Array(try take(try length(4)))))    // BINUNICODE
            case 0x8D: stack.append(.text(Array(try take(try length(8)))))    // BINUNICODE8
            default:
                throw fail("unsupported opcode 0x\(String(op, radix: 16)) at byte \(position - 1)")
            }
        }
    }

    private func reduce(_ callable: Value, _ args: Value) throws -> Value {
        guard case .global(let module, let name) = callable, case .tuple(let a) = args else {
            throw fail("REDUCE of something other than a known global")
        }
        switch (module, name) {
        case ("_codecs", "encode"):
            // Python 3 writes bytes at protocol 2 as _codecs.encode(text, 'latin1').
            guard a.count == 2, case .text(let utf8) = a[0] else { throw fail("_codecs.encode with unexpected arguments") }
            return .bytes(try latin1(utf8))
        case ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"):
            return .array(ArrayBox())
        case ("numpy", "dtype"):
            guard let code = a.first?.asString else { throw fail("numpy.dtype without a type code") }
            return .dtype(code)
        case ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"):
            guard a.count >= 3, case .bytes(let data) = a[0], case .dtype(let code) = a[1], case .tuple(let dims) = a[2] else {
                throw fail("_frombuffer with unexpected arguments")
            }
            let box = ArrayBox()
            box.data = data
            box.dtype = code
            box.shape = try dims.map { guard case .int(let d) = $0 else { throw fail("non-integer array shape") }; return d }
            return .array(box)
        default:
            throw fail("refusing to call \(module).\(name)")
        }
    }

    private mutating func build(_ object: Value, state: Value, keep: Bool) throws {
        switch object {
        case .dtype:
            break // byte order and flags are irrelevant for uint8
        case .array(let box):
            // ndarray.__setstate__((version, shape, dtype, is_fortran, rawdata))
            guard case .tuple(let s) = state, s.count == 5, case .tuple(let dims) = s[1], case .dtype(let code) = s[2] else {
                throw fail("ndarray state of unexpected form")
            }
            box.shape = try dims.map { guard case .int(let d) = $0 else { throw fail("non-integer array shape") }; return d }
            box.dtype = code
            switch s[4] {
            case .bytes(let raw): box.data = raw
            case .text(let utf8): box.data = try latin1(utf8)
            default: throw fail("ndarray data of unexpected type")
            }
            if case .bool(true) = s[3] { throw fail("Fortran-ordered array") }
        default:
            throw fail("BUILD on an unsupported object")
        }
        if keep { stack.append(object) }
    }

    /// UTF-8 text whose code points are all below 256 → those code points as bytes.
    private func latin1(_ utf8: [UInt8]) throws -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(utf8.count)
        var i = 0
        while i < utf8.count {
            let b = utf8[i]
            if b < 0x80 { out.append(b); i += 1 }
            else if (b == 0xC2 || b == 0xC3) && i + 1 < utf8.count { out.append((b & 0x03) << 6 | (utf8[i + 1] & 0x3F)); i += 2 }
            else { throw fail("latin-1 string holds a character above U+00FF") }
        }
        return out
    }
}

extension Pickle.Value {
    /// Dict lookup by a key written as py2 str, bytes or text.
    subscript(key: String) -> Pickle.Value? {
        guard case .dict(let d) = self else { return nil }
        return d.pairs.first(where: { $0.0.asString == key })?.1
    }

    var intList: [Int]? {
        guard case .list(let l) = self else { return nil }
        var out: [Int] = []
        out.reserveCapacity(l.items.count)
        for item in l.items { guard case .int(let v) = item else { return nil }; out.append(v) }
        return out
    }

    var stringList: [String]? {
        guard case .list(let l) = self else { return nil }
        let strings = l.items.compactMap(\.asString)
        return strings.count == l.items.count ? strings : nil
    }
}
