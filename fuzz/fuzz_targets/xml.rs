//! The `xml` output encoding of arbitrary values: well-formed, and read back by an independent
//! XML parser (roxmltree) as the same data under mxj's mapping (attributes from `-name` keys,
//! text from `#text`, arrays as repeated elements, scalars as text).
//!
//! Values are generated where that mapping can be inverted and mxj writes a well-formed
//! document: keys are XML names (mxj writes keys unescaped), strings hold only characters XML
//! can carry (no `\r`, which parsers turn into `\n`; no tab or newline in attributes, which they
//! turn into spaces), objects and arrays are not empty (mxj writes `<k/>` for both) and arrays
//! hold at least two items, none an array, and are not the only top-level member (mxj would
//! write several root elements).
#![no_main]

#[path = "../../shared/tests/oracle/mod.rs"]
mod oracle;
#[path = "../../shared/tests/checks/xml.rs"]
mod xml;

libfuzzer_sys::fuzz_target!(|doc: xml::Doc| xml::check(doc));
