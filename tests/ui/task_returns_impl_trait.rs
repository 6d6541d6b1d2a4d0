use pipeline_core::task;

#[task]
fn evens(limit: &u32) -> impl Iterator<Item = u32> {
    (0..*limit).filter(|n| n % 2 == 0)
}

fn main() {}
