//! Group ids: the groups of the key columns' rows numbered in order of
//! first appearance, across batches.

use std::collections::HashMap;

use polars::prelude::*;
use polars_arrow::array::Array;

/// Group × column pairs at most (each holds a 512 KiB histogram in the
/// first pass).
pub(super) const MAX_PAIRS: usize = 1024;
/// The start of the error for too many groups.
pub(super) const TOO_MANY_GROUPS: &str =
    "bounded-memory medians take at most so many group x column pairs";

/// The groups seen so far and their keys.
pub(super) struct GroupIndex {
    /// Median columns: each group costs this many pairs.
    columns: usize,
    index: HashMap<Vec<AnyValue<'static>>, u16>,
    keys: Vec<Vec<AnyValue<'static>>>,
}

impl GroupIndex {
    /// No groups yet, for medians of `columns` columns.
    pub(super) fn new(columns: usize) -> Self {
        Self {
            columns,
            index: HashMap::new(),
            keys: Vec::new(),
        }
    }

    /// The number of groups seen.
    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The group id of each row of `keys` (the key columns of some rows),
    /// numbering groups not seen before in order of first appearance.
    ///
    /// # Errors
    /// More groups than [`MAX_PAIRS`] allows.
    pub(super) fn assign(&mut self, keys: &DataFrame) -> PolarsResult<Vec<u16>> {
        if let [key] = keys.columns()
            && let Ok(strings) = key.str()
        {
            return self.assign_strings(strings);
        }
        let mut ids = vec![0u16; keys.height()];
        let names: Vec<PlSmallStr> = keys.get_column_names_owned();
        let grouped = keys.group_by_stable(names)?;
        for indicator in grouped.get_groups().iter() {
            let first = match indicator {
                GroupsIndicator::Idx((first, _)) => first,
                GroupsIndicator::Slice([first, _]) => first,
            };
            let row = keys.get_row(first as usize)?.0;
            let id = self.group(row.into_iter().map(AnyValue::into_static).collect())?;
            match indicator {
                GroupsIndicator::Idx((_, rows)) => {
                    rows.iter().for_each(|&row| ids[row as usize] = id);
                }
                GroupsIndicator::Slice([first, len]) => {
                    ids[first as usize..(first + len) as usize].fill(id);
                }
            }
        }
        Ok(ids)
    }

    /// [`Self::assign`] for one string key, row by row: equal views (16
    /// bytes each, the whole string when short) are equal strings, so a
    /// few groups are found without hashing each row's string.
    fn assign_strings(&mut self, strings: &StringChunked) -> PolarsResult<Vec<u16>> {
        let mut ids = Vec::with_capacity(strings.len());
        // Views seen and their groups (a few: rows of many distinct views
        // are looked up by their string).
        let mut seen: Vec<(u128, u16)> = Vec::new();
        let mut null_group = None;
        for array in strings.downcast_iter() {
            let validity = array.validity().filter(|_| array.null_count() > 0);
            for (i, view) in array.views().iter().enumerate() {
                if validity.is_some_and(|valid| !valid.get_bit(i)) {
                    let id = match null_group {
                        Some(id) => id,
                        None => *null_group.insert(self.group(vec![AnyValue::Null])?),
                    };
                    ids.push(id);
                    continue;
                }
                let view = view.as_u128();
                let id = match seen.iter().find(|(v, _)| *v == view) {
                    Some(&(_, id)) => id,
                    None => {
                        let key = AnyValue::String(array.value(i)).into_static();
                        let id = self.group(vec![key])?;
                        if seen.len() < 64 {
                            seen.push((view, id));
                        }
                        id
                    }
                };
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// The id of the group with these keys, new if first seen.
    pub(super) fn group(&mut self, keys: Vec<AnyValue<'static>>) -> PolarsResult<u16> {
        if let Some(&id) = self.index.get(&keys) {
            return Ok(id);
        }
        let id = self.keys.len();
        polars_ensure!(
            id < u16::MAX as usize && (id + 1) * self.columns <= MAX_PAIRS,
            ComputeError: "{TOO_MANY_GROUPS} ({MAX_PAIRS}); this query has more"
        );
        self.index.insert(keys.clone(), id as u16);
        self.keys.push(keys);
        Ok(id as u16)
    }

    /// The key columns, one row per group in id order, named and typed by `schema`.
    pub(super) fn key_columns(&self, schema: &Schema) -> PolarsResult<Vec<Column>> {
        schema
            .iter()
            .enumerate()
            .map(|(k, (name, dtype))| {
                let values: Vec<AnyValue> = self.keys.iter().map(|row| row[k].clone()).collect();
                Ok(
                    Series::from_any_values_and_dtype(name.clone(), &values, dtype, true)?
                        .into_column(),
                )
            })
            .collect()
    }
}
