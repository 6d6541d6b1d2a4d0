use pipeline_core::task;

#[task(skippable)]
fn report(total: &f64) {
    println!("total: {total}");
}

fn main() {}
