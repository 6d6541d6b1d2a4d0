use pipeline_core::task;

#[task]
async fn fetch(url: &String) -> String {
    url.clone()
}

fn main() {}
