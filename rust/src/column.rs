//! A borrowed column of strings: one UTF-8 data buffer and `n + 1` offsets (Arrow's layout).

use std::fmt;

/// Why a buffer pair is not a valid string column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnError {
    /// The offsets buffer is empty or its byte length is not a multiple of 8.
    BadOffsets(String),
    /// Row `row` is not valid UTF-8.
    InvalidUtf8 { row: usize },
}

impl fmt::Display for ColumnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnError::BadOffsets(why) => write!(f, "bad offsets buffer: {why}"),
            ColumnError::InvalidUtf8 { row } => write!(f, "row {row} is not valid UTF-8"),
        }
    }
}

impl std::error::Error for ColumnError {}

/// `n` strings stored back to back in `data`; row `i` is `data[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, Clone, Copy)]
pub struct StrColumn<'a> {
    data: &'a [u8],
    offsets: &'a [i64],
}

impl<'a> StrColumn<'a> {
    /// Checks the offsets (monotone, in bounds) and that every row is valid UTF-8.
    pub fn new(data: &'a [u8], offsets: &'a [i64]) -> Result<Self, ColumnError> {
        if offsets.is_empty() {
            return Err(ColumnError::BadOffsets("needs at least one offset".into()));
        }
        for (i, pair) in offsets.windows(2).enumerate() {
            if pair[0] < 0 || pair[1] < pair[0] || pair[1] as usize > data.len() {
                return Err(ColumnError::BadOffsets(format!(
                    "row {i}: offsets {}..{} outside a buffer of {} bytes",
                    pair[0],
                    pair[1],
                    data.len()
                )));
            }
        }
        let col = StrColumn { data, offsets };
        // Every row is UTF-8 when the rows' span is and each row starts and ends on a character
        // boundary; one bulk check is much faster than one per short row. Else find the bad row.
        let span = &data[offsets[0] as usize..offsets[offsets.len() - 1] as usize];
        let boundary = |o: i64| data.get(o as usize).is_none_or(|&b| !(0x80..0xC0).contains(&b));
        if simdutf8::basic::from_utf8(span).is_err() || !offsets.iter().all(|&o| boundary(o)) {
            for row in 0..col.len() {
                std::str::from_utf8(col.bytes(row)).map_err(|_| ColumnError::InvalidUtf8 { row })?;
            }
        }
        Ok(col)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The raw bytes of row `i`.
    pub fn bytes(&self, i: usize) -> &'a [u8] {
        &self.data[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// Row `i` as text (validated in [`StrColumn::new`]).
    pub fn get(&self, i: usize) -> &'a str {
        // SAFETY: every row was checked to be UTF-8 when the column was built.
        unsafe { std::str::from_utf8_unchecked(self.bytes(i)) }
    }
}

/// Owned buffers for building a [`StrColumn`] in tests and benchmarks.
#[derive(Debug, Default, Clone)]
pub struct OwnedColumn {
    pub data: Vec<u8>,
    pub offsets: Vec<i64>,
}

impl OwnedColumn {
    pub fn from_strs<S: AsRef<str>>(rows: &[S]) -> Self {
        let mut col = OwnedColumn { data: Vec::new(), offsets: vec![0] };
        for row in rows {
            col.push(row.as_ref());
        }
        col
    }

    /// Rows built from text (`from_strs`, `push`) need no validation.
    pub fn view(&self) -> StrColumn<'_> {
        StrColumn { data: &self.data, offsets: &self.offsets }
    }

    /// Appends a row.
    pub fn push(&mut self, row: &str) {
        self.data.extend_from_slice(row.as_bytes());
        self.offsets.push(self.data.len() as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip() {
        let owned = OwnedColumn::from_strs(&["a", "", "日本語"]);
        let col = owned.view();
        assert_eq!(col.len(), 3);
        assert_eq!(col.get(0), "a");
        assert_eq!(col.get(1), "");
        assert_eq!(col.get(2), "日本語");
    }

    #[test]
    fn rejects_invalid_utf8_naming_the_row() {
        let data = [b'o', b'k', 0xff];
        let offsets = [0i64, 2, 3];
        assert_eq!(
            StrColumn::new(&data, &offsets).unwrap_err(),
            ColumnError::InvalidUtf8 { row: 1 }
        );
    }

    #[test]
    fn rejects_a_row_cut_inside_a_character() {
        // "日" is 3 bytes; rows 0..1 and 1..3 are each invalid though the whole buffer is UTF-8.
        let data = "日".as_bytes();
        assert_eq!(StrColumn::new(data, &[0, 1, 3]).unwrap_err(), ColumnError::InvalidUtf8 { row: 0 });
        assert!(StrColumn::new(data, &[0, 3]).is_ok());
    }

    #[test]
    fn rejects_offsets_out_of_bounds() {
        let data = b"abc";
        assert!(matches!(
            StrColumn::new(data, &[0, 5]),
            Err(ColumnError::BadOffsets(_))
        ));
        assert!(matches!(
            StrColumn::new(data, &[]),
            Err(ColumnError::BadOffsets(_))
        ));
    }
}
