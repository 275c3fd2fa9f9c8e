//! A bounded structural check of client-supplied Yjs bytes, run before `yrs` decodes them.
//!
//! `yrs` 0.28 reads a count from the bytes and reserves room for that many elements before it
//! reads them: five bytes can ask for four billion entries, and a failing reservation that size
//! takes seconds with some allocators (40 s for a state vector under mimalloc). Its `Any` decoder
//! also recurses once per nested array or map with no limit, so a frame of nested arrays can
//! overflow the stack and abort the process. Some of its arithmetic on decoded clocks overflows a
//! `u32` (a panic where overflow checks are on, as in our release profile).
//!
//! [`check_update_v1`] and [`check_state_vector_v1`] walk the lib0 v1 encoding exactly as
//! `yrs` 0.28.1's `DecoderV1` does (`Update::decode`, `Update::decode_block`,
//! `ItemContent::decode`, `TypeRef::decode`, `Options::decode`, `Any::decode`, `IdSet::decode`,
//! `StateVector::decode`), without allocating and in time linear in the input:
//!
//! - every count read from the bytes is checked against the bytes that remain, before anything
//!   loops over it: each counted element takes at least one byte (a state vector entry, a delete
//!   set client or range, a map entry at least two; an update's client at least three);
//! - `Any` values nest at most [`MAX_ANY_DEPTH`] arrays and maps deep (the walk itself recurses at
//!   most that deep);
//! - a variable-length integer whose value does not fit the width `yrs` reads it at (32 bits for
//!   lengths and clocks, 64 for `Any` lengths, 63 bits of magnitude for `Any` integers) is
//!   refused, as is one longer than `yrs` accepts; `yrs` itself would silently wrap it (or, for
//!   `Any` integers, panic with overflow checks on), and no encoder writes one;
//! - client ids have at most 53 bits, as `yrs` keeps them (it asserts so in debug builds and
//!   drops the higher bits otherwise; Yjs writes 32-bit ids);
//! - a block or a deleted range that runs past clock `u32::MAX` is refused (`yrs` adds the clocks
//!   up unchecked);
//! - JSON content (content ref 2: Yjs keeps it to read old documents, neither Yjs nor `yrs`
//!   writes it) is refused: `yrs` 0.28.1 reads one string more than its length says and writes as
//!   many as it holds, so it cannot decode its own encoding of such an item, and while one is
//!   pending every encoding of the document panics (found by the `hub_frames` fuzz target); it
//!   also reads that length as an `i32` and reserves nearly `usize::MAX` strings for a negative one;
//! - a client listed twice in an update is refused: `yrs` appends the second listing to the
//!   first and, where their clocks overlap, underflows integrating them (found by fuzzing); Yjs
//!   and `yrs` list each client once, in decreasing id order, so an update in that order passes
//!   at no cost; in any other order each client is compared with the first 128, kept on the
//!   stack (a longer update out of order is refused);
//! - subdocuments (content ref 9) are refused: a `yrs` 0.28.1 document that integrated one is
//!   never freed (some 3.5 KB each time such a document is dropped, found by fuzzing as a
//!   growing RSS), so a client could grow the server's memory without bound; a deal room's
//!   notepad has no use for them;
//! - zero-length GC and skip blocks, unknown block, content and type tags and strings that are
//!   not UTF-8 are refused, as `yrs` refuses them;
//! - bytes after a complete update or state vector are ignored, as `yrs` ignores them.
//!
//! Updates and state vectors written by Yjs or `yrs` pass, save those holding a subdocument. What
//! the guard passes, `yrs` 0.28.1 decodes with allocations bounded by the input's length and a
//! bounded stack, or refuses early. The guard mirrors `yrs` as this workspace builds it: without
//! its `weak` feature (a weak link type is refused, as `yrs` refuses it) and without
//! `small-client` (client ids read as 64-bit integers, of which the guard allows 53 bits).
//! Embedded JSON strings (embeds, formatting attributes) are only checked to be UTF-8: `yrs`
//! parses them with `serde_json`, whose nesting limit applies.
//!
//! [`references_v1`] walks an update the same way and reports the IDs its blocks refer to, for
//! the hub to refuse an update that depends on edits the room never received.

/// How many arrays and maps an `Any` value may nest inside one another.
pub const MAX_ANY_DEPTH: usize = 64;

/// Why the guard refused an encoding. Offsets count bytes from the start of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuardError {
    /// The input ends before the value being read.
    #[error("the input ends at byte {at} while reading {what}")]
    Truncated {
        /// Where the missing byte would be.
        at: usize,
        /// What was being read.
        what: &'static str,
    },
    /// A variable-length integer that does not fit the width it is read at, or is too long.
    #[error("{what} at byte {at} is not a variable-length integer of its width")]
    VarInt {
        /// Where it starts.
        at: usize,
        /// What it is.
        what: &'static str,
    },
    /// A count larger than the remaining bytes could hold.
    #[error("{what} at byte {at} declares {count} entries but only {remaining} bytes follow")]
    Count {
        /// Where the count starts.
        at: usize,
        /// What is counted.
        what: &'static str,
        /// The declared count.
        count: u64,
        /// Bytes after the count.
        remaining: usize,
    },
    /// An `Any` value nests deeper than [`MAX_ANY_DEPTH`].
    #[error("the value at byte {at} nests more than {max} arrays and maps deep", max = MAX_ANY_DEPTH)]
    TooDeep {
        /// Where the array or map that is one too deep starts.
        at: usize,
    },
    /// A tag with no meaning at its place.
    #[error("unexpected {what} `{value}` at byte {at}")]
    Unexpected {
        /// Where it is.
        at: usize,
        /// What kind of tag.
        what: &'static str,
        /// Its value.
        value: u8,
    },
    /// Something `yrs` decodes but mishandles afterwards (JSON content, subdocuments).
    #[error("{what} at byte {at} is not supported")]
    Unsupported {
        /// Where it is.
        at: usize,
        /// What it is.
        what: &'static str,
    },
    /// A client listed twice in one update.
    #[error("the client at byte {at} is listed twice in the update")]
    DuplicateClient {
        /// Where the second listing's client id starts.
        at: usize,
    },
    /// Too many clients listed in an order other than decreasing ids to check them for repeats.
    #[error("the client at byte {at} is out of order after more than {max} clients")]
    Unordered {
        /// Where the client id starts.
        at: usize,
        /// How many clients may come in any order.
        max: usize,
    },
    /// A GC or skip block of length zero.
    #[error("the block at byte {at} has length 0")]
    EmptyBlock {
        /// Where the block starts.
        at: usize,
    },
    /// A clock range that runs past the largest clock.
    #[error("{what} at byte {at} runs past clock {max}", max = u32::MAX)]
    ClockOverflow {
        /// Where the block or range starts.
        at: usize,
        /// A block or a deleted range.
        what: &'static str,
    },
    /// A string that is not UTF-8.
    #[error("the string at byte {at} is not valid utf-8")]
    Utf8 {
        /// Where the string's length starts.
        at: usize,
    },
}

type Result<T> = std::result::Result<T, GuardError>;

/// Checks that `bytes` starts with a Yjs update (lib0 v1) that `yrs` decodes in memory and time
/// bounded by its length. Bytes after the update are ignored, as `yrs` ignores them.
pub fn check_update_v1(bytes: &[u8]) -> Result<()> {
    Reader::new(bytes, |_, _| {}).update()
}

/// Checks `bytes` as [`check_update_v1`] does and calls `each` with the client and clock of every
/// ID its blocks refer to: left and right origins, and parents given by ID (those `yrs` waits for
/// before it integrates a block), in the order they appear.
pub fn references_v1(bytes: &[u8], each: impl FnMut(u64, u32)) -> Result<()> {
    Reader::new(bytes, each).update()
}

/// Checks that `bytes` starts with a Yjs state vector (lib0 v1) that `yrs` decodes in memory and
/// time bounded by its length. Bytes after the state vector are ignored, as `yrs` ignores them.
pub fn check_state_vector_v1(bytes: &[u8]) -> Result<()> {
    Reader::new(bytes, |_, _| {}).state_vector()
}

// yrs 0.28.1 `block.rs`
const BLOCK_GC: u8 = 0;
const BLOCK_SKIP: u8 = 10;
const CONTENT_DELETED: u8 = 1;
const CONTENT_JSON: u8 = 2;
const CONTENT_BINARY: u8 = 3;
const CONTENT_STRING: u8 = 4;
const CONTENT_EMBED: u8 = 5;
const CONTENT_FORMAT: u8 = 6;
const CONTENT_TYPE: u8 = 7;
const CONTENT_ANY: u8 = 8;
const CONTENT_DOC: u8 = 9;
const HAS_ORIGIN: u8 = 0b1000_0000;
const HAS_RIGHT_ORIGIN: u8 = 0b0100_0000;
const HAS_PARENT_SUB: u8 = 0b0010_0000;

// yrs 0.28.1 `types/mod.rs`; 7 (a weak link) only decodes with yrs's `weak` feature, off here
const TYPE_ARRAY: u8 = 0;
const TYPE_MAP: u8 = 1;
const TYPE_TEXT: u8 = 2;
const TYPE_XML_ELEMENT: u8 = 3;
const TYPE_XML_FRAGMENT: u8 = 4;
const TYPE_XML_HOOK: u8 = 5;
const TYPE_XML_TEXT: u8 = 6;
const TYPE_DOC: u8 = 9;
const TYPE_UNDEFINED: u8 = 15;

/// The longest variable-length integer `yrs` reads: ten bytes with the continuation bit, then one
/// without (`read_var_u64` / `read_var_u32` stop after 70 bits).
const MAX_VARINT_BYTES: usize = 11;

/// How many clients an update may list in an order other than decreasing ids.
const MAX_UNSORTED_CLIENTS: usize = 128;

/// The clients an update listed so far, to refuse one listed twice: `yrs` appends the second
/// listing's blocks to the first's, and where their clocks overlap, integrating them underflows
/// (`BlockStore::push`; Yjs keeps only the second listing). Yjs and `yrs` list clients in
/// decreasing id order, which proves them distinct at no cost; in any other order, each client
/// is compared with the first [`MAX_UNSORTED_CLIENTS`], kept on the stack.
struct Clients {
    descending: bool,
    last: Option<u64>,
    seen: [u64; MAX_UNSORTED_CLIENTS],
    len: usize,
    overflowed: bool,
}

impl Default for Clients {
    fn default() -> Self {
        Clients { descending: true, last: None, seen: [0; MAX_UNSORTED_CLIENTS], len: 0, overflowed: false }
    }
}

impl Clients {
    fn add(&mut self, client: u64, at: usize) -> Result<()> {
        if self.last.is_some_and(|last| client >= last) {
            self.descending = false;
        }
        self.last = Some(client);
        if !self.descending {
            if self.overflowed {
                return Err(GuardError::Unordered { at, max: MAX_UNSORTED_CLIENTS });
            }
            if self.seen.get(..self.len).unwrap_or_default().contains(&client) {
                return Err(GuardError::DuplicateClient { at });
            }
        }
        match self.seen.get_mut(self.len) {
            Some(slot) => {
                *slot = client;
                self.len += 1;
            }
            None => self.overflowed = true,
        }
        Ok(())
    }
}

struct Reader<'a, F> {
    buf: &'a [u8],
    pos: usize,
    /// Called with every ID a block refers to.
    references: F,
}

impl<'a, F: FnMut(u64, u32)> Reader<'a, F> {
    fn new(buf: &'a [u8], references: F) -> Self {
        Reader { buf, pos: 0, references }
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8> {
        let b = *self.buf.get(self.pos).ok_or(GuardError::Truncated { at: self.pos, what })?;
        self.pos += 1;
        Ok(b)
    }

    /// `read_exact`: `len` bytes.
    fn take(&mut self, len: usize, what: &'static str) -> Result<&[u8]> {
        let bytes = self.buf.get(self.pos..).and_then(|rest| rest.get(..len));
        let bytes = bytes.ok_or(GuardError::Truncated { at: self.buf.len(), what })?;
        self.pos += len;
        Ok(bytes)
    }

    /// An unsigned variable-length integer whose value fits in `bits` bits.
    fn var_uint(&mut self, bits: u32, what: &'static str) -> Result<u64> {
        let at = self.pos;
        let mut value: u64 = 0;
        for i in 0..MAX_VARINT_BYTES {
            let b = self.u8(what)?;
            let payload = u64::from(b & 0x7f);
            let shift = 7 * i as u32;
            if payload != 0 {
                // the payload's bits must all land below `bits`
                if shift >= bits || payload.checked_shr(bits - shift).unwrap_or(0) != 0 {
                    return Err(GuardError::VarInt { at, what });
                }
                value |= payload << shift;
            }
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(GuardError::VarInt { at, what })
    }

    fn var_u32(&mut self, what: &'static str) -> Result<u32> {
        let at = self.pos;
        let v = self.var_uint(32, what)?;
        u32::try_from(v).map_err(|_| GuardError::VarInt { at, what })
    }

    /// A client id: 53 bits, as `yrs` keeps them (`ClientID::new` asserts it in debug builds and
    /// drops the higher bits otherwise; Yjs writes 32-bit ids).
    fn client(&mut self) -> Result<u64> {
        self.var_uint(53, "a client id")
    }

    /// `read_var::<i64>`: a sign and 6 bits, then 7 bits a byte. The magnitude must fit in 63
    /// bits: `yrs` shifts past 64 bits and negates `i64::MIN` otherwise (a panic with overflow
    /// checks on).
    fn var_i64(&mut self, what: &'static str) -> Result<()> {
        let at = self.pos;
        let first = self.u8(what)?;
        if first & 0x80 == 0 {
            return Ok(());
        }
        let mut shift: u32 = 6;
        loop {
            let b = self.u8(what)?;
            let payload = u64::from(b & 0x7f);
            if payload != 0 && (shift >= 63 || payload >> (63 - shift) != 0) {
                return Err(GuardError::VarInt { at, what });
            }
            if b & 0x80 == 0 {
                return Ok(());
            }
            shift += 7;
            if shift > 63 {
                return Err(GuardError::VarInt { at, what });
            }
        }
    }

    /// `read_buf`: a 32-bit length, then that many bytes.
    fn buf(&mut self, what: &'static str) -> Result<&[u8]> {
        let len = self.var_u32(what)?;
        self.take(len as usize, what)
    }

    /// `read_string`: a buffer that is UTF-8.
    fn string(&mut self, what: &'static str) -> Result<&str> {
        let at = self.pos;
        let bytes = self.buf(what)?;
        std::str::from_utf8(bytes).map_err(|_| GuardError::Utf8 { at })
    }

    /// A count of elements, each at least `min_bytes` long, checked against the bytes left.
    fn count(&mut self, bits: u32, min_bytes: usize, what: &'static str) -> Result<u64> {
        let at = self.pos;
        let count = self.var_uint(bits, what)?;
        let remaining = self.remaining();
        let room = (remaining / min_bytes.max(1)) as u64;
        if count > room {
            return Err(GuardError::Count { at, what, count, remaining });
        }
        Ok(count)
    }

    /// `Update::decode`: clients with their blocks, then the delete set.
    fn update(&mut self) -> Result<()> {
        // a client: its block count, client id and first clock
        let clients = self.count(32, 3, "the client count")?;
        let mut seen = Clients::default();
        for _ in 0..clients {
            // every block is at least two bytes (an info byte and a length or content)
            let blocks = self.count(32, 2, "the block count")?;
            let at = self.pos;
            let client = self.client()?;
            seen.add(client, at)?;
            let mut clock = self.var_u32("a clock")?;
            for _ in 0..blocks {
                let at = self.pos;
                let len = self.block()?;
                clock = clock.checked_add(len).ok_or(GuardError::ClockOverflow { at, what: "the block" })?;
            }
        }
        self.delete_set()
    }

    /// `IdSet::decode`: per client, ranges of deleted clocks.
    fn delete_set(&mut self) -> Result<()> {
        // a client id and its range count
        let clients = self.count(32, 2, "the delete set's client count")?;
        for _ in 0..clients {
            self.client()?;
            // a clock and a length
            let ranges = self.count(32, 2, "the deleted range count")?;
            for _ in 0..ranges {
                let at = self.pos;
                let clock = self.var_u32("a deleted clock")?;
                let len = self.var_u32("a deleted length")?;
                clock.checked_add(len).ok_or(GuardError::ClockOverflow { at, what: "the deleted range" })?;
            }
        }
        Ok(())
    }

    /// `StateVector::decode`: client ids and clocks.
    fn state_vector(&mut self) -> Result<()> {
        let entries = self.count(32, 2, "the state vector's entry count")?;
        for _ in 0..entries {
            self.client()?;
            self.var_u32("a clock")?;
        }
        Ok(())
    }

    /// `ID` (`read_left_id` / `read_right_id`): a 64-bit client, a 32-bit clock.
    fn id(&mut self) -> Result<()> {
        let client = self.client()?;
        let clock = self.var_u32("a clock")?;
        (self.references)(client, clock);
        Ok(())
    }

    /// `Update::decode_block`: the number of clocks the block takes (0 for an item `yrs` drops).
    fn block(&mut self) -> Result<u32> {
        let at = self.pos;
        let info = self.u8("a block")?;
        match info {
            BLOCK_SKIP | BLOCK_GC => {
                let len = self.var_u32("a block length")?;
                if len == 0 {
                    return Err(GuardError::EmptyBlock { at });
                }
                Ok(len)
            }
            _ => {
                let cant_copy_parent_info = info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN) == 0;
                if info & HAS_ORIGIN != 0 {
                    self.id()?;
                }
                if info & HAS_RIGHT_ORIGIN != 0 {
                    self.id()?;
                }
                if cant_copy_parent_info {
                    if self.var_u32("a parent kind")? == 1 {
                        self.string("a parent name")?;
                    } else {
                        self.id()?;
                    }
                    if info & HAS_PARENT_SUB != 0 {
                        self.string("a parent key")?;
                    }
                }
                self.content(at, info)
            }
        }
    }

    /// `ItemContent::decode`, returning the item's length (`ItemContent::len_utf16`).
    fn content(&mut self, at: usize, info: u8) -> Result<u32> {
        match info & 0b1111 {
            CONTENT_DELETED => self.var_u32("a deleted length"),
            // yrs reads a JSON content's length and then one string more than that, but writes as
            // many strings as it holds: it cannot decode what it encodes of such an item, and once
            // one is pending every later encoding of the document panics (`merge_pending_v1`)
            CONTENT_JSON => Err(GuardError::Unsupported { at, what: "JSON content (legacy Yjs)" }),
            CONTENT_BINARY => self.buf("a binary content").map(|_| 1),
            CONTENT_STRING => {
                let s = self.string("a string content")?;
                // yrs counts a string in UTF-16 code units; at most its byte length, a u32
                Ok(s.chars().map(|c| c.len_utf16() as u32).fold(0u32, u32::saturating_add))
            }
            CONTENT_EMBED => self.string("an embed").map(|_| 1),
            CONTENT_FORMAT => {
                self.string("a format key")?;
                self.string("a format value")?;
                Ok(1)
            }
            CONTENT_TYPE => {
                let type_at = self.pos;
                match self.u8("a type")? {
                    TYPE_XML_ELEMENT => {
                        self.string("an xml element name")?;
                    }
                    TYPE_ARRAY | TYPE_MAP | TYPE_TEXT | TYPE_XML_FRAGMENT | TYPE_XML_HOOK | TYPE_XML_TEXT
                    | TYPE_DOC | TYPE_UNDEFINED => {}
                    value => return Err(GuardError::Unexpected { at: type_at, what: "type", value }),
                }
                Ok(1)
            }
            CONTENT_ANY => {
                let len = self.count(32, 1, "an any content length")?;
                for _ in 0..len {
                    self.any(0)?;
                }
                // len < 2^32 (read as a u32)
                Ok(u32::try_from(len).unwrap_or(u32::MAX))
            }
            // a document integrated with a subdocument is never freed by yrs 0.28.1 (some 3.5 KB
            // each time one is dropped): a client could grow the server's memory without bound
            CONTENT_DOC => Err(GuardError::Unsupported { at, what: "a subdocument" }),
            value => Err(GuardError::Unexpected { at, what: "block content", value }),
        }
    }

    /// `Any::decode`, nested in `depth` arrays and maps.
    fn any(&mut self, depth: usize) -> Result<()> {
        let at = self.pos;
        match self.u8("a value")? {
            // undefined, null, false, true
            127 | 126 | 121 | 120 => Ok(()),
            // integer
            125 => self.var_i64("an integer"),
            // float32
            124 => self.take(4, "a float").map(|_| ()),
            // float64, bigint
            123 | 122 => self.take(8, "a number").map(|_| ()),
            // string
            119 => self.string("a string").map(|_| ()),
            // map: a key and a value per entry
            118 => {
                if depth >= MAX_ANY_DEPTH {
                    return Err(GuardError::TooDeep { at });
                }
                let len = self.count(64, 2, "a map length")?;
                for _ in 0..len {
                    self.string("a map key")?;
                    self.any(depth + 1)?;
                }
                Ok(())
            }
            // array
            117 => {
                if depth >= MAX_ANY_DEPTH {
                    return Err(GuardError::TooDeep { at });
                }
                let len = self.count(64, 1, "an array length")?;
                for _ in 0..len {
                    self.any(depth + 1)?;
                }
                Ok(())
            }
            // buffer
            116 => self.buf("a buffer").map(|_| ()),
            value => Err(GuardError::Unexpected { at, what: "value tag", value }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_mirror_yrs_widths() {
        let read = |bytes: &[u8], bits| Reader::new(bytes, |_, _| {}).var_uint(bits, "x");
        assert_eq!(read(&[0x00], 32), Ok(0));
        assert_eq!(read(&[0x7f], 32), Ok(127));
        assert_eq!(read(&[0x80, 0x01], 32), Ok(128));
        assert_eq!(read(&[0xff, 0xff, 0xff, 0xff, 0x0f], 32), Ok(u64::from(u32::MAX)));
        assert!(read(&[0xff, 0xff, 0xff, 0xff, 0x1f], 32).is_err(), "33 bits");
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(read(&max, 64), Ok(u64::MAX));
        assert!(read(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x03], 64).is_err());
        // zero padding up to the eleven bytes yrs reads
        assert_eq!(read(&[0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], 32), Ok(1));
        assert!(read(&[0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], 32).is_err());
        assert!(matches!(read(&[0x80], 32), Err(GuardError::Truncated { at: 1, .. })));
    }

    #[test]
    fn signed_varints_stop_at_63_bits() {
        let read = |bytes: &[u8]| Reader::new(bytes, |_, _| {}).var_i64("x");
        assert!(read(&[0x3f]).is_ok());
        assert!(read(&[0x7f]).is_ok());
        // i64::MAX: 6 + 8 * 7 = 62 bits, then one more
        let max = [0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert!(read(&max).is_ok());
        let min = [0xc0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02];
        assert!(read(&min).is_err(), "-2^63 would overflow when yrs negates it");
        let long = [0xc0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
        assert!(read(&long).is_err(), "yrs would shift past 64 bits");
    }
}
