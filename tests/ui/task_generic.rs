use pipeline_core::task;

#[task]
fn sum<T: Copy + std::iter::Sum<T>>(values: &Vec<T>) -> T {
    values.iter().copied().sum()
}

fn main() {}
