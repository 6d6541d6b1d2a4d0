//! A group key that is one of two text labels chosen by a condition,
//! `when(p).then(lit("a")).otherwise(lit("b"))`, defined by the input's last
//! `with_columns`: the condition is evaluated instead of the key (one bit a
//! row instead of a 16-byte string view), and group ids come from it.
//!
//! A row where the condition is null takes the `otherwise` label, as polars
//! does (see `frame::labels`). Groups are numbered in order of first
//! appearance, like any key's.

use polars::prelude::*;
use polars_arrow::array::Array;
use polars_arrow::bitmap::Bitmap;
use polars_plan::utils::expr_to_leaf_column_names;

use super::groups::GroupIndex;
use crate::frame::{labels, pool};

/// The two labels of a key, and where its definition is in the plan.
pub(super) struct LabelKey {
    /// The label where the condition holds.
    then: PlSmallStr,
    /// The label elsewhere (also where the condition is null).
    otherwise: PlSmallStr,
}

impl LabelKey {
    /// If `by` is one column that `frame` defines as such a label choice,
    /// and none of `reading` (the other expressions evaluated over `frame`)
    /// reads that column, the key and `frame` with that column computed as
    /// the condition (`Boolean`, null as false) instead.
    pub(super) fn of(
        frame: &LazyFrame,
        by: &[Expr],
        reading: &[Expr],
    ) -> Option<(Self, LazyFrame)> {
        let [Expr::Column(name)] = by else {
            return None;
        };
        if reading
            .iter()
            .flat_map(expr_to_leaf_column_names)
            .any(|read| read == *name)
        {
            return None;
        }
        let (plan, choice) = labels::with_condition(&frame.logical_plan, name, &|holds| holds)?;
        let frame = LazyFrame::from(plan);
        let boolean = frame.clone().collect_schema().ok()?.get(name) == Some(&DataType::Boolean);
        let key = LabelKey {
            then: choice.then,
            otherwise: choice.otherwise,
        };
        boolean.then_some((key, frame))
    }

    /// The group of each row from its condition (`Boolean`, no nulls),
    /// numbering groups not seen before in order of first appearance.
    pub(super) fn assign(
        &self,
        index: &mut GroupIndex,
        condition: &Column,
    ) -> PolarsResult<Vec<u16>> {
        let condition = condition.bool()?;
        let first_true = condition.iter().position(|holds| holds == Some(true));
        let first_false = condition.iter().position(|holds| holds != Some(true));
        let mut ids = [0u16; 2];
        let mut order = [(first_true, true), (first_false, false)];
        order.sort_by_key(|(first, _)| first.unwrap_or(usize::MAX));
        for (first, holds) in order {
            if first.is_some() {
                let label = if holds { &self.then } else { &self.otherwise };
                ids[usize::from(holds)] =
                    index.group(vec![AnyValue::StringOwned(label.clone())])?;
            }
        }
        // The ids of each byte's eight rows.
        let table: Vec<[u16; 8]> = (0..256usize)
            .map(|byte| std::array::from_fn(|bit| ids[(byte >> bit) & 1]))
            .collect();
        // Zeroed by the system, so each page is first touched by the thread
        // filling it; pieces of the rows filled on all threads.
        let mut out = vec![0u16; condition.len()];
        let mut pieces: Vec<(Bitmap, &mut [u16])> = Vec::new();
        let mut rest = out.as_mut_slice();
        for array in condition.downcast_iter() {
            let holds = match array.validity().filter(|_| array.null_count() > 0) {
                None => array.values().clone(),
                Some(valid) => array.values() & valid,
            };
            for start in (0..holds.len()).step_by(PIECE_ROWS) {
                let len = PIECE_ROWS.min(holds.len() - start);
                let (piece, after) = std::mem::take(&mut rest).split_at_mut(len);
                pieces.push((holds.clone().sliced(start, len), piece));
                rest = after;
            }
        }
        pool::for_each_mut(&mut pieces, |_, (holds, out)| fill_ids(holds, &table, out));
        Ok(out)
    }
}

/// Rows of ids one thread fills at a time.
const PIECE_ROWS: usize = 1 << 20;

/// Writes the id of each bit of `holds` into `out` (as long), eight at a
/// time from `table` (the ids of each byte's bits; the id of a lone bit is
/// that of its byte alone).
fn fill_ids(holds: &Bitmap, table: &[[u16; 8]], out: &mut [u16]) {
    let words = holds.chunks::<u64>();
    let (rest, rest_len) = (words.remainder(), words.remainder_len());
    let mut at = 0;
    for word in words {
        for byte in word.to_le_bytes() {
            out[at..at + 8].copy_from_slice(&table[usize::from(byte)]);
            at += 8;
        }
    }
    for (bit, id) in out[at..at + rest_len].iter_mut().enumerate() {
        *id = table[((rest >> bit) & 1) as usize][0];
    }
}

/// The tests' label key: `segment` is "High" where `column` is above
/// `threshold`, else (also where it is null) "Low".
#[cfg(test)]
pub(super) fn segment(column: &str, threshold: f64) -> Expr {
    when(col(column).gt(lit(threshold)))
        .then(lit("High"))
        .otherwise(lit("Low"))
        .alias("segment")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::grouped_medians;
    use proptest::prelude::*;

    /// `rows` of (score, value) with nulls, and a key choosing a label from
    /// the score: through the label path, and the same key materialized
    /// first (so it takes the ordinary path).
    fn both(rows: &[(Option<f64>, Option<f64>)], threshold: f64) -> (DataFrame, DataFrame) {
        let (score, value): (Vec<_>, Vec<_>) = rows.iter().copied().unzip();
        let frame = df!("score" => score, "value" => value).unwrap();
        let key = segment("score", threshold);
        let by = [col("segment")];
        let columns = [col("value"), col("score")];
        let labelled = frame.clone().lazy().with_columns([key.clone()]);
        assert!(
            LabelKey::of(&labelled, &by, &columns).is_some(),
            "the label path applies"
        );
        let ours = grouped_medians(labelled, &by, &columns).unwrap();
        let materialized = frame.lazy().with_columns([key]).collect().unwrap().lazy();
        assert!(LabelKey::of(&materialized, &by, &columns).is_none());
        let theirs = grouped_medians(materialized, &by, &columns).unwrap();
        (ours, theirs)
    }

    proptest! {
        #[test]
        fn label_keys_group_as_the_materialized_key_does(
            rows in prop::collection::vec(
                (prop::option::weighted(0.9, -5.0f64..5.0), prop::option::weighted(0.9, -1e3f64..1e3)),
                0..200,
            ),
            threshold in -6.0f64..6.0,
        ) {
            let (ours, theirs) = both(&rows, threshold);
            prop_assert!(ours.equals_missing(&theirs), "ours:\n{ours}\ntheirs:\n{theirs}");
        }
    }

    #[test]
    fn groups_follow_first_appearance_and_a_null_condition_takes_otherwise() {
        let rows = [
            (Some(-1.0), Some(1.0)),
            (None, Some(5.0)),
            (Some(3.0), Some(7.0)),
        ];
        let (ours, theirs) = both(&rows, 0.0);
        assert_eq!(ours, theirs);
        let expected = df!(
            "segment" => ["Low", "High"],
            "value" => [3.0, 7.0],
            "score" => [Some(-1.0), Some(3.0)],
        )
        .unwrap();
        assert_eq!(ours, expected);
    }

    #[test]
    fn ids_over_several_pieces_and_chunks_follow_each_row() {
        // Chunks of odd lengths (bitmaps not starting on a byte), nulls, and
        // more rows than one piece holds.
        let rows = |len: usize, seed: usize| -> Vec<Option<bool>> {
            (0..len)
                .map(|i| match (i * 7 + seed) % 11 {
                    0 => None,
                    r => Some(r % 3 == 0),
                })
                .collect()
        };
        let mut condition = BooleanChunked::new("c".into(), rows(PIECE_ROWS + 77, 1));
        condition
            .append(&BooleanChunked::new("c".into(), rows(13, 2)))
            .unwrap();
        condition
            .append(&BooleanChunked::new(
                "c".into(),
                rows(PIECE_ROWS / 3 + 5, 3),
            ))
            .unwrap();
        assert_eq!(condition.chunks().len(), 3);
        let key = LabelKey {
            then: "High".into(),
            otherwise: "Low".into(),
        };
        let mut index = GroupIndex::new(1);
        let ids = key
            .assign(&mut index, &condition.clone().into_series().into_column())
            .unwrap();
        // The first row's condition is false: "Low" is group 0.
        let expected: Vec<u16> = condition
            .iter()
            .map(|holds| u16::from(holds == Some(true)))
            .collect();
        assert_eq!(ids.len(), expected.len());
        assert!(ids == expected, "ids differ from the rows' conditions");
    }

    #[test]
    fn a_condition_reading_a_replaced_column_is_not_a_label_key() {
        let frame = df!("score" => [1.0, 2.0]).unwrap().lazy().with_columns([
            (col("score") * lit(10.0)).alias("score"),
            segment("score", 1.5),
        ]);
        assert!(LabelKey::of(&frame, &[col("segment")], &[]).is_none());
    }
}
