import XentestSupport

/// Text made safe for HTML content and for attribute values in either kind of quotes: `&`, `<`, `>`, `"` and `'`
/// become character references, so no text from a result (guest console output, toolstack messages) can open a tag,
/// end an attribute or start an entity; control characters but tab, newline and carriage return are dropped.
///
/// It is `xmlEscaped`: what XML 1.0 needs, HTML5 needs too, and HTML5 knows XML's `&apos;`.
func htmlEscaped(_ text: String) -> String { xmlEscaped(text) }
