use pipeline_core::scenario;

mod steps {
    pub struct Double;
}

scenario! {
    struct Doubling {
        data {
            x: i64 = 21,
            doubled: i64,
        }
        tasks {
            steps::Double(x) -> doubled,
        }
    }
}

fn main() {}
