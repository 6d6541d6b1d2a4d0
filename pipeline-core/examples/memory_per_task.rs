//! Prints the heap bytes per task held by a runtime after building a synthetic
//! graph, creating a scenario and submitting it once (all tasks run), then after
//! a second, fully skipped submission.
//!
//! `cargo run --release -p pipeline-core --example memory_per_task`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use pipeline_core::Runtime;
use pipeline_core::synthetic::{Shape, graph};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    println!("shape         tasks  bytes/task (1 run)  bytes/task (+1 skipped submit)");
    for shape in [Shape::Chain, Shape::FanOutFanIn] {
        for tasks in [1_000usize, 10_000, 100_000] {
            let base = LIVE.load(Ordering::Relaxed);
            let runtime = Runtime::in_memory();
            let scenario = runtime.create_scenario(graph(shape, tasks), "s").unwrap();
            let first = scenario.submit().unwrap();
            assert!(first.is_success());
            drop(first);
            let after_run = LIVE.load(Ordering::Relaxed) - base;
            let second = scenario.submit().unwrap();
            assert!(second.is_success());
            drop(second);
            let after_skip = LIVE.load(Ordering::Relaxed) - base;
            println!(
                "{:<12} {:>7}  {:>18.0}  {:>30.0}",
                format!("{shape:?}"),
                tasks,
                after_run as f64 / tasks as f64,
                after_skip as f64 / tasks as f64
            );
            drop(scenario);
            drop(runtime);
        }
    }
}
