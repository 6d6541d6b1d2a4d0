use pipeline_core::task;

struct Steps;

impl Steps {
    #[task]
    fn double(x: &i64) -> i64 {
        x * 2
    }
}

fn main() {}
