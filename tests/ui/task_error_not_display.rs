use pipeline_core::task;

#[derive(Debug)]
struct Invalid;

#[task]
fn parse(text: &String) -> Result<i64, Invalid> {
    text.parse().map_err(|_| Invalid)
}

fn main() {}
