//! "Did you mean" suggestions for misspelt names.

/// The candidate closest to `name`, if it is close enough to be a likely typo:
/// at most one edit per three characters of `name` (at least one), where an
/// edit inserts, deletes or replaces a character or swaps two neighbours, and
/// case is ignored. Ties go to the earliest candidate.
///
/// ```
/// use pipeline_graph_rules::closest;
/// assert_eq!(closest("scael", ["scale", "describe"]), Some("scale"));
/// assert_eq!(closest("DATA_NODES", ["DATA_NODE", "TASK"]), Some("DATA_NODE"));
/// assert_eq!(closest("revenue", ["scored_df", "payment_threshold"]), None);
/// ```
pub fn closest<'c>(name: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let name: Vec<char> = name.to_lowercase().chars().collect();
    let limit = (name.len() / 3).max(1);
    candidates
        .into_iter()
        .map(|candidate| {
            let other: Vec<char> = candidate.to_lowercase().chars().collect();
            (edit_distance(&name, &other), candidate)
        })
        .filter(|&(distance, _)| distance <= limit)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

/// Optimal string alignment distance: Levenshtein plus adjacent transpositions.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    let mut rows = vec![0usize; (a.len() + 1) * width];
    let at = |i: usize, j: usize| i * width + j;
    for j in 0..=b.len() {
        rows[at(0, j)] = j;
    }
    for i in 1..=a.len() {
        rows[at(i, 0)] = i;
        for j in 1..=b.len() {
            let substitution = rows[at(i - 1, j - 1)] + usize::from(a[i - 1] != b[j - 1]);
            let mut best = substitution
                .min(rows[at(i - 1, j)] + 1)
                .min(rows[at(i, j - 1)] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[at(i - 2, j - 2)] + 1);
            }
            rows[at(i, j)] = best;
        }
    }
    rows[at(a.len(), b.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swapped_neighbours_count_as_one_edit() {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(edit_distance(&chars("tripel"), &chars("triple")), 1);
        assert_eq!(edit_distance(&chars("kitten"), &chars("sitting")), 3);
        assert_eq!(edit_distance(&chars(""), &chars("abc")), 3);
    }

    #[test]
    fn short_names_allow_one_edit_and_far_ones_none() {
        assert_eq!(closest("y", ["x"]), Some("x"));
        assert_eq!(closest("dubled", ["x", "doubled"]), Some("doubled"));
        assert_eq!(closest("zzz", ["inputs", "skippable"]), None);
        assert_eq!(
            closest("skipable", ["inputs", "skippable"]),
            Some("skippable")
        );
    }
}
