import CLazyLibs

/// An XML document as libxml2 parsed it (opened on first use, like every library a command may
/// not need), read only. No network, no DTD (a DOCTYPE is refused: entity bombs and external
/// entities live there), libxml2's own limits on depth and sizes kept. The one XML reader of dubdeck.
final class XMLTree {
    private let doc: OpaquePointer
    private let rootElement: OpaquePointer
    /// The document element (it keeps the tree alive, as every node does).
    var root: XMLNode { XMLNode(ptr: rootElement, tree: self) }

    /// `bytes`: UTF-8 (whatever the XML declaration says: the caller decoded the file).
    init(utf8 bytes: [UInt8]) throws {
        if let why = LazyLibrary.failure(dd_xml2_load, Soname.xml2) { throw SubtitleError(line: 0, message: why) }
        guard bytes.count < Int(Int32.max) else { throw SubtitleError(line: 0, message: "too large for an XML document") }
        if let (count, line) = XMLTree.crowdedElement(bytes) {
            throw SubtitleError(line: line, message: "an element with \(count) attributes or more (at most \(XMLTree.maxAttributes))")
        }
        var line: Int32 = 0
        var error = [CChar](repeating: 0, count: 512)
        let parsed = bytes.withUnsafeBufferPointer { b in
            b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(1, b.count)) {
                dd_xml_read($0, Int32(b.count), &line, &error, error.count)
            }
        }
        guard let parsed else {
            let message = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw SubtitleError(line: Int(line), message: Sanitizer.display(message.isEmpty ? "not well-formed XML" : message))
        }
        guard let root = dd_xml_root(parsed) else {
            dd_xml_free(parsed)
            throw SubtitleError(line: 0, message: "an XML document with no element")
        }
        doc = parsed
        rootElement = root
    }

    deinit { dd_xml_free(doc) }

    /// libxml2 2.9 checks an element's attributes for duplicates pair by pair: 100,000 attributes on
    /// one element cost it minutes. No document dubdeck reads needs more than a few dozen.
    static let maxAttributes = 512

    /// The first start tag with more than `maxAttributes` attributes (its count so far and line), or
    /// nil: each `<name …>` scanned once to its `>` outside quotes, counting `=` outside quotes. A
    /// bound checked before parsing, not a reading of the document (libxml2 reads it).
    static func crowdedElement(_ b: [UInt8]) -> (Int, Int)? {
        var i = 0
        while i < b.count {
            guard b[i] == 0x3C, i + 1 < b.count, b[i + 1] >= 0x41 else { i += 1; continue }  // `<` and a name
            var j = i + 1, quote: UInt8 = 0, count = 0
            while j < b.count {
                let c = b[j]
                if quote != 0 {
                    if c == quote { quote = 0 }
                } else if c == 0x22 || c == 0x27 {
                    quote = c
                } else if c == 0x3D {
                    count += 1
                    if count > maxAttributes { return (count, 1 + b[..<i].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }) }
                } else if c == 0x3E {
                    break
                }
                j += 1
            }
            i = j + 1
        }
        return nil
    }
}

/// One node of an XMLTree; it holds the tree, so libxml2's memory outlives every node.
struct XMLNode {
    let ptr: OpaquePointer
    let tree: XMLTree

    var isElement: Bool { dd_xml_kind(ptr) == 1 }
    var isText: Bool { dd_xml_kind(ptr) == 2 }
    var name: String { String(cString: dd_xml_name(ptr)) }
    var namespace: String? { dd_xml_namespace(ptr).map { String(cString: $0) } }
    var text: String { String(cString: dd_xml_text(ptr)) }
    var line: Int { dd_xml_line(ptr) }

    var children: [XMLNode] {
        var out: [XMLNode] = []
        var n = dd_xml_first_child(ptr)
        while let c = n {
            out.append(XMLNode(ptr: c, tree: tree))
            n = dd_xml_next(c)
        }
        return out
    }

    var elements: [XMLNode] { children.filter(\.isElement) }

    /// Every attribute: (namespace URI, local name, value).
    var attributes: [(namespace: String?, name: String, value: String)] {
        var out: [(String?, String, String)] = []
        var a = dd_xml_first_attribute(ptr)
        while let attr = a {
            var value = ""
            var v = dd_xml_attribute_value(attr)
            while let t = v {
                if dd_xml_kind(t) == 2 { value += String(cString: dd_xml_text(t)) }
                v = dd_xml_next(t)
            }
            out.append((dd_xml_attribute_namespace(attr).map { String(cString: $0) }, String(cString: dd_xml_attribute_name(attr)), value))
            a = dd_xml_next_attribute(attr)
        }
        return out
    }

    /// The value of the attribute `name` in `namespace` (nil: no namespace).
    func attribute(_ name: String, in namespace: String? = nil) -> String? {
        attributes.first { $0.name == name && $0.namespace == namespace }?.value
    }

    /// All the text below this node, in order.
    var allText: String {
        if isText { return text }
        return children.map(\.allText).joined()
    }
}
